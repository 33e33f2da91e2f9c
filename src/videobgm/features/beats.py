"""Motion saliency, visual beats and the video's dominant tempo.

Following the visual-rhythm work (Davis & Agrawala 2018, "Visual Rhythm and Beat") used by CMT,
a visual beat is a moment of *sudden deceleration or direction change*. With the directogram
``D_t`` (flow magnitude per angle bin, px/s) of each frame:

* deceleration ``dec_t = sum_theta max(0, D_{t-1}(theta) - D_t(theta))`` -- motion lost in each
  direction (a reversal empties the old direction's bins, a stop empties all);
* suddenness ``dec_t / (sum_theta D_{t-1}(theta) + eps)`` -- the fraction of the previous motion
  lost;
* saliency ``s_t = dec_t * suddenness_t ** 2`` (px/s): large only when much motion stops or turns at
  once, so a smooth slow-down has a broad low hump and the turning point a sharp peak.

Visual beats are local maxima of ``s`` above an adaptive threshold (local median + k x local
MAD, an absolute floor, and a fraction of the local maximum). ``s_t`` compares the motion over ``(t-2, t-1)`` with that over
``(t-1, t)``. Each beat is then moved forward (at most two frames) while the motion speed still
halves -- to the frame interval in which the motion has stopped or reversed -- and placed at the
midpoint of that interval's two frames (the video's own timestamps).

**Tempo** means visual beats per minute: the lag of the highest peak of the (log-compressed,
capped) saliency's autocorrelation within ``tempo_range_bpm`` (refined by parabolic interpolation), preferring the
half lag when its peak is nearly as high. A square swinging back and forth with a 1 s period turns
twice per second: 120 bpm.
"""

from __future__ import annotations

import numpy as np


def saliency(directograms: np.ndarray, *, eps: float, power: float = 2.0) -> np.ndarray:
    """Motion saliency per frame.

    Parameters
    ----------
    directograms : ndarray, shape (T, K)
        Directogram of the motion arriving at each frame (px/s); row 0 is ignored.
    eps : float
        Motion (px/s) below which a stop is not "sudden" (keeps noise on still video small).
    power : float
        Exponent of the suddenness factor (higher = sharper peaks at complete stops/turns).

    Returns
    -------
    ndarray, shape (T,)
        ``s_t >= 0`` in px/s; ``s_0 = 0``.
    """
    d = np.asarray(directograms, dtype=float)
    out = np.zeros(d.shape[0])
    if d.shape[0] < 2:
        return out
    dec = np.maximum(d[:-1] - d[1:], 0.0).sum(axis=1)
    prev = d[:-1].sum(axis=1)
    out[1:] = dec * (dec / (prev + eps)) ** power
    return out


