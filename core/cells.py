"""The one name and colour of each recurrent cell type, for every page, chart and sidebar.

Plain Python on purpose: the router and the first page need these before anything heavy
(plotly figures, pandas) is loaded; core.plotkit re-exports them for the charts.
"""

from __future__ import annotations

# Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
CELL_COLORS: dict[str, str] = {"lstm": "#0072B2", "gru": "#E69F00", "rnn": "#009E73"}
CELL_NAMES: dict[str, str] = {"lstm": "LSTM", "gru": "GRU", "rnn": "SimpleRNN"}  # as Keras says
NEUTRAL = "#7f7f7f"  # global norm, naive baseline, reference lines: mid-grey reads on both themes


def cell_color(cell: str) -> str:
    """The cell type's colour; NEUTRAL grey for anything unknown."""
    return CELL_COLORS.get(str(cell).lower(), NEUTRAL)


def cell_name(cell: str) -> str:
    """'LSTM', 'GRU', 'SimpleRNN' for the spec's 'lstm', 'gru', 'rnn'; anything else as is."""
    return CELL_NAMES.get(str(cell).lower(), str(cell))
