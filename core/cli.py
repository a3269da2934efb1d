"""Command line: python -m core {tickers,data,train,compare,runs,sweep}.

Everything is validated before anything is written, a user error is one line on stderr
with exit status 2, and heavy modules (TensorFlow) load only when a run really trains, so
a cache hit answers in well under two seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from typing import Any

from core import cli_memory
from core.cells import CELLS
from core.config import FEATURES, OPTIMIZERS, SOURCES, TARGETS, RunSpec, check_run_id, flag, run_id
from core.errors import UserError
from core.fmt import plain as _fmt
from core.jobs import check_env
from core.runs import ACTIVE, RunStore, budget_from_env

REPORTED = ("rmse", "mae", "mape", "directional_accuracy", "naive_rmse", "skill")
VERDICT = ("direction_baseline", "direction_p_value", "dm_vs_naive", "verdict_vs_naive")


class Parser(argparse.ArgumentParser):
    """argparse that raises UserError (one line, exit 2) instead of printing usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # prog is "python -m core" for the top parser, "python -m core train" for a command
        raise UserError(f"{message} (see {self.prog} --help)")


def _data_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ticker", default=None, help="ticker symbol, e.g. ^GSPC (default)")
    # a CSV is --csv PATH (its source follows); the others by name
    p.add_argument("--source", choices=[s for s in SOURCES if s != "csv"], default="sample")
    p.add_argument("--csv", default=None, help="path to a CSV with a date and a close column")
    p.add_argument("--start", default=None, help="first date, e.g. 2010-01-04")
    p.add_argument("--end", default=None, help="last date, e.g. 2015-12-31")
    p.add_argument("--json", action="store_true", help="one JSON object on the last stdout line")


# Each numeric setting's flag: range, default and type from core.config, like the forms'.
_RANGED = {"--lookback": "lookback", "--layers": "layers", "--units": "units"}
_RANGED |= {"--dropout": "dropout", "--epochs": "epochs", "--batch-size": "batch_size"}
_RANGED |= {"--lr": "learning_rate", "--clipnorm": "clipnorm", "--patience": "patience"}
_RANGED |= {"--seed": "seed"}


def _spec_flags(p: argparse.ArgumentParser) -> None:
    _data_flags(p)
    add = p.add_argument
    add("--features", default=None, help=f"comma list of {', '.join(FEATURES)}")
    add("--target", default=None, help=f"{' or '.join(TARGETS)}, default {RunSpec().data.target}")
    add(
        "--optimizer",
        default=None,
        help=f"{', '.join(OPTIMIZERS)}, default {RunSpec().train.optimizer}",
    )
    for name, setting in _RANGED.items():
        add(name, **flag(setting))
    cli_memory.add_task_flags(p)


