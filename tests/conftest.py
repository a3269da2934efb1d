"""Shared fast settings: quiet TensorFlow, a private run store per test, offline by design."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests are CPU-only and deterministic

import pytest  # noqa: E402


@pytest.fixture
def store_root(tmp_path, monkeypatch):
    """A fresh, empty models_cache for one test; MODELS_CACHE points at it."""
    root = tmp_path / "models_cache"
    root.mkdir()
    monkeypatch.setenv("MODELS_CACHE", str(root))
    monkeypatch.setenv("GRADLAB_YAHOO_CACHE", str(tmp_path / "yahoo_cache"))
    return root
