"""Optional login (st.login) and run ownership, with a fake identity (no network).

Login is on when the secrets have an [auth] section; AppTest's `user` plays the identity
provider's answer. Runs record who submitted them; delete and cancel are allowed to the
owner or an address in GRADLAB_ADMINS, and to everyone when login is off.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import owners
from core.procs import process_identity
from core.runs import RunStore
from tests.fakes import make_run

APP = Path(__file__).resolve().parents[2] / "app.py"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-only-cookie-secret",
    "client_id": "gradlab",
    "client_secret": "test-only",
    "server_metadata_url": "https://id.example.com/.well-known/openid-configuration",
}


@pytest.fixture(autouse=True)
def nobody_acting():
    owners.acting_as(None, login=False)
    yield
    owners.acting_as(None, login=False)


def run_of(store_root, owner: str | None, seed: int) -> str:
    owners.acting_as(owner, login=owner is not None)
    try:
        return make_run(store_root, cell="lstm", seed=seed)
    finally:
        owners.acting_as(None, login=False)


def app_as(user: dict | None, page: str = "pages/runs.py") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["auth"] = AUTH
    if user is not None:
        at.user = user
    at.run()
    return at.switch_page(page).run()


def delete(at: AppTest, run_id: str) -> AppTest:
    order = list(at.dataframe[0].value["id"])
    key = at.dataframe[0].key
    rows = [order.index(run_id)]
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    at.button(key="runs_delete").click().run()
    return at


def test_a_run_records_who_submitted_it(store_root):
    rid = run_of(store_root, "Alice@Example.com", 0)
    assert RunStore(store_root).owner(rid) == "alice@example.com"
    assert RunStore(store_root).owner(make_run(store_root, seed=1)) is None  # login off


def test_signed_out_visitors_see_only_the_sign_in(store_root):
    make_run(store_root)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False}
    at.run()  # the router (app.py) runs first on every page in a real server
    assert not at.exception
    assert [b.key for b in at.button] == ["login"]
    assert not at.dataframe and not at.get("plotly_chart")


def test_a_signed_out_session_cannot_delete_even_by_a_direct_page_run(store_root):
    bobs = run_of(store_root, "bob@example.com", 1)
    at = delete(app_as({"is_logged_in": False}), bobs)
    assert any("belongs to bob@example.com" in e.value for e in at.error)
    assert RunStore(store_root).run_ids() == [bobs]


def test_only_the_owner_or_an_admin_may_delete(store_root, monkeypatch):
    alices = run_of(store_root, "alice@example.com", 0)
    bobs = run_of(store_root, "bob@example.com", 1)
    alice = {"is_logged_in": True, "email": "alice@example.com", "name": "Alice"}
    at = delete(app_as(alice), bobs)
    assert not at.exception
    assert any("belongs to bob@example.com" in e.value for e in at.error)
    assert bobs in RunStore(store_root).run_ids()
    at = delete(app_as(alice), alices)
    assert RunStore(store_root).run_ids() == [bobs]
    monkeypatch.setenv("GRADLAB_ADMINS", "carol@example.com")
    carol = {"is_logged_in": True, "email": "carol@example.com"}
    at = delete(app_as(carol), bobs)
    assert not at.exception and RunStore(store_root).run_ids() == []


def test_with_login_off_everyone_may_delete(store_root):
    bobs = run_of(store_root, "bob@example.com", 1)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at = delete(at.switch_page("pages/runs.py").run(), bobs)
    assert not at.exception and RunStore(store_root).run_ids() == []


def test_the_train_page_cancel_refuses_someone_elses_run(store_root):
    bobs = run_of(store_root, "bob@example.com", 2)
    RunStore(store_root).write_status(bobs, state="queued", **process_identity())
    alice = {"is_logged_in": True, "email": "alice@example.com"}
    at = app_as(alice, page="pages/train.py")
    at.session_state["train_run_id"] = bobs
    at.run()
    assert [b for b in at.button if b.key == "train_cancel"]
    at.button(key="train_cancel").click().run()
    assert any("belongs to someone else" in e.value for e in at.error)
    assert RunStore(store_root).status(bobs)["state"] == "queued"
