"""Colour over time: brightness, saturation, 12-bin hue histogram and warmth per frame."""

from __future__ import annotations

import numpy as np

N_HUE_BINS = 12
WARM_HUE_DEG = 30.0  # orange: warmth = +1 there, -1 at the opposite hue (210 deg, cyan-blue)
GREY_SATURATION = 0.02  # a frame whose mean saturation is below this has an all-zero hue histogram
# per 8-bit hue code (0..255 = 0..360 deg): cos(hue - 30 deg) and the 12-bin index
_WARM_LUT = np.cos(np.deg2rad(np.arange(256) * (360.0 / 256.0) - WARM_HUE_DEG)).astype(np.float32)
_BIN_LUT = (np.arange(256) * N_HUE_BINS) // 256


def hsv_stack(frames: np.ndarray) -> np.ndarray:
    """RGB frames uint8 (N, H, W, 3) -> HSV uint8 (N, H, W, 3), hue 0..255 = 0..360 deg (one cv2 call)."""
    import cv2

    n, h, w, _ = frames.shape
    hsv = cv2.cvtColor(np.ascontiguousarray(frames).reshape(n * h, w, 3), cv2.COLOR_RGB2HSV_FULL)
    return hsv.reshape(n, h, w, 3)


def color_stats(hsv: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame colour statistics.

    Parameters
    ----------
    hsv : ndarray of uint8, shape (N, H, W, 3)
        From :func:`hsv_stack`.

    Returns
    -------
    dict with
        ``brightness`` (N,) mean HSV value in [0, 1]; ``saturation`` (N,) mean saturation in
        [0, 1]; ``warmth`` (N,) in [-1, 1], the mean over pixels of ``s * cos(hue - 30 deg)``
        (grey frames give 0, vivid orange/red/yellow positive, cyan/blue negative);
        ``hue_hist`` (N, 12) saturation-weighted hue histogram (bins of 30 deg from red),
        rows sum to 1, or 0 for grey frames.
    """
    n = hsv.shape[0]
    flat = hsv.reshape(n, -1, 3)
    npix = flat.shape[1]
    h8 = flat[..., 0]
    sat = flat[..., 1].astype(np.float32) * np.float32(1 / 255)
    brightness = flat[..., 2].mean(axis=1, dtype=np.float64) / 255.0
    saturation = sat.mean(axis=1, dtype=np.float64)
    warmth = (sat * _WARM_LUT[h8]).mean(axis=1, dtype=np.float64)
    idx = (_BIN_LUT[h8] + (N_HUE_BINS * np.arange(n, dtype=np.int64))[:, None]).ravel()
    hist = np.bincount(idx, weights=sat.ravel(), minlength=n * N_HUE_BINS).reshape(n, N_HUE_BINS)
    total = hist.sum(axis=1, keepdims=True)
    grey = (total[:, 0] / npix) < GREY_SATURATION
    hist = np.where(total > 0, hist / np.maximum(total, 1e-12), 0.0)
    hist[grey] = 0.0
    return {
        "brightness": brightness.astype(float),
        "saturation": saturation.astype(float),
        "warmth": np.clip(warmth, -1.0, 1.0).astype(float),
        "hue_hist": hist.astype(float),
    }


def frame_rgb(*, hue_hist: np.ndarray, saturation: np.ndarray, brightness: np.ndarray) -> np.ndarray:
    """Approximate mean colour of each frame, RGB float in [0, 1], shape (T, 3) (T = frames).

    Hue = circular mean of the frame's :func:`color_stats` hue histogram (bin centres); saturation
    and value = the frame's mean saturation and brightness. A histogram whose row count is not T
    gives hue 0 (red) throughout.
    """
    import colorsys

    sat = np.clip(np.asarray(saturation, dtype=float).reshape(-1), 0, 1)
    val = np.clip(np.asarray(brightness, dtype=float).reshape(-1), 0, 1)
    t = min(sat.size, val.size)
    hist = np.asarray(hue_hist, dtype=float).reshape(-1, N_HUE_BINS)
    hue = np.zeros(t)
    if hist.shape[0] == t:
        ang = (np.arange(N_HUE_BINS) + 0.5) * (2 * np.pi / N_HUE_BINS)
        hue = (np.arctan2(hist @ np.sin(ang), hist @ np.cos(ang)) / (2 * np.pi)) % 1.0
    return np.array([colorsys.hsv_to_rgb(h, s, v) for h, s, v in zip(hue, sat[:t], val[:t])]).reshape(-1, 3)
