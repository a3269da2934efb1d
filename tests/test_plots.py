"""Figures: right traces, log axes where the scale spans decades, and no crash on empty input."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from core import plotkit, plots
from core.runs import RunStore
from tests.fakes import fake_prices, make_run


@pytest.fixture
def run(store_root):
    """(metrics rows, gradients through time, predictions) of one fake finished GRU run."""
    store = RunStore(store_root)
    rid = make_run(store_root, cell="gru", epochs=4, T=8)
    return store.metrics(rid), store.gradients_through_time(rid), store.predictions(rid)


def _names(fig: go.Figure) -> list[str]:
    return [t.name for t in fig.data]


def _is_empty(fig: go.Figure) -> bool:
    texts = [a.text for a in fig.layout.annotations]
    return isinstance(fig, go.Figure) and not fig.data and plots.NO_DATA in texts[0]


def test_cell_names_are_the_keras_spellings():
    assert [plots.cell_name(c) for c in ("lstm", "GRU", "rnn", "x")] == [
        "LSTM", "GRU", "SimpleRNN", "x",
    ]  # fmt: skip


def test_cell_colors_are_distinct_and_cover_every_cell():
    assert set(plots.CELL_COLORS) == {"lstm", "gru", "rnn"}
    assert len(set(plots.CELL_COLORS.values())) == 3
    assert set(plots.SPLIT_COLORS) == {"train", "val", "test"}


EMPTY_CALLS = {
    "price_chart": lambda: plots.price_chart(pd.Series(dtype=float)),
    "predictions_chart": lambda: plots.predictions_chart(pd.DataFrame()),
    "loss_chart": lambda: plots.loss_chart([]),
    "grad_norm_chart": lambda: plots.grad_norm_chart([{"epoch": 1}]),
    "gtt_heatmap": lambda: plots.gtt_heatmap({}),
    "gtt_lines": lambda: plots.gtt_lines({}),
    "spectral_chart": lambda: plots.spectral_chart([]),
    "residual_hist": lambda: plots.residual_hist(None),
    "val_loss_band": lambda: plots.val_loss_band({"lstm": [[], []]}),
    "predictions_overlay": lambda: plots.predictions_overlay({}),
    "theory_power_chart": lambda: plots.theory_power_chart({}),
    "theory_tanh_chart": lambda: plots.theory_tanh_chart({"w": []}),
}


@pytest.mark.parametrize("name", sorted(EMPTY_CALLS))
def test_empty_input_gives_a_no_data_figure(name):
    assert _is_empty(EMPTY_CALLS[name]())


def test_price_chart_shades_each_split_and_has_a_range_slider():
    prices = fake_prices()["close"]
    bounds = {
        "train": (prices.index[0], prices.index[150]),
        "test": (prices.index[200], prices.index[-1]),
    }
    fig = plots.price_chart(prices, bounds)
    assert len(fig.data) == 1 and len(fig.data[0].y) == len(prices)
    assert [s.fillcolor for s in fig.layout.shapes] == [
        plots.SPLIT_COLORS["train"],
        plots.SPLIT_COLORS["test"],
    ]
    assert fig.layout.xaxis.rangeslider.visible
    assert fig.layout.paper_bgcolor == "rgba(0,0,0,0)"


@pytest.mark.parametrize("position", ["top left", "bottom left", "top right"])
def test_split_shading_draws_what_plotlys_add_vrect_draws(position):
    """shade_splits writes its bands out rather than calling add_vrect (for speed): the
    layout must be the one add_vrect gives, shapes and labels alike, beside an existing one."""
    prices = fake_prices()["close"]
    bounds = {
        "train": (prices.index[0], prices.index[150]),
        "test": (prices.index[200], prices.index[-1]),
    }
    ours, oracle = plotkit.base_figure("t"), plotkit.base_figure("t")
    for fig in (ours, oracle):
        fig.add_annotation(text="already here", x=0.5, y=0.5, xref="paper", yref="paper")
    plotkit.shade_splits(ours, bounds, {"test": "test split"}, position=position)
    for name, (x0, x1) in bounds.items():
        oracle.add_vrect(
            x0=x0, x1=x1, fillcolor=plots.SPLIT_COLORS[name], opacity=plotkit.SPLIT_OPACITY,
            line_width=0, layer="below", annotation_text={"test": "test split"}.get(name, name),
            annotation_position=position,
        )  # fmt: skip
    assert ours.layout.to_plotly_json() == oracle.layout.to_plotly_json()
    assert len(ours.layout.shapes) == 2 and len(ours.layout.annotations) == 3


def test_base_figure_is_the_layout_the_update_calls_gave():
    """base_figure hands one layout to the constructor; the updates it replaced are the
    oracle, with and without a log axis."""
    for log_y in (False, True):
        old = go.Figure()
        old.update_layout(
            title=dict(text="T", x=0, xref="paper", y=1, yref="container", yanchor="top"),
            title_pad=dict(t=10), paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
            margin=dict(l=10, r=10, t=plotkit.TOP, b=10), hovermode="x unified",
            legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="right", x=1),
        )  # fmt: skip
        old.update_xaxes(title_text="x")
        old.update_yaxes(title_text="y")
        if log_y:
            old.update_yaxes(type="log", exponentformat="power")
        new = plotkit.base_figure("T", "x", "y", log_y=log_y)
        assert new.layout.to_plotly_json() == old.layout.to_plotly_json()


def test_predictions_chart_shows_actual_predicted_naive_and_three_splits(run):
    _, _, pred = run
    fig = plots.predictions_chart(pred, color=plots.CELL_COLORS["gru"])
    assert _names(fig) == ["actual", "naive (yesterday)", "predicted"]
    assert fig.data[2].line.color == plots.CELL_COLORS["gru"]
    assert len(fig.layout.shapes) == 3
    assert [a.text for a in fig.layout.annotations] == ["train", "val", "test"]  # short: daily
    assert len(fig.data[0].x) == len(pred)


def _long_predictions(n: int = 5000) -> pd.DataFrame:
    dates = pd.bdate_range("2000-01-03", periods=n)
    price = 1000 + np.cumsum(np.random.default_rng(0).normal(0, 5, n))
    split = np.where(
        np.arange(n) < 0.7 * n, "train", np.where(np.arange(n) < 0.85 * n, "val", "test")
    )
    return pd.DataFrame(
        {"date": dates, "split": split, "actual_price": price, "predicted_price": price + 1.0,
         "naive_price": np.r_[price[0], price[:-1]]}
    )  # fmt: skip


def test_predictions_chart_opens_on_test_and_thins_only_a_long_train_split():
    pred = _long_predictions()
    fig = plots.predictions_chart(pred)
    test = pred[pred["split"] == "test"]
    end = test["date"].max()
    start = end - pd.Timedelta(days=91)
    zoom = test[test["date"] >= start]  # the opening view: model and naive apart
    assert list(fig.layout.xaxis.range) == [f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"]
    lo, hi = fig.layout.yaxis.range
    assert lo < zoom["actual_price"].min() and hi > zoom["predicted_price"].max()
    assert hi - lo < 1.2 * (zoom["predicted_price"].max() - zoom["actual_price"].min())
    assert not fig.layout.xaxis.rangeslider.visible  # it would draw every line twice
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["last 3 months", "test", "val + test", "all"]
    whole = [f"{test['date'].min():%Y-%m-%d}", f"{end:%Y-%m-%d}"]
    assert list(buttons[1].args[0]["xaxis.range"]) == whole
    x = pd.to_datetime(pd.Series(fig.data[0].x))
    n_train = int((pred["split"] == "train").sum())
    kept_train = int((x <= pred.loc[n_train - 1, "date"]).sum())
    assert kept_train == len(range(0, n_train, 5)) + 1  # every 5th day and the last
    assert len(x) - kept_train == len(pred) - n_train  # val and test: every day
    assert fig.layout.annotations[0].text == "train (every 5th day)"
    y = np.asarray(fig.data[2].y)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y[-len(test) :], test["predicted_price"], rtol=1e-6)


def test_price_chart_weekly_keeps_each_weeks_last_close():
    prices = fake_prices(n=60)["close"]
    fig = plots.price_chart(prices, weekly=True)
    x = pd.to_datetime(pd.Series(fig.data[0].x))
    assert len(x) == prices.index.to_period("W-FRI").nunique()
    np.testing.assert_allclose(fig.data[0].y, prices.loc[x].to_numpy(), rtol=1e-6)
    assert (x.dt.dayofweek == 4).sum() >= len(x) - 1  # business days: Fridays, bar the last
    assert fig.layout.margin.t < plots.loss_chart([{"epoch": 1}]).layout.margin.t  # no legend row


def test_titles_sit_above_the_legend_and_epoch_axes_are_whole_numbers(run):
    rows, gtt, _ = run
    for fig in (plots.loss_chart(rows), plots.grad_norm_chart(rows), plots.spectral_chart(rows)):
        assert fig.layout.title.yref == "container" and fig.layout.title.y == 1
        assert fig.layout.legend.yanchor == "bottom" and fig.layout.legend.y > 1
        assert fig.layout.margin.t >= 60  # room for the title's line and the legend's row
        assert fig.layout.xaxis.dtick == 1 and fig.layout.xaxis.tickformat == "d"
    assert plots.gtt_heatmap(gtt).layout.yaxis.dtick == 1
    many = [{"epoch": e, "loss": 1.0, "val_loss": 1.0} for e in range(1, 61)]
    assert plots.loss_chart(many).layout.xaxis.dtick == 10


def test_every_line_has_a_legend_entry_and_each_layer_one_colour_on_every_chart(run):
    rows, _, _ = run
    for fig in (plots.grad_norm_chart(rows), plots.spectral_chart(rows)):
        shown = [t for t in fig.data if t.showlegend is not False]
        dotted = [t for t in fig.data if t.line.dash == "dot"]
        keys = [t for t in shown if t.line.dash == "dot"]
        assert len(keys) == 1 and keys[0].x == (None,)  # one legend key for the dotted style
        assert {t.legendgroup for t in dotted} == {keys[0].legendgroup}  # it toggles them
        for t in fig.data:
            layer = t.name.split()[0]
            if t.x != (None,):
                assert t.line.color == plots.layer_color(layer)
    assert len({plots.layer_color(n) for n in ("global", "head", "rnn_0", "rnn_1", "rnn_2")}) == 5


def test_simple_rnn_spectral_chart_has_no_gate_key():
    rows = [{"epoch": e, "spectral_radius": {"rnn_0": 0.9}} for e in (1, 2)]
    assert [t.name for t in plots.spectral_chart(rows).data] == ["rnn_0"]


def test_log_axes_are_labelled_at_decades_in_powers_of_ten(run):
    rows, gtt, _ = run
    norms = plots.grad_norm_chart(rows).layout.yaxis
    assert norms.tickmode == "array" and norms.exponentformat == "power"
    assert all(t.startswith("10") or "×10" in t for t in norms.ticktext)
    assert not any(p in t for t in norms.ticktext for p in "μnpfk")  # no SI prefixes
    wide = plots.gtt_lines({"rnn": ([1, 1e-3, 1e-6, 1e-9], "rnn")}).layout.yaxis
    assert list(wide.ticktext) == ["10⁻⁹", "10⁻⁸", "10⁻⁷", "10⁻⁶", "10⁻⁵", "10⁻⁴",
                                   "10⁻³", "10⁻²", "10⁻¹", "10⁰"]  # fmt: skip
    narrow = plots.loss_chart([{"epoch": 1, "loss": 0.0019, "val_loss": 0.0042}]).layout.yaxis
    assert list(narrow.ticktext) == ["2×10⁻³"]  # within one decade: 2× and 5× marks only
    heat = plots.gtt_heatmap(gtt).data[0].colorbar
    assert all(t.startswith("10") and "<sup>" not in t for t in heat.ticktext)


def test_loss_chart_is_log_and_drops_non_positive_values(run):
    rows, _, _ = run
    fig = plots.loss_chart(
        rows + [{"epoch": 5, "loss": 0.0, "val_loss": float("nan")}], color="#123456"
    )
    assert fig.layout.yaxis.type == "log"
    assert _names(fig) == ["train loss", "val loss"]
    assert fig.data[0].line.color == "#123456"
    assert np.isnan(fig.data[0].y[-1]) and np.isnan(fig.data[1].y[-1])


def test_grad_norm_chart_has_mean_and_max_per_layer_global_first(run):
    rows, _, _ = run
    fig = plots.grad_norm_chart(rows)
    assert fig.layout.yaxis.type == "log"
    assert _names(fig) == [
        "global",
        "global max",
        "head",
        "head max",
        "rnn_0",
        "rnn_0 max",
        "max per epoch",
    ]
    assert fig.data[1].line.dash == "dot"
    assert np.all(np.asarray(fig.data[1].y) >= np.asarray(fig.data[0].y))


def test_gtt_heatmap_plots_log10_with_power_of_ten_colourbar(run):
    _, gtt, _ = run
    fig = plots.gtt_heatmap(gtt)
    heat = fig.data[0]
    np.testing.assert_allclose(heat.z, np.log10(np.asarray(gtt["norms"])))
    assert list(heat.x) == gtt["lags"] and list(heat.y) == gtt["epochs"]
    assert all(t.startswith("10") for t in heat.colorbar.ticktext)
    assert fig.layout.yaxis.title.text == "epoch (0 = before training)"
    assert len(heat.colorbar.tickvals) == len(heat.colorbar.ticktext)


def test_gtt_heatmap_with_only_zeros_says_so():
    fig = plots.gtt_heatmap({"lags": [0, 1], "epochs": [1], "norms": [[0.0, 0.0]]})
    assert not fig.data and "zero" in fig.layout.annotations[0].text


def test_gtt_lines_colour_by_cell_and_vary_dash_within_a_cell():
    series = {
        "lstm s0": ([1, 0.5, 0.25], "lstm"),
        "lstm s1": ([1, 0.6, 0.3], "lstm"),
        "rnn": ([1, 0.1, 0.01], "rnn"),
    }
    fig = plots.gtt_lines(series)
    assert fig.layout.yaxis.type == "log"
    assert [t.line.color for t in fig.data] == [plots.CELL_COLORS["lstm"]] * 2 + [
        plots.CELL_COLORS["rnn"]
    ]
    assert fig.data[0].line.dash != fig.data[1].line.dash
    assert list(fig.data[2].x) == [0, 1, 2]


def test_spectral_chart_one_line_per_layer_dotted_per_gate_and_a_rho_one_line(run):
    rows, _, _ = run
    rows[0]["spectral_radius"]["rnn_0"] = None  # a non-finite kernel is stored as null
    fig = plots.spectral_chart(rows)
    assert _names(fig) == [
        "rnn_0", "rnn_0 h gate", "rnn_0 r gate", "rnn_0 z gate", "gate blocks",
    ]  # fmt: skip
    assert np.isnan(fig.data[0].y[0])
    assert [t.line.dash for t in fig.data[1:]] == ["dot"] * 4
    assert fig.layout.shapes[0].y0 == 1.0 and fig.layout.shapes[0].line.dash == "dash"


def test_spectral_chart_without_gate_blocks_has_one_line_per_layer():
    rows = [{"epoch": e, "spectral_radius": {"rnn_0": 0.9, "rnn_1": 1.1}} for e in (1, 2)]
    assert _names(plots.spectral_chart(rows)) == ["rnn_0", "rnn_1"]


def test_residual_hist_model_and_naive_on_the_chosen_split(run):
    _, _, pred = run
    fig = plots.residual_hist(pred, "val")
    n_val = int((pred["split"] == "val").sum())
    assert _names(fig) == ["model", "naive"] and len(fig.data[0].x) == n_val
    assert _is_empty(plots.residual_hist(pred, "nonexistent"))


def test_val_loss_band_mean_and_std_over_seeds_with_early_stopping():
    seeds = [[{"val_loss": v} for v in vals] for vals in ([1.0, 0.5, 0.25], [3.0, 1.5])]
    fig = plots.val_loss_band({"gru": seeds})
    assert fig.layout.yaxis.type == "log"
    upper, lower, mean = fig.data
    np.testing.assert_allclose(mean.y, [2.0, 1.0, 0.25])
    np.testing.assert_allclose(upper.y, [3.0, 1.5, 0.25])
    np.testing.assert_allclose(lower.y, [1.0, 0.5, 0.25])
    assert mean.name == "GRU (n=2)" and mean.line.color == plots.CELL_COLORS["gru"]
    assert lower.fill == "tonexty"
    assert fig.layout.xaxis.dtick == 1  # numpy epochs get whole-number ticks too


def test_predictions_overlay_actual_once_then_one_line_per_run(store_root):
    store = RunStore(store_root)
    a = store.predictions(make_run(store_root, cell="lstm", seed=0))
    b = store.predictions(make_run(store_root, cell="gru", seed=0))
    fig = plots.predictions_overlay({"LSTM": (a, "lstm"), "GRU": (b, "gru"), "none": (None, "rnn")})
    assert _names(fig) == ["actual", "LSTM", "GRU"]
    assert len(fig.data[1].x) == int((a["split"] == "test").sum())
    assert fig.data[2].line.color == plots.CELL_COLORS["gru"]


def test_theory_charts_are_log_scaled_lines():
    power = plots.theory_power_chart(
        {"ρ = 0.9": 0.9 ** np.arange(5), "ρ = 1.1": 1.1 ** np.arange(5)}
    )
    tanh = plots.theory_tanh_chart({"w = 0.5": 0.5 ** np.arange(5)})
    assert power.layout.yaxis.type == tanh.layout.yaxis.type == "log"
    assert _names(power) == ["ρ = 0.9", "ρ = 1.1"] and len(tanh.data) == 1
    np.testing.assert_allclose(power.data[1].y, 1.1 ** np.arange(5))


def test_price_svg_is_a_static_chart_of_every_finite_point():
    prices = fake_prices(n=600)["close"]
    prices.iloc[5] = np.nan  # dropped, not drawn as a gap to zero
    svg = plots.price_svg(prices.index, prices.to_numpy(), "S&P <500> & co")
    root = ET.fromstring(svg)  # well-formed: the label is escaped
    ns = "{http://www.w3.org/2000/svg}"
    assert root.find(f"{ns}title").text == "S&P <500> & co"
    (line,) = root.iter(f"{ns}polyline")
    points = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
    assert len(points) == 599
    xs, ys = np.array(points).T
    width, height = map(float, root.get("viewBox").split()[2:])
    assert np.all(np.diff(xs) > 0) and xs.min() >= 0 and xs.max() <= width
    assert ys.min() >= 0 and ys.max() <= height
    # higher price, higher on screen (smaller y)
    assert np.argmin(ys) == int(np.nanargmax(prices.dropna().to_numpy()))
    labels = [t.text for t in root.iter(f"{ns}text")]
    assert "2016" in labels and "2017" in labels  # years of the 2015-2017 series
    assert any(label.replace(",", "").isdigit() for label in labels)  # price ticks


def test_price_svg_needs_two_points_and_ticks_are_round():
    with pytest.raises(ValueError, match="at least two"):
        plots.price_svg(pd.bdate_range("2020-01-01", periods=3), [1.0, np.nan, np.nan], "x")
    assert plotkit.nice_ticks(700.0, 2900.0).tolist() == [1000.0, 1500.0, 2000.0, 2500.0]


def test_skill_chart_one_bar_per_scored_run_coloured_by_cell_beside_the_naive_line():
    rows = [
        {"cell": "lstm", "skill": 0.02, "label": "LSTM a"},
        {"cell": "gru", "skill": -0.01, "label": "GRU b"},
        {"cell": "rnn", "skill": None, "label": "not finished"},
    ]
    fig = plots.skill_chart(rows)
    (bar,) = fig.data
    assert list(bar.y) == ["LSTM a", "GRU b"] and list(bar.x) == [0.02, -0.01]
    assert list(bar.marker.color) == [plots.cell_color("lstm"), plots.cell_color("gru")]
    (line,) = fig.layout.shapes
    assert line.x0 == line.x1 == 0 and fig.layout.annotations[0].text == "naive"
    assert fig.layout.yaxis.autorange == "reversed"
    assert fig.layout.yaxis.type == "category"  # a numeric y axis draws no bar at a label
    lo, hi = fig.layout.xaxis.range
    assert lo < -0.01 and hi > 0.02  # every bar inside the axis
    assert "No finished runs" in plots.skill_chart(rows[2:]).layout.annotations[0].text


def test_the_best_epoch_label_sits_inside_the_plot_clear_of_the_legend_row():
    import plotly.graph_objects as go

    from core.plots_compare import mark_epoch

    fig = mark_epoch(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 2, 3])), 2)
    (label,) = fig.layout.annotations
    assert label.text == "best epoch 2" and label.y == 0  # the legend row is above y = 1


def test_compare_error_panels_write_the_loss_gap_in_powers_of_ten():
    import numpy as np
    import pandas as pd

    from core.plots_compare import error_panels

    idx = pd.bdate_range("2020-01-01", periods=30, name="date")
    r = np.linspace(-0.01, 0.01, 30)
    fc = pd.DataFrame({"actual_return": r, "predicted_return": r / 2, "actual_price": 100 + r,
                       "predicted_price": 100 + r / 2, "naive_price": 100.0}, index=idx)  # fmt: skip
    fig = error_panels({"lstm": fc, "gru": fc})
    gap_axes = [ax for name, ax in fig.layout.to_plotly_json().items()
                if name.startswith("yaxis") and ax.get("title", {}).get("text") == "Σ loss gap"]  # fmt: skip
    assert len(gap_axes) == 2 and all(ax["exponentformat"] == "power" for ax in gap_axes)


SPANS = {  # every way the charts call plotkit.spanning, beside the plotly call it stands for
    "best epoch": (
        ("vline", 3, "best epoch 3", "bottom right"),
        dict(x=3, annotation_text="best epoch 3", annotation_position="bottom right"),
    ),
    "best epoch, y": (
        ("hline", 3, "best epoch 3", "right"),
        dict(y=3, annotation_text="best epoch 3", annotation_position="right"),
    ),
    "rho = 1": (("hline", 1.0, "ρ = 1", None), dict(y=1.0, annotation_text="ρ = 1")),
    "naive": (("vline", 0, "naive", None), dict(x=0, annotation_text="naive")),
    "zero, unlabelled": (("hline", 0, None, None), dict(y=0)),
}


@pytest.mark.parametrize("case", sorted(SPANS))
def test_spanning_lines_are_what_plotlys_add_vline_and_add_hline_draw(case):
    (kind, at, text, position), plotly_args = SPANS[case]
    line = {"color": plotkit.NEUTRAL, "dash": "dot", "width": 1}
    ours, oracle = (go.Figure(go.Scatter(x=[0, 5], y=[0.5, 4])) for _ in range(2))
    for fig in (ours, oracle):  # one already there: added to, not replaced
        fig.add_annotation(text="already here", x=1, y=1, showarrow=False)
    plotkit.spanning(ours, kind, at, text, position, line=line)
    getattr(oracle, f"add_{kind}")(line=line, **plotly_args)
    assert ours.layout.to_plotly_json() == oracle.layout.to_plotly_json()
    assert len(ours.layout.shapes) == 1
