"""compose/constraints.py: the voicing tracker (chord-tone bias, silent beats) and the sampler's draw."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from videobgm.compose.tokens import Tokenizer  # noqa: E402
from videobgm.config import SampleConfig  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tok: tests/compose/conftest.py


def test_voicing_tracker_biases_missing_chord_tones():
    from videobgm.compose.constraints import Voicing, chord_tone_mask
    from videobgm.compose.token_codes import chord_index

    tok = Tokenizer()
    am = chord_tone_mask(chord_index(9, "min"), tok)  # A C E
    v = Voicing(32)
    v.add(4, 45, 2)  # A2 on beat 1
    v.add(2, 64, 4)  # E4 from beat 0 sustained into beat 1
    v.add(8, 48, 1)  # C3 on beat 2 only
    bias = v.missing_bias(5, am, 3.0)
    favoured = {(p - 1) % 12 for p in np.flatnonzero(bias)}
    assert favoured == {0}  # only C is missing in beat 1
    assert bias[1 + 60] == 3.0 and bias[1 + 57] == 0.0 and bias[1 + 61] == 0.0
    assert v.missing_bias(9, am, 3.0) is not None  # beat 2: C sounds, A and E missing
    assert {(p - 1) % 12 for p in np.flatnonzero(v.missing_bias(9, am, 3.0))} == {9, 4}
    v.add(9, 57, 1)
    v.add(10, 52, 1)
    assert v.missing_bias(11, am, 3.0) is None  # complete
    assert v.missing_bias(5, None, 3.0) is None and v.missing_bias(5, am, 0.0) is None


def test_first_silent_beat():
    from videobgm.compose.constraints import Voicing

    v = Voicing(32)
    v.add(0, 60, 6)  # beats 0 and 1 (steps 0..5)
    v.add(12, 64, 1)  # beat 3
    assert v.first_silent_beat(0, 16) == 8  # beat 2
    assert v.first_silent_beat(1, 11) is None  # beat 2 does not end by step 11
    assert v.first_silent_beat(13, 32) == 16  # the next beat start after step 13


def test_sampler_draws_like_generator_choice_and_skips_forced_fields(tok):
    """``TokenSampler.pick`` inlines ``Generator.choice(n, p=p)``: the same seed gives the same values;
    a field with one allowed value is not computed at all (its logits callable is not called)."""
    from videobgm.compose.constraints import TokenSampler

    cfg = SampleConfig(seed=7, temperature=0.9, top_p=0.8)
    sampler = TokenSampler(None, tok, cfg)
    rng = np.random.default_rng(7)
    g = np.random.default_rng(0)
    for _ in range(300):
        logits = torch.from_numpy(g.normal(0, 2, 129).astype(np.float32))
        allowed = g.random(129) < 0.4
        allowed[int(g.integers(129))] = True
        got = sampler.pick(logits, 4, allowed)
        idx = np.flatnonzero(allowed)
        if idx.size == 1:
            assert got == idx[0]
            continue
        z = logits.numpy()[idx].astype(np.float64) / 0.9
        p = np.exp(z - z.max())
        p /= p.sum()
        order = np.argsort(-p, kind="stable")
        keep = (np.cumsum(p[order]) - p[order]) <= 0.8
        q = np.zeros_like(p)
        q[order[keep]] = p[order][keep]
        assert got == idx[rng.choice(idx.size, p=q / q.sum())]

    def never():
        raise AssertionError("logits computed for a forced field")

    one = np.zeros(9, dtype=bool)
    one[3] = True
    assert sampler.pick(never, 6, one) == 3
    assert sampler.pick(lambda: torch.tensor([0.0, 50.0, 0.0]), 0, np.ones(3, dtype=bool)) == 1
