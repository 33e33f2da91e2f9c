"""Fixtures shared by the compose/ tests (test_sampler.py, test_constraints.py)."""

from __future__ import annotations

import pytest


@pytest.fixture()
def one_torch_thread():
    """Sampling tests run on one torch thread (``pytestmark = pytest.mark.usefixtures(...)``)."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tok():
    from videobgm.compose.tokens import Tokenizer

    return Tokenizer()
