"""plan/grid.py: the tempo map (bar grid, anchored cuts, hit points, the final stretch), known answers."""

from __future__ import annotations

import numpy as np
import pytest

from videobgm.plan.grid import (
    bend_to_hits,
    final_stretch,
    fold_tempo,
    form_grid,
    grid_beats,
    nearest_index,
)

NO_CUTS = np.zeros(0)


@pytest.mark.parametrize("tempo,lo,hi,answer", [
    (200.0, 60.0, 140.0, (100.0, 0.5)),
    (40.0, 60.0, 140.0, (80.0, 2.0)),
    (90.0, 60.0, 140.0, (90.0, 1.0)),
    (50.0, 110.0, 120.0, (110.0, 2.0)),  # narrower than an octave: 100 is clipped to 110
])
def test_fold_tempo(tempo, lo, hi, answer) -> None:
    assert fold_tempo(tempo, lo, hi) == answer


def test_nearest_index_on_a_step_grid() -> None:
    steps = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0])
    assert nearest_index(steps, np.array([0.1, 0.2, 1.6, 9.0])).tolist() == [0, 1, 5, 8]


def test_constant_tempo_gives_evenly_spaced_beats_ending_at_the_duration() -> None:
    # 120 bpm in 4/4: 2 s bars, 16 s = exactly 8 bars
    grid = form_grid(120.0, 0.0, 16.0, NO_CUTS, NO_CUTS, bpb=4, min_bars=2, seg_warp=0.05)
    assert grid["tempo"] == 120.0 and grid["anchors"] == [0.0, 16.0] and grid["nbars"] == [8]
    assert grid["final"]["how"] == "exact" and grid["final"]["scale"] == 1.0
    beats = grid_beats(grid, 4)
    assert beats.size == 33 and beats[0] == 0.0 and beats[-1] == 16.0
    assert np.allclose(np.diff(beats), 0.5)


def test_a_strong_cut_is_anchored_on_a_bar_line() -> None:
    grid = form_grid(120.0, 0.0, 16.0, np.array([8.0]), np.array([1.0]), bpb=4, min_bars=2,
                     seg_warp=0.05)
    assert grid["anchors"] == [0.0, 8.0, 16.0] and grid["nbars"] == [4, 4] and grid["anchored"] == [0]
    beats = grid_beats(grid, 4)
    assert beats[16] == 8.0  # bar 4's downbeat is the cut
    # a cut that would need an odd number of bars (3 bars = 6 s) is not anchored
    odd = form_grid(120.0, 0.0, 16.0, np.array([6.0]), np.array([1.0]), bpb=4, min_bars=2,
                    seg_warp=0.05)
    assert odd["anchored"] == [] and odd["anchors"] == [0.0, 16.0]


def test_a_hit_point_lands_on_its_beat() -> None:
    beats = np.arange(9) * 0.5  # 120 bpm, 4 s
    bent, placed = bend_to_hits(beats, [], np.array([1.02]))
    assert placed == [8]  # step 8 = beat 2 (1.00 s) is the nearest 16th
    assert bent[2] == pytest.approx(1.02)
    assert bent[0] == 0.0 and bent[-1] == 4.0  # the ends stay fixed
    ratio = np.diff(bent) / np.diff(beats)
    assert ratio.max() <= 1.04 + 1e-9 and ratio.min() >= 1 / 1.04 - 1e-9  # HIT_WARP
    assert bent[1] == pytest.approx(0.51)  # the steps before it stretch linearly


def test_a_hit_beyond_the_warp_limit_comes_as_close_as_allowed() -> None:
    beats = np.arange(9) * 0.5
    bent, placed = bend_to_hits(beats, [], np.array([1.06]))
    assert placed == [8] and bent[2] == pytest.approx(1.04)  # 1.00 s stretched by 4 %, no more
    on_step, placed = bend_to_hits(beats, [], np.array([1.5]))
    assert placed == [12] and np.array_equal(on_step, beats)  # already on a step: nothing moves


def test_fixed_beats_are_not_moved() -> None:
    beats = np.arange(9) * 0.5
    bent, placed = bend_to_hits(beats, [2], np.array([1.02]))
    assert bent[2] == 1.0  # beat 2 (step 8) is a fixed point: it stays, though it is nearest
    assert placed == [9]  # the next step (1.125 s) is pulled back towards the hit, 4 % at most
    assert np.array_equal(bent[:3], beats[:3]) and bent[3] < beats[3]  # only later beats move (earlier)
    ratio = np.diff(bent) / np.diff(beats)
    assert ratio.max() <= 1.04 + 1e-9 and ratio.min() >= 1 / 1.04 - 1e-9


def test_final_stretch_layouts() -> None:
    exact = final_stretch(0.0, 16.8, 2.0, 4, 1, 0.05)  # 8 bars 5 % slower
    assert (exact["how"], exact["bars"], exact["end_s"]) == ("exact", 8, 16.8)
    assert exact["scale"] == pytest.approx(1.05)
    rings = final_stretch(0.0, 17.0, 2.0, 4, 1, 0.05)  # 8.5 bars: the 9th bar rings past the end
    assert (rings["how"], rings["bars"], rings["end_s"], rings["scale"]) == (
        "rings past the end", 9, 18.0, 1.0)
    assert final_stretch(0.0, 3.0, 2.0, 4, 4, 0.05) is None  # fewer bars than min_bars
