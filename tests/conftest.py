"""Fixtures for every test."""

from __future__ import annotations

import pytest

import tinytorch as tt

from .helpers import reset_data_rng


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state, and with gradients enabled."""
    tt.manual_seed(0)
    reset_data_rng()
    with tt.enable_grad():
        yield
