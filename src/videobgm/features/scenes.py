"""Hard scene cuts from colour-histogram differences between consecutive analysis frames.

Each frame gets a joint HSV histogram (8 hue x 4 saturation x 4 value bins) on a 2 x 2 grid of
tiles; the distance between consecutive frames is half the L1 distance of these histograms,
averaged over tiles, in [0, 1]. A cut is a frame whose distance exceeds an absolute threshold and
is several times the local median distance (so fast motion, which raises every distance, does not
fire), that also changes the pixels themselves (so a brightness ramp crossing a bin edge does not
fire), keeping the strongest within ``min_cut_gap_s``. Gradual transitions (fades, dissolves) are
not detected.
"""

from __future__ import annotations

import numpy as np

GRID = 2
N_BINS = 8 * 4 * 4


def frame_histograms(hsv: np.ndarray) -> np.ndarray:
    """HSV frames uint8 (N, H, W, 3) -> normalised tile histograms, shape (N, GRID*GRID, 128)."""
    n, h, w, _ = hsv.shape
    code = ((hsv[..., 0] >> 5).astype(np.int64) << 4) | ((hsv[..., 1] >> 6) << 2) | (hsv[..., 2] >> 6)
    ty = np.minimum(np.arange(h) * GRID // h, GRID - 1)
    tx = np.minimum(np.arange(w) * GRID // w, GRID - 1)
    tile = (ty[:, None] * GRID + tx[None, :])[None]
    idx = (np.arange(n)[:, None, None] * (GRID * GRID) + tile) * N_BINS + code
    hist = np.bincount(idx.ravel(), minlength=n * GRID * GRID * N_BINS).astype(np.float32)
    hist = hist.reshape(n, GRID * GRID, N_BINS)
    return hist / np.maximum(hist.sum(axis=2, keepdims=True), 1.0)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over tiles of half the L1 distance between tile histograms (GRID*GRID, 128); in [0, 1]."""
    return float(0.5 * np.abs(a - b).sum(axis=-1).mean())


def detect_cuts(
    times_s: np.ndarray,
    distance: np.ndarray,
    *,
    threshold: float,
    ratio: float,
    min_gap_s: float,
    window_s: float = 1.0,
    pixel_change: np.ndarray | None = None,
    min_pixel_change: float = 0.0,
) -> np.ndarray:
    """Indices of frames that start a new shot.

    Parameters
    ----------
    times_s : ndarray, shape (T,)
        Frame times.
    distance : ndarray, shape (T,)
        Histogram distance of frame ``t`` to frame ``t - 1`` (``distance[0] = 0``).
    threshold : float
        Absolute minimum distance of a cut, in [0, 1].
    ratio : float
        A cut's distance must also be at least ``ratio`` x the median distance of the frames
        within ``window_s`` around it (the candidate itself excluded).
    min_gap_s : float
        Of two cuts closer than this, only the stronger is kept.
    window_s : float
        Half-width of the local-median window.
    pixel_change : ndarray, shape (T,), optional
        Mean absolute grey-level change of frame ``t`` from ``t - 1``, in [0, 1].
    min_pixel_change : float
        A cut must also change the pixels by at least this much on average: a smooth brightness
        ramp pushes a flat frame across a histogram bin edge (large histogram distance) while
        hardly changing any pixel.

    Returns
    -------
    ndarray of int, shape (C,)
        Frame indices (the first frame of each new shot), increasing.
    """
    times_s = np.asarray(times_s, dtype=float)
    d = np.asarray(distance, dtype=float)
    ok = d >= threshold
    if pixel_change is not None:
        ok &= np.asarray(pixel_change, dtype=float) >= min_pixel_change
    cand = np.flatnonzero(ok)
    keep: list[int] = []
    for i in cand:
        lo = np.searchsorted(times_s, times_s[i] - window_s)
        hi = np.searchsorted(times_s, times_s[i] + window_s, side="right")
        around = np.concatenate([d[lo:i], d[i + 1:hi]])
        local = float(np.median(around)) if around.size else 0.0
        if d[i] < ratio * local:
            continue
        if keep and times_s[i] - times_s[keep[-1]] < min_gap_s:
            if d[i] > d[keep[-1]]:
                keep[-1] = int(i)
            continue
        keep.append(int(i))
    return np.asarray(keep, dtype=np.int64)
