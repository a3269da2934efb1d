"""DNS rebinding (issue 14, item 11): a WebSocket with a foreign Host is refused.

A real `streamlit run app.py` with the repository's .streamlit/config.toml; the upgrade
request is written by hand on a socket, exactly as the attack did it (a foreign Host with a
matching Origin), and once more with the app's own name, which must still be accepted.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _upgrade(port: int, host: str) -> str:
    """The status line the server answers a WebSocket upgrade for `host` with."""
    request = (
        f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Origin: http://{host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: streamlit\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request.encode())
        return s.recv(4096).decode(errors="replace").split("\r\n")[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    env = {**os.environ, "MODELS_CACHE": str(tmp_path_factory.mktemp("store"))}
    env.update(CUDA_VISIBLE_DEVICES="", STREAMLIT_SERVER_HEADLESS="true")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(240):  # up to a minute on a busy machine; a wait, not a timing assert
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.25)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_foreign_host_cannot_open_the_websocket(server):
    assert " 101 " not in _upgrade(server, "attacker.example") + " "


def test_the_configured_names_still_can(server):
    assert " 101 " in _upgrade(server, "localhost") + " "
    assert " 101 " in _upgrade(server, "127.0.0.1") + " "
