"""Walk-forward (rolling-origin) folds: K consecutive, non-overlapping test periods at the
end of the data, each with a model trained and validated only on the days before it.

Fold k's run is an ordinary run: its prices are the rows up to the end of its test period
(nothing later exists for it) and its spec sets ``end`` to that day and ``test_frac`` so
that make_dataset's chronological split puts exactly the fold's days in the test split;
scaling is then fitted on that fold's training rows, as for any run. The same plan on the
same data gives the same specs and prices, hence the same run ids: a repeated walk-forward
comparison is a cache hit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.config import FOLDS, RunSpec
from core.dataset import MIN_WINDOWS, split_bounds
from core.errors import DataError, UserError

if TYPE_CHECKING:
    import pandas as pd

MAX_FOLDS = int(FOLDS.hi)
MAX_TEST_FRAC = 0.4  # DataSpec.test_frac's upper bound
MIN_TEST_FRAC = 0.05  # and its lower one


@dataclass(frozen=True)
class Fold:
    index: int  # 0 = oldest
    test_start: str  # first target day of the test period, ISO
    test_end: str  # last target day, ISO
    spec: RunSpec  # the base spec with end and test_frac of this fold (cell/seed unchanged)
    prices: pd.DataFrame  # rows up to test_end only


def _iso(ts: pd.Timestamp) -> str:
    return ts.date().isoformat()


def plan_folds(
    prices: pd.DataFrame, spec: RunSpec, k: int, fold_days: int | None = None
) -> list[Fold]:
    """K folds, oldest first; each test period has fold_days target days (default: the test
    split an ordinary run on these prices would have). UserError, with what to change, when
    K < 2, a test period is too short, or the data before a fold is too short for training."""
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= MAX_FOLDS:
        raise UserError(
            f"walk-forward needs between 2 and {MAX_FOLDS} folds, got {k!r}: "
            "use --folds 2 or more (1 fold is the ordinary single test split)"
        )
    full = split_bounds(prices, spec.data)  # the ordinary layout: DataError if too short
    index = prices.index
    first_target = index.get_loc(full["train"][0])
    if fold_days is None:
        fold_days = index.get_loc(full["test"][1]) - index.get_loc(full["test"][0]) + 1
    need = max(MIN_WINDOWS["test"], spec.data.horizon)
    if fold_days < need:
        raise UserError(
            f"each fold's test period needs at least {need} days to score a "
            f"{spec.data.horizon}-day-ahead forecast, got {fold_days}: use --fold-days {need} or more"
        )
    return [_fold(prices, spec, k, j, fold_days, int(first_target)) for j in range(k)]


def _fold(
    prices: pd.DataFrame, spec: RunSpec, k: int, j: int, days: int, first_target: int
) -> Fold:
    rows = len(prices) - (k - 1 - j) * days  # the fold sees nothing after its test period
    windows = rows - first_target
    where = f"fold {j + 1} of {k}"
    test_frac = days / windows if windows > 0 else 1.0
    if test_frac > MAX_TEST_FRAC:
        raise UserError(
            f"{where} has too little data before its test period ({windows - days} days for "
            f"{days} test days) for lookback {spec.data.lookback}: use fewer folds, a shorter "
            "lookback or an earlier start date"
        )
    if test_frac < MIN_TEST_FRAC:
        raise UserError(
            f"{where}: a test period of {days} days is under {MIN_TEST_FRAC:.0%} of the "
            f"{windows} days up to it: use more days per fold or a later start date"
        )
    sub = prices.iloc[:rows]
    fold_spec = spec.replace(end=_iso(sub.index[-1]), test_frac=test_frac).validate()
    try:
        bounds = split_bounds(sub, fold_spec.data)
    except DataError as exc:
        raise UserError(f"{where} is too short for lookback {spec.data.lookback}: {exc}") from None
    start, end = _iso(bounds["test"][0]), _iso(bounds["test"][1])
    if (start, end) != (_iso(sub.index[rows - days]), _iso(sub.index[-1])):
        raise UserError(f"{where} does not split as planned: report this with your settings")
    return Fold(j, start, end, fold_spec, sub)
