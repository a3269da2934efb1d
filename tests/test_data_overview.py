"""Home's weekly closes, saved beside the bundled parquet: never stale, same picture."""

import json

import pytest

from core import data, overview, plots
from core.errors import DataError

LABEL = "S&P 500 (^GSPC), bundled data: weekly closes"


def test_the_saved_overview_is_what_the_parquet_gives_now():
    # Fails whenever gspc.parquet changes without `python data/build_data.py` rerun.
    saved = json.loads(overview.overview_path("^GSPC").read_text())
    assert saved == overview.build_overview("^GSPC")
    assert (saved["rows"], saved["first"], saved["last"]) == (5031, "1999-01-04", "2018-12-31")


def test_home_draws_the_same_svg_as_from_the_parquet():
    prices = data.load_prices(source="sample", ticker="^GSPC")
    weekly = plots.weekly_closes(data.price_series(prices))
    from_parquet = plots.price_svg(weekly.index, weekly.to_numpy(), LABEL)
    saved = overview.load_overview("^GSPC")
    assert plots.price_svg(saved["dates"], saved["closes"], LABEL) == from_parquet
    assert len(saved["closes"]) == len(weekly) < len(prices) / 4


def test_write_overview_round_trips(tmp_path, monkeypatch):
    monkeypatch.setattr(overview, "DATA_DIR", tmp_path)
    path = overview.write_overview("^GSPC")
    assert path.parent == tmp_path and not list(tmp_path.glob(".tmp-*"))
    assert overview.load_overview("^GSPC") == overview.build_overview("^GSPC")


def test_a_missing_file_is_built_from_the_parquet(tmp_path, monkeypatch):
    monkeypatch.setattr(overview, "DATA_DIR", tmp_path)
    assert overview.load_overview("^GSPC")["rows"] == 5031


@pytest.mark.parametrize("text", ["{not json", '{"ticker": "AAPL"}', "[]", "\udcff"])
def test_a_damaged_file_is_a_data_error_saying_how_to_rebuild(tmp_path, monkeypatch, text):
    monkeypatch.setattr(overview, "DATA_DIR", tmp_path)
    overview.overview_path("^GSPC").write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(DataError, match="damaged: rebuild it with python data/build_data.py"):
        overview.load_overview("^GSPC")


def test_only_bundled_overviews_exist():
    with pytest.raises(DataError, match="no overview of 'AAPL'"):
        overview.load_overview("AAPL")
