"""structure.py: the structureness indicator sees repetition, stays in [0, 1] and is fast."""

from __future__ import annotations

import time

import numpy as np

from videobgm.eval.structure import structureness
from videobgm.types import Note, Score


def structured_score(n_bars: int, repeat: bool, seed: int = 0) -> Score:
    rng = np.random.default_rng(seed)
    phrase_len = 4  # bars
    phrases = {}
    notes = []
    for bar in range(n_bars):
        key = (bar // phrase_len) % 2 if repeat else bar // phrase_len
        if key not in phrases:
            phrases[key] = [[int(rng.integers(48, 84)) for _ in range(8)] for _ in range(phrase_len)]
        for i, p in enumerate(phrases[key][bar % phrase_len]):
            notes.append(Note(bar * 16 + 2 * i, "melody", p, 2, 80))
    return Score(notes=sorted(notes), n_bars=n_bars, tempo_bpm=120.0)


def test_structureness_sees_repetition_and_is_fast() -> None:
    rep = structured_score(90, repeat=True)  # 3 minutes at 120 bpm, an ABAB... form of 8 s phrases
    rnd = structured_score(90, repeat=False)
    t0 = time.perf_counter()
    a = structureness(rep)
    elapsed = time.perf_counter() - t0
    b = structureness(rnd)
    assert a["si_mid"] > 0.6 and a["si_mid"] > b["si_mid"] + 0.3
    assert a["si_long"] > b["si_long"]
    assert all(0 <= v <= 1 for v in a.values())
    assert elapsed < 20  # generous: ~1 s on an idle core; a loose bound only against O(N^4) code


def test_structureness_caps_frames_for_long_pieces() -> None:
    rep = structured_score(90, repeat=True)  # 360 frames at 2 Hz
    capped = structureness(rep, max_frames=120)  # analysed at 2/3 Hz
    assert all(0 <= v <= 1 for v in capped.values())
    assert capped["si_mid"] > 0.5  # the 8 s repetition is still found at the lower rate
