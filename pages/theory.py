"""Theory: why gradients vanish or explode through time, live and instant (numpy only)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core import plots, theory
from core.errors import UserError
from core.fmt import sci
from core.record_rows import ListingView
from core.record_views import SummaryView
from core.records import RunState
from pages.lib import words
from pages.lib.ui import (
    RESULTS_PAGE,
    empty_state,
    get_store,
    page_link,
    run_label,
    show_error,
    through_router,
    with_periods,
)

through_router()  # first: a fresh server's deep link must run app.py

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _sup(n: int) -> str:
    """40 -> '⁴⁰': a power written as text, never as a caret."""
    return str(n).translate(_SUPERSCRIPT)


SIZE = 6  # small enough to print both matrices; the behaviour is the same at any size
MAX_LINKS = 6  # own runs linked at the bottom; the Runs page lists all


_CELLS = {str(j): st.column_config.NumberColumn(format="%.2f") for j in range(SIZE)}  # -0.50, 0.20


def _matrix_frame(w: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(np.round(w, 2), columns=[f"{j}" for j in range(w.shape[1])])


# The figures, cached per slider setting and shared by every session: a rerun that moved
# another widget (the gate slider, a number below) sends them without building them again.
@st.cache_resource(max_entries=64, show_spinner=False)
def _power_figure(rho: float, rho2: float, n_max: int, seed: int) -> Any:
    w = theory.random_matrix(rho, SIZE, seed)
    x = theory.unit_vector(SIZE, seed)
    w2 = theory.same_signs_other_radius(w, rho2)
    series = {
        f"W, ρ = {rho:.2f}": theory.power_norms(w, x, n_max),
        f"same signs, ρ = {rho2:.2f}": theory.power_norms(w2, x, n_max),
    }
    return plots.theory_power_chart(series)


@st.cache_resource(max_entries=64, show_spinner=False)
def _tanh_figure(w: float, x_scale: float, n_max: int) -> Any:
    series = {f"tanh RNN, w = {w:.2f}": theory.tanh_rnn_jacobian(w, n_max, x_scale=x_scale)}
    reference = {f"linear, |w|ⁿ = {abs(w):.2f}ⁿ": theory.linear_rnn_jacobian(w, n_max)}
    return plots.theory_tanh_chart(series, reference)


def power_section() -> None:
    st.subheader("1 · Repeated multiplication: ‖Wⁿx‖")
    st.markdown(
        "Backpropagation through time multiplies the gradient by the recurrent Jacobian once "
        "per step. Without the activation's slope that is multiplying by W again and again, "
        "and for large n ‖Wⁿx‖ behaves like ρ(W)ⁿ, where the **spectral radius** ρ is the "
        "largest |eigenvalue|. ρ < 1: the gradient vanishes; ρ > 1: it explodes. **The spectral "
        "radius decides, not the sign of the weights**: the second matrix has exactly the same "
        "sign in every entry (it is the first times a positive constant), yet a different ρ "
        "and the opposite fate."
    )
    c1, c2, c3, c4 = st.columns(4)
    rho = c1.slider("ρ of W", 0.5, 1.5, 0.9, 0.05, key="theory_rho")
    rho2 = c2.slider("ρ of the same-signs matrix", 0.5, 1.5, 1.1, 0.05, key="theory_rho2")
    n_max = c3.slider("steps n", 10, 100, 50, 5, key="theory_n")
    seed = int(c4.number_input("seed", 0, 10_000, 0, 1, key="theory_seed"))
    w = theory.random_matrix(rho, SIZE, seed)
    w2 = theory.same_signs_other_radius(w, rho2)
    x = theory.unit_vector(SIZE, seed)
    norms, norms2 = theory.power_norms(w, x, n_max), theory.power_norms(w2, x, n_max)
    left, right = st.columns([3, 2])
    left.plotly_chart(_power_figure(rho, rho2, n_max, seed), key="theory_power")
    left.caption(
        f"Measured growth per step over the last half: {theory.growth_rate(norms):.3f} and "
        f"{theory.growth_rate(norms2):.3f}, i.e. ρ. Early steps can differ (non-normal W)."
    )
    right.markdown(f"**W** (ρ = {rho:.2f})")
    right.dataframe(_matrix_frame(w), hide_index=True, key="theory_w_matrix", column_config=_CELLS)
    right.markdown(f"**Same signs**, ρ = {rho2:.2f} (W × {rho2 / rho:.3f})")
    right.dataframe(
        _matrix_frame(w2), hide_index=True, key="theory_w2_matrix", column_config=_CELLS
    )


def tanh_section() -> None:
    st.subheader("2 · A scalar tanh RNN: ∂hₙ/∂h₀")
    st.markdown(
        "For hₜ = tanh(w·hₜ₋₁ + xₜ) each step back multiplies the gradient by "
        "w·(1 − hₜ²). Since tanh′ ≤ 1, |w| < 1 always vanishes. A large |w| does not simply "
        "explode either: it drives h into saturation where tanh′ ≈ 0, so the product usually "
        "vanishes there too. The dashed line is the same w without tanh, |w|ⁿ."
    )
    c1, c2 = st.columns(2)
    w = c1.slider("recurrent weight w", -3.0, 3.0, 0.9, 0.05, key="theory_w")
    x_scale = c2.slider("input size (std of xₜ)", 0.0, 2.0, 0.5, 0.1, key="theory_xscale")
    n_max = int(st.session_state.get("theory_n", 50))
    st.plotly_chart(_tanh_figure(w, x_scale, n_max), key="theory_tanh")


def gates_and_clipping() -> None:
    st.subheader("3 · Gated cells: the gate sets the per-step factor")
    st.markdown(
        "An LSTM carries a cell state along an **additive** path: "
        "cₜ = fₜ ⊙ cₜ₋₁ + iₜ ⊙ gₜ, so ∂cₜ/∂cₜ₋₁ = fₜ (elementwise), with no "
        "weight matrix and no squashing in between. A GRU (Keras' convention) keeps "
        "hₜ = zₜ ⊙ hₜ₋₁ + (1 − zₜ) ⊙ h̃ₜ, so its update gate zₜ plays the same part. "
        "For these cells the spectral radius of the recurrent kernel does not govern the "
        "gradient through time: **the forget/update gate does**. Each step back multiplies the "
        "gradient along the memory path by the gate's value.\n\n"
        "A gate near 1 is *learned*, not given. A fresh LSTM's forget gate sits near "
        "σ(1) ≈ 0.73 (Keras starts its bias at 1), a fresh GRU's update gate near σ(0) = 0.5. "
        "Training pushes the gate toward 1 only where the data rewards remembering; where "
        "nothing in the past helps, it can stay where it started, and then a gated cell "
        "forgets *faster* than a SimpleRNN whose factor ρ·mean(1 − h²) is close to 1."
    )
    c1, c2 = st.columns(2)
    gate = c1.slider("gate value per step (f or z)", 0.30, 1.0, 0.73, 0.01, key="theory_gate")
    k = c2.slider("steps back k", 1, 200, 40, 1, key="theory_gate_k")
    kept = gate**k
    shown = sci(kept) if kept >= 1e-300 else "0 (below float range)"
    st.markdown(
        f"Kept after {k} steps: {gate:.2f}{_sup(k)} = **{shown}**. A Results page shows the run's "
        "own gate means and its measured step factor, next to its memory horizon."
    )
    st.markdown(
        "The experiment that shows it: the **memory preset** trains SimpleRNN, LSTM and GRU "
        "to recall one number 40 steps back. Where the gated cells learn it, their gates hold "
        "the value and the gradient 40 steps back survives; SimpleRNN's vanishes."
    )
    words.preset_button("theory_preset")
    st.markdown(
        "**Gradient clipping** rescales the gradient when its norm exceeds a threshold. It "
        "stops *exploding* gradients from wrecking a step, but it cannot bring back a gradient "
        "that has *vanished*: scaling a tiny vector down changes nothing. Vanishing needs a "
        "different path for the gradient (gates that learn to hold), not a cap."
    )


def _run_fact(store: Any, row: ListingView) -> str:
    summary = SummaryView.of(store.summary(row.run_id))
    factors = summary.step_factors
    if summary.memory_horizon is None:
        return ""
    text = f" · memory horizon {summary.memory_horizon} of {row.lookback} steps"
    return text + (f" · step factor {factors[-1]:.2f}" if factors else "")


def own_runs() -> None:
    st.subheader("4 · Your own runs")
    st.markdown(
        "Open a finished run's **Gradients** section: the gradient-through-time line is this "
        "page's curve measured on a real network, and the run's page says in words how far "
        "back it reaches. Which cell keeps its gradient longer depends on the data: compare "
        "your runs on prices with the memory preset."
    )
    try:
        store = get_store()
        runs = [r for r in map(ListingView.of, store.list_runs()) if r.state is RunState.DONE]
    except UserError as exc:
        show_error(exc)
        return
    if not runs:
        empty_state("No finished runs yet: train a SimpleRNN and an LSTM, then come back.")
        return
    for row in with_periods(runs[:MAX_LINKS]):
        label = run_label(row) + _run_fact(store, row)
        page_link(RESULTS_PAGE, label=label, query_params={"run": row.run_id})
    page_link("pages/runs.py", label="All runs", icon=":material/folder_open:")


st.title("Theory: vanishing and exploding gradients")
try:
    power_section()
    tanh_section()
except UserError as exc:
    show_error(exc)
gates_and_clipping()
own_runs()
