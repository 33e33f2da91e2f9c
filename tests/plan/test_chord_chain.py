"""plan/chord_chain.py: the exact constrained trigram sampler on the shipped model."""

from __future__ import annotations

import numpy as np
import pytest

from videobgm.plan.chord_chain import ChainContext, sample_chain
from videobgm.plan.chord_corpus import BOS, V, symbol
from videobgm.plan.chord_model import load


@pytest.fixture(scope="module")
def chain() -> ChainContext:
    return ChainContext(load(), "major", [("verse", "start"), ("verse", "mid"), ("verse", "end")],
                        (BOS, BOS), [], 0.5)


def _only(*syms: int) -> np.ndarray:
    a = np.zeros(V, dtype=bool)
    a[list(syms)] = True
    return a


def test_single_allowed_symbols_are_drawn_exactly(chain: ChainContext) -> None:
    want = [symbol(0, "maj"), symbol(5, "maj"), symbol(7, "maj")]  # I IV V
    got = chain.sample([_only(s) for s in want], np.random.default_rng(0))
    assert got == want
    # the same through the function, and the draws follow the seed
    args = (chain.model, chain.mode, chain.ctx)
    free = [np.ones(V, dtype=bool)] * 3
    a = sample_chain(*args, free, chain.init, chain.after, np.random.default_rng(5), chain.hold)
    b = sample_chain(*args, free, chain.init, chain.after, np.random.default_rng(5), chain.hold)
    assert a == b and len(a) == 3


def test_every_draw_meets_its_allowed_set(chain: ChainContext) -> None:
    two = _only(symbol(0, "maj"), symbol(9, "min"))
    rng = np.random.default_rng(1)
    for _ in range(20):
        got = chain.sample([two, np.ones(V, dtype=bool), _only(symbol(7, "maj"))], rng)
        assert got[0] in (symbol(0, "maj"), symbol(9, "min")) and got[2] == symbol(7, "maj")


def test_unmeetable_constraints_raise_before_drawing(chain: ChainContext) -> None:
    rng = np.random.default_rng(2)
    state = rng.bit_generator.state
    with pytest.raises(ValueError, match="constraints cannot be met"):
        chain.sample([np.ones(V, dtype=bool), np.zeros(V, dtype=bool), np.ones(V, dtype=bool)], rng)
    assert rng.bit_generator.state == state  # nothing drawn
