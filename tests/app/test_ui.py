"""Shared UI helpers: echoed user text is shown literally, never as markup."""

from streamlit.testing.v1 import AppTest

from pages.lib.ui import plain


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
