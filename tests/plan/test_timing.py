"""plan/timing.py: the description's tempo, the fitted bar grid and the hit points on it."""

from __future__ import annotations

import numpy as np

from tests.plan.test_planner import make_features
from videobgm.config import PlanConfig
from videobgm.plan.timing import TEMPO_WINDOW, base_tempo, hit_points, tempo_map
from videobgm.types import Description, step_times_from_beats


def test_base_tempo_by_origin() -> None:
    cfg = PlanConfig()
    user = base_tempo(PlanConfig(tempo_bpm=100.0), Description(tempo_bpm=100.0))
    assert user[:3] == (100.0, 0.0, 0.0) and user[3].startswith("user tempo 100 bpm")
    text = base_tempo(cfg, Description(tempo_bpm=90.0, reasons={"tempo": "text: '90 bpm'"}))
    assert text == (90.0, 0.0, float(cfg.max_tempo_warp), "description tempo 90 bpm (text)")
    video = base_tempo(cfg, Description(tempo_bpm=110.0, reasons={"tempo": "visual tempo"}))
    assert video[:3] == (110.0, TEMPO_WINDOW, float(cfg.max_tempo_warp))


def test_tempo_map_of_a_user_tempo_fills_the_video_with_whole_bars() -> None:
    # 16 s at exactly 120 bpm: 8 bars of 4/4, beats every 0.5 s from 0 to 16 s
    f = make_features(16.0)
    cfg = PlanConfig(tempo_bpm=120.0)
    reasons: dict[str, str] = {}
    tm = tempo_map(f, cfg, Description(tempo_bpm=120.0), "pop", "happy", np.zeros(0), np.zeros(0),
                   reasons)
    assert tm.n_bars == 8 and tm.anchored == [] and tm.starts.tolist() == [0, 8]
    assert np.allclose(tm.beat_times, np.arange(33) * 0.5)
    assert reasons["grid"].startswith("8 bars of 4/4 from 0 s to 16.000 s (video 16.000 s)")


def test_hit_points_bend_the_grid_onto_a_cut() -> None:
    f = make_features(16.0, cuts_s=(5.1,))
    cfg = PlanConfig(tempo_bpm=120.0)
    cuts = np.array([5.1])
    reasons: dict[str, str] = {}
    tm = tempo_map(f, cfg, Description(tempo_bpm=120.0), "pop", "happy", cuts, np.zeros(0), {})
    beats, hits = hit_points(tm, cfg, cuts, np.zeros(0), [], ("piano",), reasons)
    assert len(hits) == 1
    step = hits[0][0]
    assert step == 41  # the nearest 16th of 5.1 s on the 0.125 s grid is 5.125 s
    # bent onto the cut: within 2 ms (25 ms on the unbent grid)
    assert abs(step_times_from_beats(tm.beat_times)[step] - 5.1) > 0.02
    assert abs(step_times_from_beats(beats)[step] - 5.1) < 0.002
    assert beats[0] == 0.0 and abs(beats[-1] - 16.0) < 1e-9  # the ends stay
    assert "1 of 1 hit points placed" in reasons["tempo"]
