"""Colour over time: brightness, saturation, 12-bin hue histogram and warmth per frame."""

from __future__ import annotations

import numpy as np

N_HUE_BINS = 12
WARM_HUE_DEG = 30.0  # orange: warmth = +1 there, -1 at the opposite hue (210 deg, cyan-blue)
GREY_SATURATION = 0.02  # a frame whose mean saturation is below this has an all-zero hue histogram


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
    hue = flat[..., 0].astype(np.float32) * (360.0 / 256.0)
    sat = flat[..., 1].astype(np.float32) / 255.0
    val = flat[..., 2].astype(np.float32) / 255.0
    brightness = val.mean(axis=1)
    saturation = sat.mean(axis=1)
    warmth = (sat * np.cos(np.deg2rad(hue - WARM_HUE_DEG))).mean(axis=1)
    bins = (flat[..., 0].astype(np.int64) * N_HUE_BINS) // 256
    idx = (bins + N_HUE_BINS * np.arange(n)[:, None]).ravel()
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