def adaptive_threshold(x: np.ndarray, *, window: int, k: float, floor: float) -> np.ndarray:
    """``max(floor, median + k * MAD)`` over a centred window of ``window`` samples, shape like ``x``."""
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return x.copy()
    from scipy.ndimage import median_filter

    size = 2 * max(1, window // 2) + 1
    med = median_filter(x, size=size, mode="reflect")
    mad = median_filter(np.abs(x - med), size=size, mode="reflect")
    return np.maximum(floor, med + k * mad)


def pick_beats(
    times_s: np.ndarray,
    sal: np.ndarray,
    *,
    window_s: float,
    k: float,
    floor: float,
    min_gap_s: float,
    speed: np.ndarray | None = None,
    snap_frames: int = 2,
    min_relative: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visual beats: local maxima of ``sal`` over the adaptive threshold.

    Parameters
    ----------
    times_s : ndarray, shape (T,)
        Frame times (seconds).
    sal : ndarray, shape (T,)
        Saliency from :func:`saliency`.
    window_s : float
        Window of the local median/MAD.
    k : float
        MAD multiplier of the threshold.
    floor : float
        Absolute minimum saliency (px/s) of a beat.
    min_gap_s : float
        Of two beats closer than this, the weaker is dropped.
    speed : ndarray, shape (T,), optional
        Motion speed per frame. When given, each beat moves forward (at most ``snap_frames``
        frames) while the speed still halves from one frame to the next: to the interval in
        which the motion has actually stopped or reversed, i.e. the turning point itself.
    snap_frames : int
        How far a beat may move when snapping.
    min_relative : float
        A beat must also reach this fraction of the largest saliency within ``window_s``
        (drops flow-estimation ripples next to real impacts).

    Returns
    -------
    beat_times_s : ndarray, shape (B,)
        Midpoint of frames ``i-1`` and ``i`` for each beat frame ``i``.
    strength : ndarray, shape (B,)
        Saliency relative to the 95th percentile of beat saliencies, clipped to [0, 1].
    index : ndarray of int, shape (B,)
        Frame index ``i`` of each beat.
    """
    t = np.asarray(times_s, dtype=float)
    s = np.asarray(sal, dtype=float)
    empty = (np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64))
    if s.size < 3:
        return empty
    dt = float(np.median(np.diff(t))) if t.size > 1 else 1.0
    from scipy.ndimage import maximum_filter1d

    win = max(3, int(round(window_s / dt)))
    thr = adaptive_threshold(s, window=win, k=k, floor=floor)
    if min_relative > 0:
        thr = np.maximum(thr, min_relative * maximum_filter1d(s, size=win, mode="nearest"))
    left = np.concatenate([[-np.inf], s[:-1]])
    right = np.concatenate([s[1:], [-np.inf]])
    cand = np.flatnonzero((s > left) & (s >= right) & (s > thr))
    # non-maximum suppression: strongest first
    chosen: list[int] = []
    for i in cand[np.argsort(-s[cand], kind="stable")]:
        if all(abs(t[i] - t[j]) >= min_gap_s for j in chosen):
            chosen.append(int(i))
    idx = np.asarray(sorted(chosen), dtype=np.int64)
    if idx.size == 0:
        return empty
    strength_src = s[idx]
    if speed is not None:
        v = np.asarray(speed, dtype=float)
        for n, i in enumerate(idx):
            j = int(i)
            while j - i < snap_frames and j + 1 < v.size and v[j + 1] < 0.5 * v[j]:
                j += 1
            idx[n] = j
    times = 0.5 * (t[idx - 1] + t[idx])
    ref = float(np.percentile(strength_src, 95))
    strength = np.clip(strength_src / ref, 0.0, 1.0) if ref > 0 else np.ones(idx.size)
    return times, strength, idx


def estimate_tempo(
    times_s: np.ndarray,
    sal: np.ndarray,
    *,
    bpm_range: tuple[float, float],
    half_lag_ratio: float = 0.5,
    min_confidence: float = 0.25,
    cap_percentile: float = 99.5,
) -> tuple[float, float]:
    """Dominant visual tempo from the autocorrelation of saliency.

    The saliency is first resampled onto a uniform grid at the median frame interval (variable
    frame rates), smoothed by a one-frame Gaussian (beats that jitter by a frame still line up),
    mean-removed, and autocorrelated (biased estimate, normalised to 1 at lag 0).

    Parameters
    ----------
    times_s, sal : ndarray, shape (T,)
        Frame times and saliency.
    bpm_range : (float, float)
        Accepted tempi (beats per minute); lags outside are ignored.
    half_lag_ratio : float
        If the autocorrelation peak at about half the chosen lag is at least this fraction of
        the chosen peak, the faster tempo is taken (twice the beats, e.g. both turning points).
    min_confidence : float
        Below this normalised autocorrelation the video has no tempo (NaN).
    cap_percentile : float
        Saliency is first compressed (``log1p``) and capped at this percentile of its positive
        values, so that one outlier (a flash, a jump in the picture) cannot dominate the
        autocorrelation.

    Returns
    -------
    tempo_bpm : float
        NaN when there is no periodic motion within range.
    confidence : float
        Normalised autocorrelation at the chosen lag, in [0, 1].
    """
    t = np.asarray(times_s, dtype=float)
    s = np.asarray(sal, dtype=float)
    nan = (float("nan"), 0.0)
    if t.size < 8 or not np.any(s > 0):
        return nan
    dt = float(np.median(np.diff(t)))
    if dt <= 0:
        return nan
    s = np.log1p(np.maximum(s, 0.0))  # compress: a few huge values must not dominate
    s = np.minimum(s, np.percentile(s[s > 0], cap_percentile))
    grid = np.arange(t[0], t[-1] + 0.5 * dt, dt)
    x = np.interp(grid, t, s)
    # smooth by ~1 frame so that beats jittering by a frame (14/16/14/16...) still line up
    from scipy.ndimage import gaussian_filter1d

    x = gaussian_filter1d(x, sigma=1.0, mode="constant")
    x = x - x.mean()
    n = x.size
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(x, size)
    ac = np.fft.irfft(spec * np.conj(spec), size)[:n]
    if ac[0] <= 0:
        return nan
    ac = ac / ac[0]
    lo_bpm, hi_bpm = float(min(bpm_range)), float(max(bpm_range))
    lag_min = max(1, int(np.floor(60.0 / hi_bpm / dt)) - 1)
    lag_max = min(n - 2, int(np.ceil(60.0 / lo_bpm / dt)) + 1)
    if lag_max <= lag_min:
        return nan
    lags = np.arange(max(1, lag_min), lag_max + 1)
    # true local maxima only: a lag at the edge of the range is not a peak of the range
    peaks = [int(lag) for lag in lags[1:-1] if ac[lag] > ac[lag - 1] and ac[lag] >= ac[lag + 1]]
    if not peaks:
        return nan
    best = max(peaks, key=lambda lag: ac[lag])
    while True:  # prefer the half lag (faster tempo) when its peak is nearly as strong
        half = [p for p in peaks if abs(p - best / 2) <= max(1.0, 0.1 * best / 2)]
        if not half:
            break
        h = max(half, key=lambda lag: ac[lag])
        if ac[h] < half_lag_ratio * ac[best]:
            break
        best = h
    a, b, c = ac[best - 1], ac[best], ac[best + 1]
    denom = a - 2 * b + c
    shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
    lag_s = (best + float(np.clip(shift, -0.5, 0.5))) * dt
    bpm = 60.0 / lag_s
    conf = float(np.clip(b, 0.0, 1.0))
    if conf < min_confidence:
        return float("nan"), 0.0
    if not lo_bpm <= bpm <= hi_bpm:
        return float("nan"), 0.0
    return float(bpm), conf
