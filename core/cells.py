"""The facts of each recurrent cell type, once: its spec name, Keras class, gates and colour.

Plain Python on purpose: the router and the first page need these before anything heavy
(plotly figures, pandas) is loaded; core.plotkit re-exports them for the charts, core.config
validates against CELLS, core.models builds CELL_NAMES' classes.
"""

from __future__ import annotations

CELLS: tuple[str, ...] = ("lstm", "gru", "rnn")  # the spec's names, in the forms' order
# The Keras layer class of each (keras.layers.<name>, <name>Cell); also the name people read.
CELL_NAMES: dict[str, str] = {"lstm": "LSTM", "gru": "GRU", "rnn": "SimpleRNN"}
CELL_OF: dict[str, str] = {name: cell for cell, name in CELL_NAMES.items()}  # class -> cell
# Gate blocks of the recurrent kernel, in Keras' column order: (units, n_gates * units).
GATES: dict[str, tuple[str, ...]] = {
    "lstm": ("i", "f", "c", "o"),
    "gru": ("z", "r", "h"),
    "rnn": ("h",),
}
# Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
CELL_COLORS: dict[str, str] = {"lstm": "#0072B2", "gru": "#E69F00", "rnn": "#009E73"}
NEUTRAL = "#7f7f7f"  # global norm, naive baseline, reference lines: mid-grey reads on both themes


def cell_color(cell: str) -> str:
    """The cell type's colour; NEUTRAL grey for anything unknown."""
    return CELL_COLORS.get(str(cell).lower(), NEUTRAL)


def cell_name(cell: str) -> str:
    """'LSTM', 'GRU', 'SimpleRNN' for the spec's 'lstm', 'gru', 'rnn'; anything else as is."""
    return CELL_NAMES.get(str(cell).lower(), str(cell))
