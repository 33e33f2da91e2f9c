"""plan/motion_controls.py: density per bar, strength per beat and accents from known motion,
saliency and visual beats (directly, and through make_plan on hand-built Features)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.plan.test_planner import POP, make_features
from videobgm.config import PlanConfig
from videobgm.eval.sync import spearman
from videobgm.plan.motion_controls import (
    DENSITY_TABLE,
    MAX_BUTTONS,
    SPARSE_BEAT_S,
    accent_steps,
    density_per_bar,
    strength_per_beat,
    strong_beat_times,
)
from videobgm.plan.planner import make_plan
from videobgm.types import Description, step_times_from_beats


def test_strong_beat_times_keep_the_top_quantile_inside_the_video() -> None:
    beats = np.arange(0.5, 10.0, 0.5)  # 19 beats in 10 s: not sparse
    strength = np.linspace(0.0, 1.8, beats.size)  # 0, 0.1, ..., 1.8
    f = make_features(10.0, beats_s=beats, beat_strength=strength)
    # the 0.5 quantile of 0..1.8 is 0.9: beats 9.. (4.75 s is strength 0.9 -> kept, >= threshold)
    assert np.allclose(strong_beat_times(f, 10.0, 0.5), beats[9:])
    # a beat past the duration is dropped
    assert np.allclose(strong_beat_times(f, 9.0, 0.5), beats[9:-2])


def test_sparse_visual_beats_are_all_strong_unless_silent() -> None:
    beats = np.array([3.0, 11.0, 19.0])  # 3 beats in 20 s: rarer than one per SPARSE_BEAT_S
    assert beats.size * SPARSE_BEAT_S < 20.0
    f = make_features(20.0, beats_s=beats, beat_strength=np.array([0.1, 0.0, 0.7]))
    assert strong_beat_times(f, 20.0, 0.9).tolist() == [3.0, 19.0]  # strength 0 is never strong


def test_density_per_bar_of_steady_motion_is_the_table_median() -> None:
    # 20 px/s everywhere: rank quantile 0.5 (all tied), absolute level 20 / (20 + 20) = 0.5 -> the
    # table at the 0.5 level (20 onsets), x1 at the 80 bpm reference tempo
    f = make_features(12.0, speed=lambda t: np.full_like(t, 20.0))
    bars = np.arange(0.0, 12.1, 3.0)  # 4 bars of 3 s (80 bpm)
    reasons: dict[str, str] = {}
    assert density_per_bar(f, bars, Description(), None, 80.0, 1.0, reasons).tolist() == [20] * 4
    assert reasons["density"].endswith("range 20..20 onsets/bar")
    # x1.5 density scale; at 120 bpm x (120 / 80)^-0.64 = 0.77
    assert density_per_bar(f, bars, Description(), None, 80.0, 1.5, {}).tolist() == [30] * 4
    assert density_per_bar(f, bars, Description(), None, 120.0, 1.0, {}).tolist() == [15] * 4


def test_strength_per_beat_without_saliency_is_the_metrical_prior() -> None:
    # no saliency: every beat ties at rank 0.5; 0.7 * 0.5 + 0.3 * prior (1, 0.25, 0.6, 0.25)
    # = 0.65, 0.425, 0.53, 0.425 -> the table: 3, 2, 2.3 -> 2, 2
    f = make_features(4.0)
    beats = np.arange(0.0, 4.01, 0.5)  # 2 bars of 4 beats at 120 bpm
    reasons: dict[str, str] = {}
    assert strength_per_beat(f, beats, 4, 1.0, reasons).tolist() == [3, 2, 2, 2] * 2
    assert "metrical prior" in reasons["strength"]
    assert strength_per_beat(f, beats, 4, 2.0, {}).tolist() == [6, 4, 5, 4] * 2


def test_accent_steps_are_the_nearest_steps_of_strong_beats_and_the_hits() -> None:
    steps = np.arange(0.0, 2.01, 0.125)  # 16 steps of 0.125 s (and the end)
    reasons: dict[str, str] = {}
    acc = accent_steps(steps, np.array([0.26, 0.9, 1.99]), 16, 1.9, [3, None, 12], 0.9, reasons)
    # 0.26 s -> step 2 (0.25 s), 0.9 s -> step 7 (0.875 s); 1.99 s is past the end (1.9 s)
    assert np.flatnonzero(acc).tolist() == [2, 3, 7, 12]
    assert reasons["accents"].startswith("2 strong visual beats")
    none = accent_steps(steps, np.zeros(0), 16, 1.9, [], 0.9, reasons)
    assert not none.any() and reasons["accents"].startswith("no strong visual beats")


def test_visual_accents_keep_an_eighth_apart_strongest_first_hits_exempt() -> None:
    steps = np.arange(0.0, 2.01, 0.125)
    t = steps[[0, 1, 2, 4, 6, 7, 8, 9, 12, 14]] + 0.01  # a busy shot: 10 strong beats in one bar
    s = np.array([0.5, 0.9, 0.3, 0.6, 0.2, 0.8, 0.4, 0.7, 0.6, 0.1])
    reasons: dict[str, str] = {}
    acc = accent_steps(steps, t, 16, 2.0, [], 0.5, reasons, strengths=s)
    # strongest first: 1, 7, 9, 4, 12 and 14 are 2+ steps from every kept one; 0, 8, 2, 6 are not
    assert np.flatnonzero(acc).tolist() == [1, 4, 7, 9, 12, 14]
    assert "6 kept at least 2 16ths apart" in reasons["accents"]
    hit = accent_steps(steps, t, 16, 2.0, [2, 8], 0.5, {}, strengths=s)
    assert np.flatnonzero(hit).tolist() == [1, 2, 4, 7, 8, 9, 12, 14]  # the hit points on top
    equal = accent_steps(steps, t[:3], 16, 2.0, [], 0.5, {})  # no strengths: the earliest first
    assert np.flatnonzero(equal).tolist() == [0, 2]


def test_density_follows_motion_spearman() -> None:
    rng = np.random.default_rng(3)
    levels = rng.uniform(0, 80, size=40)  # a new motion level every 1.3 s

    def speed(t: np.ndarray) -> np.ndarray:
        return levels[np.minimum((t / 1.3).astype(int), levels.size - 1)] + rng.normal(0, 2, t.size)

    f = make_features(50.0, tempo_bpm=110.0, speed=speed)
    plan = make_plan(f, PlanConfig())
    bars = plan.bar_times_s()
    bar_speed = np.array([f.motion_speed[(f.frame_times_s >= a) & (f.frame_times_s < b)].mean()
                          for a, b in zip(bars[:-1], bars[1:])])
    # the last bar is the held final tonic (density 0, rule notes only): not part of the mapping
    rho = spearman(bar_speed[:-1], plan.controls.density_per_bar[:-1].astype(float))
    assert rho >= 0.7
    d = plan.controls.density_per_bar[:-1]
    assert DENSITY_TABLE[0] - 1 <= d.min() and d.max() <= DENSITY_TABLE[-1] + 1
    # density scale doubles (within rounding)
    d2 = make_plan(f, PlanConfig(density_scale=2.0)).controls.density_per_bar[:-1]
    assert np.all(np.abs(d2 - 2 * d) <= 1)


def test_static_video_gets_flat_density() -> None:
    plan = make_plan(make_features(20.0, speed=lambda t: np.zeros_like(t)), PlanConfig())
    assert len(set(plan.controls.density_per_bar[:-1].tolist())) == 1  # the last bar: held tonic
    assert plan.controls.density_per_bar[-1] == 0


def test_density_per_bar_falls_with_the_tempo_as_in_pop909() -> None:
    from videobgm.plan.motion_controls import DENSITY_TEMPO_EXPONENT, DENSITY_TEMPO_REF_BPM

    f = make_features(24.0, speed=lambda t: np.full_like(t, 20.0))
    dens = {}
    for tempo in (60.0, 80.0, 120.0):
        plan = make_plan(f, PlanConfig(tempo_bpm=tempo))
        assert abs(plan.tempo_bpm - tempo) < 0.5
        dens[tempo] = float(np.median(plan.controls.density_per_bar[:-1]))
        assert "bpm (POP909's onsets per bar" in plan.reasons["density"]
    assert DENSITY_TEMPO_REF_BPM == 80.0
    for tempo in (60.0, 120.0):  # x (tempo / 80)^-0.64: 1.20 at 60 bpm, 0.77 at 120 bpm
        want = dens[80.0] * (tempo / 80.0) ** DENSITY_TEMPO_EXPONENT
        assert abs(dens[tempo] - want) <= 1.0, (tempo, dens, want)
    assert dens[120.0] < dens[80.0] < dens[60.0]


@pytest.mark.parametrize("tempo,period", [(120.0, 0.5), (105.0, 60 / 105), (87.0, 0.69),
                                          (float("nan"), 0.77), (float("nan"), 0.5)])
def test_strong_visual_beats_become_accents_within_70ms(tempo: float, period: float) -> None:
    rng = np.random.default_rng(0)
    beats = np.arange(0.31, 30.0, period) + rng.normal(0, 0.01, size=np.arange(0.31, 30.0, period).size)
    strength = rng.uniform(0, 1, beats.size)
    f = make_features(30.0, tempo_bpm=tempo, beats_s=beats, beat_strength=strength)
    plan = make_plan(f, PlanConfig(style=POP, accent_quantile=0.5))
    steps = step_times_from_beats(plan.beat_times_s)[:-1]
    acc_t = steps[plan.controls.accent_steps]
    strong = beats[strength >= np.quantile(strength, 0.5)]
    # the last bar is the held final tonic (issue 17): its only accents are the buttons, each
    # on a strong visual beat
    end_t = plan.bar_times_s()[plan.controls.ending_bar]
    buttons = plan.controls.ending_accents()
    assert len(buttons) <= MAX_BUTTONS
    assert all(np.min(np.abs(beats[strength >= np.quantile(strength, 0.5)] - steps[k])) <= 0.07 for k in buttons)
    acc_t = acc_t[acc_t < end_t]
    strong = strong[strong < end_t]
    err = np.array([np.min(np.abs(acc_t - b)) for b in strong])
    assert np.mean(err <= 0.070) >= 0.8, plan.reasons["accents"]
    half = 0.5 * np.max(np.diff(steps))
    inner = strong < steps[-1] + half  # a beat in the very last half-16th has no step after it
    assert np.all(err[inner] <= half + 1e-9)
    # weak beats do not add accents: at most one accent per strong beat
    assert plan.controls.accent_steps[:plan.controls.ending_bar * 16].sum() <= strong.size


def test_strength_follows_saliency_at_beats() -> None:
    # visual beats on every 2nd music beat at 120 bpm (every 1.0 s), none in between
    f = make_features(16.0, tempo_bpm=120.0, beats_s=np.arange(0.0, 16.0, 1.0))
    plan = make_plan(f, PlanConfig(style=POP))
    s = plan.controls.strength_per_beat
    assert s[0::2].mean() > s[1::2].mean() + 0.5
