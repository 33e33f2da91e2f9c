"""apps/ui/plot.py: the colour strip row and the figure, without a browser."""

from __future__ import annotations

import numpy as np

from videobgm.apps.ui.plot import colour_strip, feature_figure
from videobgm.types import Features, VideoInfo


def _features(n: int) -> Features:
    t = np.arange(n) / 10.0
    hist = np.zeros((n, 12))
    hist[:, 0] = 1.0
    return Features(
        video=VideoInfo(path="v.mp4", duration_s=max(n / 10.0, 1.0), fps=10.0, width=8, height=8),
        frame_times_s=t, motion_speed=np.ones(n), saliency=np.zeros(n), visual_beat_times_s=np.zeros(0),
        visual_beat_strength=np.zeros(0), tempo_bpm=float("nan"), tempo_confidence=0.0,
        cut_times_s=np.zeros(0), brightness=np.ones(n), saturation=np.ones(n), warmth=np.zeros(n),
        hue_hist=hist,
    )


def test_colour_strip_is_one_row_of_frame_colours() -> None:
    strip = colour_strip(_features(4))
    assert strip.shape == (1, 4, 3)
    np.testing.assert_allclose(strip[0], [[1.0, 0.25, 0.0]] * 4)  # the first hue bin's centre, 15 deg
    np.testing.assert_array_equal(colour_strip(_features(0)), np.zeros((1, 1, 3)))


def test_feature_figure_draws_without_a_plan() -> None:
    fig = feature_figure(_features(20))
    assert len(fig.axes) == 2
