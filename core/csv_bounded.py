"""Parse an uploaded CSV in a child process with its own memory and time budget.

Parsing a large CSV in the Streamlit server cost 1.1 GB and 33 s for 44 MB and stalled every
other visitor (pandas holds the GIL). Here the parse runs in a fresh `python -m
core.csv_bounded` with an address-space limit (GRADLAB_UPLOAD_MEMORY_MB) and a wall-clock
limit (GRADLAB_UPLOAD_TIMEOUT_S): the server only waits on a pipe, its memory never grows by
the parse, and a file too large to parse is one clear message. The child answers with a small
JSON header (notes or the user error) and the prices as parquet; no pickle.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.budget import env_count
from core.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MEMORY_MB = 2048  # imports take ~400 MB of address space; 50 MB of CSV fits easily
DEFAULT_TIMEOUT_S = 120


def budget() -> tuple[int, int]:
    """(memory MB, timeout s) for one parse."""
    memory = env_count("GRADLAB_UPLOAD_MEMORY_MB", DEFAULT_MEMORY_MB)
    return memory, env_count("GRADLAB_UPLOAD_TIMEOUT_S", DEFAULT_TIMEOUT_S)


def parse_bounded(raw: bytes) -> pd.DataFrame:
    """core.data.load_prices("csv", csv=raw), parsed in a child process within budget()."""
    import pandas as pd

    memory_mb, timeout_s = budget()
    too_big = (
        f"the CSV could not be parsed within {memory_mb} MB of memory and {timeout_s} s: "
        "upload daily prices only (date, close, …) or trim it to the dates you need"
    )
    try:
        out = subprocess.run(
            [sys.executable, "-m", "core.csv_bounded", str(memory_mb)],
            input=raw, capture_output=True, timeout=timeout_s, cwd=REPO_ROOT, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise DataError(too_big) from None
    if out.returncode != 0 or len(out.stdout) < 8:
        raise DataError(too_big)  # killed by its memory limit, or a MemoryError
    (size,) = struct.unpack("<Q", out.stdout[:8])
    header = json.loads(out.stdout[8 : 8 + size])
    if header.get("error"):
        raise DataError(header["error"])
    df = pd.read_parquet(io.BytesIO(out.stdout[8 + size :]))
    df.attrs = header["attrs"]
    return df


def _child(memory_mb: int) -> int:
    import resource

    limit = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from core import data  # after the limit: imports count toward it too

    raw = sys.stdin.buffer.read()
    header: dict[str, Any]
    try:
        df = data.load_prices(source="csv", csv=raw)
    except DataError as exc:
        header, body = {"error": str(exc)}, b""
    else:
        attrs = {k: df.attrs.get(k) for k in ("source", "ticker")}
        attrs["notes"] = list(df.attrs.get("notes", []))
        df.attrs = {}
        buf = io.BytesIO()
        df.to_parquet(buf)
        header, body = {"attrs": attrs}, buf.getvalue()
    text = json.dumps(header).encode()
    sys.stdout.buffer.write(struct.pack("<Q", len(text)) + text + body)
    return 0


if __name__ == "__main__":
    sys.exit(_child(int(sys.argv[1])))
