"""Tempo map for the planner: bar grids that start at 0 s, end with the video and bend to hit points.

Film-scoring practice made explicit: scene cuts are anchored on bar lines (each stretch between
two kept cuts gets an integer number of bars and its own, slightly adjusted tempo) and strong
visual beats can pull their nearest 16th step onto themselves (bounded local tempo change). A
small search over the nominal tempo near the base tempo trades tempo change, cut fit and how
close strong visual beats fall to 16th steps. Used only by :mod:`videobgm.plan`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from videobgm.types import STEPS_PER_BEAT

ACCENT_TOLERANCE_S = 0.07  # the eval hit window: a strong beat farther than this from a step misses


def fold_tempo(tempo_bpm: float, lo: float, hi: float) -> tuple[float, float]:
    """Fold ``tempo_bpm`` by factors of 2 into ``[lo, hi]``; return ``(folded, factor)``.

    When the range is narrower than an octave the octave closest (in log) to it is clipped in.
    """
    t, f = float(tempo_bpm), 1.0
    while t < lo:
        t, f = t * 2, f * 2
    while t > hi:
        t, f = t / 2, f / 2
    if t < lo:  # range narrower than an octave: t/2 < lo <= ... pick the closer octave
        if math.log(lo / t) > math.log(2 * t / hi):
            t, f = t * 2, f * 2
        t = min(max(t, lo), hi)
    return t, f


def step_times_from_beats(beat_times_s: np.ndarray) -> np.ndarray:
    """Time of every 16th step (linear inside each beat), shape (n_beats * 4 + 1,)."""
    bt = np.asarray(beat_times_s, dtype=float)
    frac = np.arange(STEPS_PER_BEAT) / STEPS_PER_BEAT
    inner = (bt[:-1, None] + np.diff(bt)[:, None] * frac[None, :]).reshape(-1)
    return np.concatenate([inner, bt[-1:]])


def nearest_index(grid: np.ndarray, t: np.ndarray) -> np.ndarray:
    i = np.clip(np.searchsorted(grid, t), 1, len(grid) - 1)
    left = grid[i - 1]
    return np.where(np.abs(t - left) <= np.abs(grid[i] - t), i - 1, i)


# ----------------------------------------------------------------------------------------------
def segments_for(tempo: float, duration: float, cuts: np.ndarray, bpb: int, min_bars: int,
                  max_warp: float) -> tuple[list[float], list[int], list[float]]:
    """Anchor cuts greedily for a nominal tempo: anchors (incl. 0 and end), bars per segment, dropped cuts."""
    bar = bpb * 60.0 / tempo
    anchors, nbars, dropped = [0.0], [], []
    for c in cuts:
        seg = c - anchors[-1]
        n = max(1, int(round(seg / bar)))
        warp = abs(math.log(n * bar / seg)) if seg > 0 else float("inf")
        rest_bars = int(round((duration - c) / bar))
        if warp <= max_warp and n >= min_bars and rest_bars >= min_bars:
            anchors.append(float(c))
            nbars.append(n)
        else:
            dropped.append(float(c))
    seg = duration - anchors[-1]
    nbars.append(max(1, int(round(seg / bar))))
    anchors.append(float(duration))
    return anchors, nbars, dropped


def beats_from_segments(anchors: list[float], nbars: list[int], bpb: int) -> np.ndarray:
    parts = [np.linspace(a, b, n * bpb + 1)[:-1] for a, b, n in zip(anchors[:-1], anchors[1:], nbars)]
    return np.concatenate(parts + [np.array([anchors[-1]])])


def lock_segment(a: float, b: float, n_steps: int, hits_s: np.ndarray,
                  max_warp: float) -> list[tuple[float, int]]:
    """Hit points ``(time, step)`` inside one segment: each strong visual beat pulls its nearest
    16th step onto itself when that changes the local tempo by at most ``max_warp``."""
    nom = (b - a) / n_steps
    pts = [(a, 0)]
    for t in hits_s[(hits_s > a) & (hits_s < b)]:
        ta, pa = pts[-1]
        p = pa + int(round((t - ta) / nom))
        if p <= pa or p >= n_steps:
            continue
        w1 = abs(math.log((p - pa) * nom / (t - ta)))
        w2 = abs(math.log((n_steps - p) * nom / (b - t)))
        if w1 <= max_warp and w2 <= max_warp:
            pts.append((float(t), p))
    pts.append((b, n_steps))
    return pts


def locked_beats(anchors: list[float], nbars: list[int], bpb: int, hits_s: np.ndarray,
                  max_warp: float) -> tuple[np.ndarray, int]:
    """Beat times whose 16th steps pass through the strong visual beats (a film-style tempo map
    of hit points); returns the beat times and the number of beats locked."""
    spb = bpb * STEPS_PER_BEAT
    beats, n_locked = [], 0
    for a, b, n in zip(anchors[:-1], anchors[1:], nbars):
        pts = lock_segment(a, b, n * spb, hits_s, max_warp)
        n_locked += len(pts) - 2
        st, tt = np.array([p for _, p in pts], float), np.array([t for t, _ in pts])
        beats.append(np.interp(np.arange(0, n * spb, STEPS_PER_BEAT), st, tt))
    return np.concatenate(beats + [np.array([anchors[-1]])]), n_locked


def hit_cost(beat_times: np.ndarray, hits_s: np.ndarray) -> tuple[float, float]:
    """(fraction of ``hits_s`` farther than 70 ms from a 16th step, mean distance in s)."""
    steps = step_times_from_beats(beat_times)
    d = np.abs(steps[nearest_index(steps, hits_s)] - hits_s)
    return float(np.mean(d > ACCENT_TOLERANCE_S)), float(np.mean(d))


def fit_grid(base: float, window: float, duration: float, cuts: np.ndarray, bpb: int,
              min_bars: int, max_warp: float, strong_beats_s: np.ndarray,
              tempo_limits: tuple[float, float]) -> dict[str, Any]:
    """Search a nominal tempo near ``base`` (within +-``window``) for the best bar grid."""
    if window > 0:
        cands = base * np.exp(np.linspace(-math.log1p(window), math.log1p(window), 121))
        cands = np.concatenate([[base], cands])
    else:
        cands = np.array([base])
    cands = cands[(cands >= tempo_limits[0]) & (cands <= tempo_limits[1])]
    if cands.size == 0:
        cands = np.array([min(max(base, tempo_limits[0]), tempo_limits[1])])
    best: dict[str, Any] | None = None
    for t in cands:
        anchors, nbars, dropped = segments_for(float(t), duration, cuts, bpb, min_bars, max_warp)
        lens = np.diff(anchors)
        seg_tempi = np.array(nbars) * bpb * 60.0 / lens
        warp = float(np.sum(lens / duration * np.abs(np.log(seg_tempi / t))))
        cost = abs(math.log(t / base)) * (0.5 if window > 0.3 else 1.0) + 2.0 * warp
        if cuts.size:
            cost += 1.0 * len(dropped) / cuts.size
        if strong_beats_s.size:
            beats = beats_from_segments(anchors, nbars, bpb)
            steps = step_times_from_beats(beats)
            d = np.abs(steps[nearest_index(steps, strong_beats_s)] - strong_beats_s)
            cost += 0.3 * float(np.mean(np.minimum(1.0, (d / ACCENT_TOLERANCE_S) ** 2)))
        if best is None or cost < best["cost"] - 1e-12:
            best = dict(tempo=float(t), anchors=anchors, nbars=nbars, dropped=dropped,
                        seg_tempi=seg_tempi, cost=cost)
    assert best is not None
    return best
