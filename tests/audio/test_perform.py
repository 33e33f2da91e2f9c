"""audio/perform.py: the performance (humanisation, velocity shaping, swing) keeps cut accents in place."""

from __future__ import annotations

import numpy as np

from tests.audio.test_master import _score  # noqa: F401 (shared with test_master.py)
from videobgm.audio.perform import STYLE_PERFORMANCE, perform, style_performance, timing_shift_s
from videobgm.music import lexicon


def test_styles_are_the_lexicon_styles() -> None:
    assert set(STYLE_PERFORMANCE) == set(lexicon.STYLES)
    assert style_performance(None) is STYLE_PERFORMANCE["pop"]
    for s in STYLE_PERFORMANCE.values():
        assert 3.0 <= s.melody_over_accompaniment_db <= 6.0 and s.reverb in ("room", "hall")
    assert STYLE_PERFORMANCE["cinematic"].reverb == STYLE_PERFORMANCE["ambient"].reverb == "hall"
    assert STYLE_PERFORMANCE["pop"].reverb == STYLE_PERFORMANCE["acoustic"].reverb == "room"


def test_humanisation_never_moves_a_cut_accent() -> None:
    s = _score()
    protected = [0, 5, 16, 27, 32, 48]  # cut bar lines and accents, some on off-beat 16ths (swing)
    for style in STYLE_PERFORMANCE:
        perf = perform(s, style=style, protected_steps=protected, seed=3)
        shift = timing_shift_s(s, perf)
        on = np.array([n.onset_16th for n in s.notes])
        assert np.abs(shift[np.isin(on, protected)]).max() <= 1e-3
        vel_in = np.array([n.velocity for n in s.notes])
        vel_out = np.array([p.velocity for p in perf.notes])
        assert np.all(vel_out[np.isin(on, protected)] >= vel_in[np.isin(on, protected)])
        if STYLE_PERFORMANCE[style].jitter_ms > 0:  # the others do move
            assert np.abs(shift[~np.isin(on, protected)]).max() > 1e-3


def test_performance_is_seeded_and_shaped() -> None:
    s = _score()
    a, b = perform(s, style="pop", seed=1), perform(s, style="pop", seed=1)
    assert a.notes == b.notes and a.notes != perform(s, style="pop", seed=2).notes
    flat = perform(s, style="pop", humanize=False)
    assert np.abs(timing_shift_s(s, flat)).max() < 1e-9
    # velocity shaping by metre: downbeats louder than off-beat 16ths on average
    on = np.array([n.onset_16th for n in s.notes if n.track == "melody"])
    vel = np.array([p.velocity for p in a.notes if p.track == "melody"], float)
    assert vel[on % 16 == 0].mean() > vel[on % 2 == 1].mean() + 3
    # swing (acoustic): off-beat 16ths are late on average
    sw = timing_shift_s(s, perform(s, style="acoustic", seed=1))
    all_on = np.array([n.onset_16th for n in s.notes])
    assert sw[all_on % 2 == 1].mean() > sw[all_on % 2 == 0].mean() + 0.005


def test_plan_hit_points_are_protected() -> None:
    from videobgm.audio.perform import plan_protected_steps
    from videobgm.config import PlanConfig
    from videobgm.features.still import neutral_features
    from videobgm.plan.planner import make_plan

    plan = make_plan(neutral_features(20.0), PlanConfig(), seed=0)
    steps = plan_protected_steps(plan)
    spb = plan.controls.steps_per_bar
    assert set(np.flatnonzero(plan.controls.accent_steps)) <= set(steps)
    assert {s.start_bar * spb for s in plan.sections} <= set(steps)
