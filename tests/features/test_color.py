"""features/color.py: the colour statistics and their inverse, the frame colour (known answers)."""

from __future__ import annotations

import numpy as np

from videobgm.features.color import frame_rgb


def test_frame_rgb_known_colours() -> None:
    hist = np.zeros((3, 12))
    hist[0, 0] = 1.0  # all in the first bin: its centre, 15 deg
    hist[1, [0, 11]] = 0.5  # the bins around 0 deg: their circular mean is red itself
    rgb = frame_rgb(hue_hist=hist, saturation=np.array([1.0, 1.0, 0.0]),
                    brightness=np.array([1.0, 0.5, 0.4]))
    np.testing.assert_allclose(rgb, [[1.0, 0.25, 0.0], [0.5, 0.0, 0.0], [0.4, 0.4, 0.4]], atol=1e-12)


def test_frame_rgb_clips_and_survives_a_short_histogram() -> None:
    rgb = frame_rgb(hue_hist=np.zeros((1, 12)), saturation=np.array([2.0, 0.5]),
                    brightness=np.array([1.5, -1.0]))
    np.testing.assert_allclose(rgb, [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # hue 0; s, v clipped to [0, 1]
    assert frame_rgb(hue_hist=np.zeros((0, 12)), saturation=np.zeros(0), brightness=np.zeros(0)).shape == (0, 3)
