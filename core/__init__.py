"""Gradient Lab core: data, datasets, models, training, evaluation and the run store.

Never imports streamlit. Keras (and with it TensorFlow or JAX) is imported at module level
only by core.training, its backends (core.backend_tf, core.backend_jax) and core.wavefront,
and inside functions by core.models and core.gates; yfinance only inside core.data_yahoo's
download. So reading a finished run stays light. Map: docs/ARCHITECTURE.md.
"""
