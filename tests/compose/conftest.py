"""Fixtures shared by the compose/ tests: a tokenizer, one torch thread, hand-made controls and a
decoding context + state for the decoder's parts (bar_constraints, note_constraints, phrasing, repetition)."""

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


@pytest.fixture()
def decoding(tok):
    """Factory of a decoding context and a fresh state for hand-made controls (no model): the
    masks of compose/bar_constraints, note_constraints, phrasing and repetition read them."""
    import numpy as np

    from videobgm.compose.constraints import TokenSampler, Voicing
    from videobgm.compose.decode_state import DecodeState, build_context
    from videobgm.compose.phrasing import breath_mask, breath_steps, breathe
    from videobgm.config import SampleConfig

    def make(controls, cfg=None, *, span=None, breath_bars=None, phrase_ends=None, motif=None, rule_onsets=None,
             bass=None):
        cfg = cfg or SampleConfig()
        span = span or (0, controls.n_bars)
        n_steps = controls.n_bars * controls.steps_per_bar
        breath = breath_mask(controls, cfg, span, breath_bars)
        to_breath, in_breath = breath_steps(breath, controls.steps_per_bar)
        model_controls, _ = breathe(controls, [], breath, to_breath, in_breath)
        onsets = np.zeros(n_steps + 1, dtype=np.int64) if rule_onsets is None else rule_onsets
        ctx = build_context(model_controls, controls, cfg, tok, span=span, breath=breath, steps_to_breath=to_breath,
                            rule_onsets=onsets, phrase_ends=phrase_ends, motif=motif, bass=bass)
        return ctx, DecodeState(voicing=Voicing(n_steps), sampler=TokenSampler(None, tok, cfg))

    return make


@pytest.fixture()
def make_controls():
    """Factory of controls (see its docstring)."""
    return _controls


def _controls(n_bars: int = 2, density=4, strength=0, chords=((0, "maj"), (9, "min")), **kw):
    """Controls of ``n_bars`` 4/4 bars, one chord per bar (cycled), ``density`` onsets per bar and
    ``strength`` target notes on every beat (ints or per-bar / per-beat sequences)."""
    import numpy as np

    from videobgm.types import Chord, Controls

    return Controls(
        n_bars=n_bars, beats_per_bar=4,
        density_per_bar=np.broadcast_to(np.asarray(density, dtype=float), (n_bars,)).copy(),
        strength_per_beat=np.broadcast_to(np.asarray(strength, dtype=np.int64), (4 * n_bars,)).copy(),
        accent_steps=np.zeros(16 * n_bars, dtype=bool),
        chords=[Chord(16 * b, *chords[b % len(chords)]) for b in range(n_bars)], **kw)