def build_parser() -> Parser:
    parser = Parser(prog="python -m core", description="Gradient Lab command line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("tickers", help="bundled sample tickers")
    _data_flags(sub.add_parser("data", help="load prices and describe them"))
    train = sub.add_parser("train", help="train one run in the foreground (or reuse it)")
    _spec_flags(train)
    train.add_argument(
        "--cell", default=None, help=f"{', '.join(CELLS)}, default {RunSpec().model.cell}"
    )
    compare = sub.add_parser("compare", help="cells x seeds (x walk-forward folds), judged")
    _spec_flags(compare)
    from core.cli_compare import add_flags  # the command's logic lives in its own module

    add_flags(compare)
    runs = sub.add_parser("runs", help="list, show or remove stored runs")
    runs.add_argument("action", choices=("list", "show", "rm"))
    runs.add_argument("run_id", nargs="?", default=None)
    runs.add_argument("--json", action="store_true")
    from core import cli_sweep  # its own module: sweep logic stays out of this file

    cli_sweep.add_parser(sub, _spec_flags)
    return parser


# ---- data and specs ------------------------------------------------------------------


def load_data(args: argparse.Namespace) -> tuple[Any, str, str | None]:
    """(prices, source, csv sha256) from --ticker/--source/--csv/--start/--end."""
    from core import data

    if args.source == "task":
        raise UserError("a memory task has no prices: use train or compare with --source task")
    if args.csv is not None:
        from core.data_csv import read_csv_file  # checks the file before reading a byte

        raw = read_csv_file(args.csv)
        prices = data.load_prices(
            "csv", args.ticker or "CSV", csv=raw, start=args.start, end=args.end
        )
        return prices, "csv", hashlib.sha256(raw).hexdigest()
    prices = data.load_prices(args.source, args.ticker or "^GSPC", start=args.start, end=args.end)
    return prices, args.source, None


def spec_from_args(args: argparse.Namespace, source: str, csv_sha: str | None) -> RunSpec:
    names: tuple[str, ...] = ("target", "lookback", "layers", "units", "dropout", "epochs")
    names += ("batch_size",)
    names += ("learning_rate", "optimizer", "clipnorm", "patience", "seed", "start", "end")
    changes = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if getattr(args, "cell", None) is not None:
        changes["cell"] = args.cell
    if args.features is not None:
        changes["features"] = tuple(f.strip() for f in args.features.split(",") if f.strip())
    changes.update(source=source, ticker=args.ticker or ("CSV" if source == "csv" else "^GSPC"))
    changes["csv_sha256"] = csv_sha
    changes.update(cli_memory.task_changes(args, source))
    return RunSpec().replace(**changes).validate()


def _prepared(args: argparse.Namespace) -> tuple[RunSpec, Any]:
    """Validate every setting, then load and check the data; nothing is written yet."""
    source = "csv" if args.csv is not None else args.source
    if source == "task":  # generated from the spec: nothing to load
        return spec_from_args(args, "task", None), None
    # Settings first (a placeholder hash for a CSV): a bad --epochs never touches the data.
    spec_from_args(args, source, "0" * 64 if source == "csv" else None)
    prices, source, csv_sha = load_data(args)
    return spec_from_args(args, source, csv_sha), prices


# ---- commands ------------------------------------------------------------------------


def _emit(obj: dict, lines: list[str], as_json: bool) -> None:
    if as_json:
        from core.finite import json_safe  # an infinite metric is null, never invalid JSON

        print(json.dumps(json_safe(obj), default=str, allow_nan=False))
    else:
        print("\n".join(lines))


def cmd_tickers(args: argparse.Namespace) -> int:
    from core import data

    print("\n".join(data.bundled_tickers()))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    prices, source, _ = load_data(args)
    notes = list(prices.attrs.get("notes", []))
    first = prices.index[0].date().isoformat() if len(prices) else None
    last = prices.index[-1].date().isoformat() if len(prices) else None
    info: dict[str, Any] = {"rows": len(prices), "start": first, "end": last}
    info["columns"] = list(prices.columns)
    info.update(source=prices.attrs.get("source", source), ticker=prices.attrs.get("ticker"))
    info["notes"] = notes
    lines = [f"{info['ticker']}: {info['rows']} rows, {first} .. {last}"]
    lines += [f"columns: {', '.join(info['columns'])}", f"source: {info['source']}"]
    lines += [f"note: {n}" for n in notes]
    _emit(info, lines, args.json)
    return 0


def train_one(store: RunStore, spec: RunSpec, prices: Any, log: Any) -> tuple[str, bool]:
    """Train spec in this process under the run lock, or reuse the finished run."""
    from core.jobs import check

    fp = check(spec, prices)
    rid = run_id(spec, fp)
    with store.lock(rid):
        if store.is_complete(rid):
            store.touch(rid)
            return rid, True
        if store.run_dir(rid).exists() and store.status(rid).get("state") in ACTIVE:
            raise UserError(
                f"run {rid} is already queued or training in the background: "
                f"wait for it (python -m core runs show {rid}) or cancel it"
            )
        if prices is not None:  # a memory task has none
            store.save_prices(prices, fp)
        store.create(spec, fp, pid=os.getpid())
        from core import worker  # lazy: the cache hit above never gets here

        worker.execute(store, rid, log)
    return rid, False


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_result(store: RunStore, rid: str, cached: bool) -> dict[str, Any]:
    st, summary = store.status(rid), store.summary(rid) or {}
    spec = store.spec(rid)
    metrics = summary.get("metrics") or {}
    if metrics and "verdict_vs_naive" not in metrics:  # stored before the verdicts existed
        from core.evaluation import with_verdicts

        metrics = with_verdicts(metrics, store.predictions(rid))
    out: dict[str, Any] = {"run_id": rid, "state": st.get("state"), "cached": cached}
    out["cell"] = spec.model.cell
    out["metrics"] = {k: metrics.get(k) for k in REPORTED + VERDICT}
    for key in ("epochs_run", "train_seconds", "samples_per_second", "device", "params"):
        out[key] = summary.get(key)
    out.update(error=st.get("error"), run_dir=str(store.run_dir(rid)))
    out.update(cli_memory.run_words(store, rid, dict(summary)))  # memory_horizon, words
    return out


def cmd_train(args: argparse.Namespace) -> int:
    spec, prices = _prepared(args)
    store = RunStore()
    rid, cached = train_one(store, spec, prices, _stderr)
    out = run_result(store, rid, cached)
    lines = [f"run {rid} ({out['cell']}): {out['state']}{' (cached)' if cached else ''}"]
    lines += [f"  {k}: {_fmt(v)}" for k, v in out["metrics"].items()]
    lines += [f"  {k}: {_fmt(out[k])}" for k in ("epochs_run", "train_seconds", "device")]
    lines += [f"  memory_horizon: {_fmt(out['memory_horizon'])}"] + [
        f"  - {w}" for w in out["words"]
    ]
    if out["error"]:
        lines.append(f"  error: {out['error']}")
    _emit(out, lines + [f"  run_dir: {out['run_dir']}"], args.json)
    return 0 if out["state"] == "done" else 1


def cmd_runs(args: argparse.Namespace) -> int:
    store = RunStore()
    if args.action == "list":
        rows: list[dict[str, Any]] = [dict(r) for r in store.list_runs()]
        cols: tuple[str, ...] = ("run_id", "ticker", "cell", "layers", "units", "lookback")
        cols += ("seed", "state", "rmse", "skill", "memory_horizon", "size_bytes", "damaged")
        lines = ["  ".join(cols)] + ["  ".join(_fmt(r[c]) for c in cols) for r in rows]
        print(json.dumps(rows, default=str) if args.json else "\n".join(lines))
        return 0
    if args.run_id is None:
        raise UserError(f"runs {args.action} needs a run id: pick one from `runs list`")
    rid = check_run_id(args.run_id)
    if not store.run_dir(rid).exists():
        raise UserError(f"there is no run {rid}: pick one from `runs list`")
    if args.action == "rm":
        store.delete(rid)
        print(f"removed run {rid}")
        return 0
    store.touch(rid)
    shown = {"run_id": rid, "status": store.status(rid), "summary": store.summary(rid)}
    try:
        shown["spec"] = store.read_json(rid, "spec.json")
    except ValueError:  # hand-edited: still show the rest, and say what to do
        shown["spec"] = None
        shown["damaged"] = f"spec.json is unreadable: remove the run (runs rm {rid}) and retrain"
    text = json.dumps(shown, default=str, indent=None if args.json else 1)
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command in ("train", "compare", "runs", "sweep"):
            budget_from_env()  # a malformed GRADLAB_CACHE_BUDGET_MB: one line now, not later
            check_env()  # GRADLAB_WORKERS=0 and the like: before a run folder is written
        handlers = {"tickers": cmd_tickers, "data": cmd_data, "train": cmd_train}
        from core.cli_compare import cmd_compare

        handlers.update(compare=cmd_compare, runs=cmd_runs)
        from core.cli_sweep import cmd_sweep

        handlers["sweep"] = cmd_sweep
        return handlers[args.command](args)
    except UserError as exc:
        _stderr(f"error: {' '.join(str(exc).split())}")
        return 2
    except KeyboardInterrupt:
        _stderr("interrupted")
        return 130
    except Exception as exc:  # our bug, still one line for the person at the terminal
        _stderr(f"internal error: {type(exc).__name__}: {exc}")
        return 1
