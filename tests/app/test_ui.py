"""Shared UI helpers: echoed user text is shown literally, never as markup."""

from streamlit.testing.v1 import AppTest

from core.record_rows import ListingView
from pages.lib.ui import plain, run_label, run_name


def test_plain_defuses_links_html_latex_and_autolinks():
    shown = plain("[click](http://evil.example) <img src=x> $x$ `code` *em*")
    assert "\\[click\\]" in shown
    assert "://" not in shown  # no bare autolink
    assert "\\<img" in shown and "\\$x\\$" in shown and "\\`code\\`" in shown


def test_error_shows_a_hostile_run_id_as_text():
    at = AppTest.from_string(
        "from core.errors import UserError\n"
        "from pages.lib.ui import show_error\n"
        "show_error(UserError('[x](http://evil.example) is not a run id'))\n"
    ).run()
    assert not at.exception
    body = at.error[0].value
    assert body.startswith("\\[x\\]") and "http:\\/\\/evil" in body


def test_run_label_reads_a_listing_row_through_its_view():
    raw = {"run_id": "3f2a9c1b00112233", "state": "done", "cell": "gru", "layers": 2}
    raw |= {"units": 32, "ticker": "^GSPC", "seed": 0, "skill": 0.0123, "damaged": False}
    raw["period"] = {"first": "2010-02-01", "last": "2018-12-31"}
    row = ListingView.of(raw)
    assert (
        run_label(row)
        == "GRU 2×32 · ^GSPC · Feb 2010 – Dec 2018 · seed 0 (done, skill +0.012, 3f2a9c1b)"
    )
    assert run_name(row, with_data=False) == "GRU 2×32 · seed 0"
    odd = ListingView.of({"run_id": "ab", "state": "exploded", "skill": "high", "units": "32"})
    assert run_label(odd) == "? · ? (exploded, ab)"
    assert run_label(ListingView.of({"run_id": "cd", "damaged": True})) == "? · ? (damaged, cd)"
