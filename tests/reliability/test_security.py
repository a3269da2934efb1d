"""Security: no path from user text, no code from a model file, no pickle, bounded uploads,
no user text rendered as HTML."""

from __future__ import annotations

import ast
import os
import re
import tomllib
from pathlib import Path

import pytest

from core import cli, data, data_csv
from core.config import DataSpec, check_run_id
from core.errors import SpecError, UserError
from core.runs import RunStore

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = [
    "../../etc/passwd",
    "..",
    "/etc/passwd",
    "0123456789abcdef/../../x",
    "../0123456789abcdef",
    "0123456789abcde\x00",
    "0123456789abcdef\n",
    "~root",
    "C:\\Windows\\system32",
    "%2e%2e%2f",
    "",
    "0123456789ABCDEF",
    "0123456789abcdef0",
]


@pytest.mark.parametrize("value", HOSTILE, ids=[repr(v)[:30] for v in HOSTILE])
def test_hostile_run_ids_never_become_paths(value, store_root):
    store = RunStore(store_root)
    with pytest.raises(SpecError):
        check_run_id(value)
    for method in (store.run_dir, store.metrics, store.delete, store.lock):
        with pytest.raises(SpecError):
            method(value)
    assert store.status(value)["state"] == "failed"  # read as unreadable, no path built
    with pytest.raises(SpecError):
        store.read_json(value, "spec.json")
    assert sorted(p.name for p in store_root.iterdir()) == []  # nothing created anywhere


def test_a_valid_id_stays_inside_the_store(store_root):
    path = RunStore(store_root).run_dir("0123456789abcdef")
    assert path.parent == store_root.resolve()


TICKERS = ["^GSPC", "BRK-B", "EURUSD=X", "aapl", "../../etc/passwd", "a/b", "..", "x" * 500]


@pytest.mark.parametrize("ticker", TICKERS, ids=[t[:20] for t in TICKERS])
def test_yahoo_cache_name_is_a_hash_inside_the_cache(ticker, tmp_path):
    path = data._cache_path(tmp_path, ticker)
    assert path.parent == tmp_path
    assert re.fullmatch(r"[0-9a-f]{32}\.parquet", path.name)


@pytest.mark.parametrize("ticker", ["../../etc/passwd", "a/b", "..", ".", "x" * 500, "a b", ""])
def test_hostile_tickers_are_refused_before_any_download(ticker, tmp_path, monkeypatch):
    import yfinance

    calls = []
    monkeypatch.setattr(yfinance, "download", lambda *a, **k: calls.append(a))
    with pytest.raises(UserError, match="not a ticker symbol"):
        data.load_prices("yahoo", ticker, cache_dir=tmp_path / "cache")
    assert calls == []
    with pytest.raises(SpecError, match="ticker"):
        DataSpec(source="yahoo", ticker=ticker).validate()
    assert not (tmp_path / "cache").exists()


def test_worker_entry_never_creates_folders_outside_the_store(tmp_path, capsys):
    from core import worker

    outside = tmp_path / "elsewhere"
    assert worker.main([str(outside / "0123456789abcdef")]) == 2
    assert worker.main([str(tmp_path / "etc")]) == 2
    assert not outside.exists()
    assert len(capsys.readouterr().err.strip().splitlines()) == 2
    assert cli.main(["train", "--run-dir", str(outside)]) == 2  # no hidden worker flag left


@pytest.mark.slow
def test_model_file_with_a_lambda_layer_is_refused(tmp_path, monkeypatch):
    import keras

    from core import training

    marker = str(tmp_path / "pwned")

    # What an attacker's Lambda runs (saved as bytecode, so no closure): writes a marker file.
    monkeypatch.setenv("GRADLAB_TEST_MARKER", marker)
    payload = lambda x: (  # noqa: E731
        open(__import__("os").environ["GRADLAB_TEST_MARKER"], "w").close(),  # noqa: SIM115
        x * 2.0,
    )[1]
    inputs = keras.Input((5, 1))
    hidden = keras.layers.Lambda(payload, name="evil")(inputs)  # building runs it once
    evil = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(hidden)))
    evil.save(tmp_path / "evil.keras")
    os.remove(marker)
    with pytest.raises(UserError, match="could not be loaded"):
        training.load_model(tmp_path / "evil.keras")
    assert not os.path.exists(marker)  # the payload never ran
    # The marker can appear: an unsafe load runs the payload (so the check above can fail).
    keras.saving.load_model(tmp_path / "evil.keras", safe_mode=False, compile=False)
    assert os.path.exists(marker)
    # The refusal is about the Lambda, not about loading as such: a plain model loads.
    plain = keras.Sequential([keras.Input((5, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    plain.save(tmp_path / "plain.keras")
    assert training.load_model(tmp_path / "plain.keras").count_params() == 6


UNSAFE = [
    (r"^\s*(import|from)\s+(pickle|cPickle|_pickle|dill|cloudpickle|joblib|shelve|marshal)\b", ""),
    (r"allow_pickle\s*=\s*True", ""),
    (r"\b(read_pickle|to_pickle)\s*\(", ""),
    (r"safe_mode\s*=\s*False", ""),
    (r"\b(eval|exec)\s*\(", ""),
]


def _code_files() -> list[Path]:
    files = [ROOT / "app.py", *ROOT.glob("core/*.py"), *ROOT.glob("pages/**/*.py")]
    files += [*ROOT.glob("bench/**/*.py"), *ROOT.glob("data/*.py"), *ROOT.glob("tests/**/*.py")]
    return [f for f in files if f.resolve() != Path(__file__).resolve()]


def test_no_pickle_and_no_eval_anywhere():
    hits = []
    for path in _code_files():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            hits += [
                f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
                for p, _ in UNSAFE
                if re.search(p, line)
            ]
    assert len(_code_files()) > 20 and hits == []


def test_np_load_never_allows_pickles():
    """numpy refuses pickles by default; an allow_pickle argument may only say False."""
    calls = 0
    for path in _code_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("np.load"):
                calls += 1
                kw = {k.arg: k.value for k in node.keywords}
                assert None not in kw, f"{path}: **kwargs could carry allow_pickle=True"
                assert "allow_pickle" not in kw or _constant_false(kw["allow_pickle"]), path
    assert calls >= 1  # core.runs reads probe.npz: the walk does find the calls


def test_uploads_are_size_limited():
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert 0 < server["maxUploadSize"] <= 50  # MB, enforced by Streamlit before our code runs
    assert data_csv.MAX_CSV_BYTES <= 50 * 2**20  # core's own limit, for the CLI and the API
    # Train and Compare check an upload against core's own limit (shared pages/lib/sources.py).
    assert "from core.data_csv import MAX_CSV_BYTES" in (ROOT / "pages/lib/sources.py").read_text()
    with pytest.raises(UserError, match="larger than"):
        data.load_prices("csv", "CSV", csv=b"x" * (data_csv.MAX_CSV_BYTES + 1))


def _constant_text(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) or (
        isinstance(node, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in node.values)
    )


def test_no_user_text_rendered_as_html():
    """unsafe_allow_html=True, st.html and components.html only ever get constant strings."""
    offenders = []
    for path in [ROOT / "app.py", *ROOT.glob("pages/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            unsafe = any(
                k.arg == "unsafe_allow_html" and not _constant_false(k.value) for k in node.keywords
            )
            html = unsafe or name.endswith(("st.html", "components.html", "components.iframe"))
            if html and not (node.args and all(_constant_text(a) for a in node.args)):
                offenders.append(f"{path.name}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert offenders == []


def _constant_false(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is False
