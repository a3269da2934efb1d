"""Compare page on fake runs already in the store: no training, a verdict and a table."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.fakes import make_run

APP = Path(__file__).resolve().parents[2] / "app.py"


def open_compare() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    return at.switch_page("pages/compare.py").run()


def test_empty_store_explains_what_to_do(store_root):
    at = open_compare()
    assert not at.exception
    infos = " ".join(i.value for i in at.info)
    assert "No finished runs yet" in infos and "Run a comparison above" in infos


def test_two_seeds_per_cell_from_the_store(store_root):
    ids = {(c, s): make_run(store_root, cell=c, seed=s) for c in ("lstm", "gru") for s in (0, 1)}
    make_run(store_root, cell="lstm", seed=0, epochs=3)  # other settings: a group of its own
    at = open_compare()
    groups = at.selectbox(key="compare_group").options
    assert len(groups) == 2
    four = next(g for g in groups if g.endswith("4 runs"))
    assert "LSTM, GRU" in four
    at.selectbox(key="compare_group").set_value(four)
    at.button(key="compare_stored").click().run()
    assert not at.exception
    assert sorted(at.session_state["compare_run_ids"]) == sorted(ids.values())

    table = at.dataframe[0].value.set_index("cell")
    assert list(table.index) == ["LSTM", "GRU", "naive (tomorrow = today)"]
    assert (table.loc[["LSTM", "GRU"], "seeds"] == "2").all()
    assert " ± " in table.loc["LSTM", "RMSE (price)"]
    assert table.loc["LSTM", "parameters"] == "4513"

    verdict = [m.value for m in at.markdown if m.value.startswith("**LSTM vs GRU:**")]
    assert len(verdict) == 1
    assert "better at the 5% level" in verdict[0] or "no significant difference" in verdict[0]
    assert any("fewer than 3 seeds" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 3  # val-loss band, gradients through time, overlay


def test_one_cell_says_pick_two(store_root):
    make_run(store_root, cell="gru", seed=0)
    at = open_compare()
    at.button(key="compare_stored").click().run()
    assert not at.exception
    assert any("pick two or more cells" in i.value for i in at.info)
