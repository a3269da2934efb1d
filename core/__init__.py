"""Gradient Lab core: data, datasets, models, training, evaluation and the run store.

Never imports streamlit. Only core.models and core.training import keras/tensorflow, and
only when called, so reading a finished run stays light.
"""
