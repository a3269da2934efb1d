"""python -m core {tickers,data,train,compare,runs}: see core/cli.py."""

from core.cli import main

raise SystemExit(main())
