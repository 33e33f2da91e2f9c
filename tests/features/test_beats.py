"""features/beats.py: tempo estimation and beat picking on known impulse trains."""

from __future__ import annotations

import math

import numpy as np
import pytest

from videobgm.features import beats


def test_tempo_interpolates_between_frames():
    # impulse train with a period that is not a whole number of frames: 0.37 s at 30 fps
    fps, period = 30.0, 0.37
    t = np.arange(0, 20, 1 / fps)
    s = np.zeros_like(t)
    s[np.round(np.arange(0.2, 20, period) * fps).astype(int)] = 1.0
    bpm, conf = beats.estimate_tempo(t, s, bpm_range=(40, 200))
    assert bpm == pytest.approx(60 / period, rel=0.02) and conf > 0.3
    # outside the accepted range -> the tempo inside it (half tempo here) or none
    bpm2, _ = beats.estimate_tempo(t, s, bpm_range=(40, 120))
    assert math.isnan(bpm2) or bpm2 == pytest.approx(30 / period, rel=0.02)


def test_tempo_survives_one_huge_outlier():
    fps = 30.0
    t = np.arange(0, 30, 1 / fps)
    s = np.zeros_like(t)
    s[np.round(np.arange(0.25, 30, 0.5) * fps).astype(int)] = 3.0
    s[400] = 500.0  # e.g. the picture jumps once: must not hide the periodic beats
    bpm, conf = beats.estimate_tempo(t, s, bpm_range=(40, 200))
    assert bpm == pytest.approx(120.0, rel=0.02) and conf > 0.5


def test_tempo_none_for_noise():
    rng = np.random.default_rng(0)
    t = np.arange(0, 20, 1 / 30)
    bpm, conf = beats.estimate_tempo(t, rng.random(t.size) ** 8, bpm_range=(40, 200))
    assert math.isnan(bpm) or conf < 0.3


def test_pick_beats_threshold_and_gap():
    t = np.arange(0, 10, 1 / 30)
    s = np.zeros_like(t)
    s[[30, 33, 90, 150]] = [5.0, 4.0, 5.0, 0.2]  # 33 is within min_gap of 30; 150 is tiny
    bt, strength, idx = beats.pick_beats(t, s, window_s=4.0, k=1.5, floor=1.0, min_gap_s=0.15)
    assert idx.tolist() == [30, 90]
    np.testing.assert_allclose(bt, [(t[29] + t[30]) / 2, (t[89] + t[90]) / 2])
    assert np.all(strength == 1.0)
