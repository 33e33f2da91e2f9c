"""Tempo map for the planner: a steady bar grid that starts at 0 s, bends a little to hit points
and ends with a held final bar.

Film-scoring practice made explicit (see ``docs/form.md``):

* a nominal tempo near the description's (within ``window``), one tempo for the whole piece;
* only the strongest cuts are *anchored* on bar lines: the stretch between two anchored cuts is
  an even number of bars (>= ``min_bars``) whose tempo differs from the nominal by at most
  ``seg_warp`` (so two sections differ by at most twice that). A dynamic programme picks the
  chain of anchored cuts with the largest total cut strength;
* the last stretch ends the piece: its bars run at the nominal tempo (at most ``seg_warp``
  slower, plus a written ritardando of <= 5 % / 10 % on the last two bars) to end with the
  video, or, where that cannot be, the last bar runs past the video's end (the renderer trims;
  the final chord rings through the cut-off). The last bar always starts >= 1 beat before it;
* every other cut is a *hit point*: :func:`bend_to_hits` pulls its nearest 16th step onto it by
  bending the local tempo by at most ``HIT_WARP`` (4 %) between fixed points, never as a step.

Used only by :mod:`videobgm.plan.planner`.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np

from videobgm.types import STEPS_PER_BEAT, step_times_from_beats

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


def nearest_index(grid: np.ndarray, t: np.ndarray) -> np.ndarray:
    i = np.clip(np.searchsorted(grid, t), 1, len(grid) - 1)
    left = grid[i - 1]
    return np.where(np.abs(t - left) <= np.abs(grid[i] - t), i - 1, i)


HIT_WARP = 0.04  # largest local tempo bend used to put a hit point on its cut
RIT_MAX = 0.05  # ritardando of the last two bars: +RIT_MAX and +2*RIT_MAX of a bar at most


def final_stretch(t0: float, duration: float, bar_s: float, bpb: int, min_bars: int,
                  seg_warp: float) -> dict[str, Any] | None:
    """How the last stretch (from an anchored cut at ``t0`` to the end) is laid out, or None.

    Returns ``{"bars", "scale", "rit", "end_s", "cost", "how"}``: ``bars`` bars of
    ``bar_s * scale`` seconds, the last two lengthened by ``rit`` and ``2 * rit`` (fractions),
    ending at ``end_s`` (== ``duration`` unless the last bar runs past it).
    """
    length = duration - t0
    x = length / bar_s
    best = None
    for m in {max(1, int(math.floor(x))), max(1, int(round(x))), int(math.ceil(x))}:
        if m < min_bars:
            continue
        f = length / (m * bar_s)
        opts = []
        if abs(math.log(f)) <= seg_warp:
            opts.append(dict(bars=m, scale=f, rit=0.0, end_s=duration, cost=abs(math.log(f)), how="exact"))
        if f > 1 + seg_warp and m >= 2:
            g = 1 + seg_warp
            r = (length - m * bar_s * g) / (3 * bar_s * g)
            if r <= RIT_MAX:
                opts.append(dict(bars=m, scale=g, rit=r, end_s=duration, cost=math.log(g) + 2 * r,
                                 how="ritardando"))
        if m * bar_s >= length and t0 + (m - 1) * bar_s <= duration - bar_s / bpb:
            over = (m * bar_s - length) / bar_s
            ring = (duration - t0 - (m - 1) * bar_s) / bar_s  # part of the last bar heard
            opts.append(dict(bars=m, scale=1.0, rit=0.0, end_s=t0 + m * bar_s,
                             cost=0.02 + 0.1 * over + 0.05 * (1 - ring), how="rings past the end"))
        for o in opts:
            if best is None or o["cost"] < best["cost"]:
                best = o
    return best


def form_grid(base: float, window: float, duration: float, cut_t: np.ndarray, cut_w: np.ndarray,
              bpb: int, min_bars: int, seg_warp: float, n_tempi: int = 33,
              hits_s: np.ndarray | None = None, hit_warp: float = HIT_WARP,
              n_refine: int = 64, beats_s: np.ndarray | None = None,
              bounds_bpm: tuple[float, float] | None = None) -> dict[str, Any]:
    """Search the nominal tempo (``base`` * (1 +- ``window``)) and the anchored cuts.

    Parameters
    ----------
    cut_t, cut_w : ndarray, shape (K,)
        Times and weights (cut strength) of the cuts that may open a section.
    hits_s : ndarray, optional
        Every cut: the ``n_refine`` best tempi by anchoring are re-scored by how close the hit
        points come to their 16th steps once the grid is bent (:func:`bend_to_hits`).
    beats_s : ndarray, optional
        Strong visual beats (velocity accents): a lighter term for how close they fall to a step.
    bounds_bpm : (float, float), optional
        The style x mood tempo range: searched tempi outside it are left out (``base`` stays).

    Returns
    -------
    dict
        ``tempo`` (nominal bpm), ``anchors`` (0, anchored cuts, end of the grid), ``nbars`` per
        stretch, ``seg_tempi``, ``final`` (see :func:`final_stretch`), ``anchored`` (indices into
        ``cut_t``), ``cost``.
    """
    if window > 0:
        cands = base * np.exp(np.linspace(-math.log1p(window), math.log1p(window), n_tempi))
        if bounds_bpm is not None:
            cands = cands[(cands >= bounds_bpm[0]) & (cands <= bounds_bpm[1])]
        cands = np.concatenate([[base], cands])
    else:
        cands = np.array([base])
    nodes = np.concatenate([[0.0], np.asarray(cut_t, dtype=float)])
    weights = np.concatenate([[0.0], np.asarray(cut_w, dtype=float)])
    k = nodes.size
    results: list[dict[str, Any]] = []
    for tempo in cands:
        bar = bpb * 60.0 / float(tempo)
        val = np.full(k, -np.inf)
        val[0] = 0.0
        prev = np.full(k, -1)
        nb = np.zeros(k, dtype=int)
        for j in range(1, k):
            seg = nodes[j] - nodes[:j]
            n = 2 * np.round(seg / bar / 2)
            with np.errstate(divide="ignore", invalid="ignore"):
                dev = np.abs(np.log(n * bar / seg))
            v = val[:j] + weights[j] - 2.0 * dev - 0.05
            v[~((n >= min_bars) & (dev <= seg_warp) & np.isfinite(val[:j]))] = -np.inf
            i = int(np.argmax(v))
            if np.isfinite(v[i]):
                val[j], prev[j], nb[j] = v[i], i, int(n[i])
        end_best = None
        for i in range(k):
            if not np.isfinite(val[i]):
                continue
            # a video too short for min_bars bars: one stretch of whatever fits
            mb = min_bars if duration - nodes[i] >= min_bars * bar * 0.9 or i > 0 else 1
            fin = final_stretch(float(nodes[i]), duration, bar, bpb, mb, seg_warp)
            if fin is None:
                continue
            v = val[i] - fin["cost"]
            if end_best is None or v > end_best[0]:
                end_best = (v, i, fin)
        if end_best is None:
            continue
        v, i, fin = end_best
        cost = -v + 3.0 * abs(math.log(tempo / base))
        chain = []
        while i > 0:
            chain.append(i)
            i = int(prev[i])
        chain = chain[::-1]
        anchors = [0.0] + [float(nodes[c]) for c in chain]
        nbars = [int(nb[c]) for c in chain]
        anchors.append(float(fin["end_s"]))
        nbars.append(int(fin["bars"]))
        lens = np.diff(anchors)
        seg_tempi = np.array(nbars) * bpb * 60.0 / lens
        results.append(dict(tempo=float(tempo), anchors=anchors, nbars=nbars, seg_tempi=seg_tempi,
                            final=fin, anchored=[c - 1 for c in chain], cost=cost))
    best: dict[str, Any] | None = None
    results.sort(key=lambda r: r["cost"])
    hits = np.zeros(0) if hits_s is None else np.asarray(hits_s, dtype=float)
    vis = np.zeros(0) if beats_s is None else np.asarray(beats_s, dtype=float)
    for r in results[: max(1, n_refine) if hits.size or vis.size else 1]:
        beats = grid_beats(r, bpb)
        if hits.size:
            fixed = list(np.concatenate([[0], np.cumsum(r["nbars"])]) * bpb)
            beats, _ = bend_to_hits(beats, fixed, hits, hit_warp)
            steps = step_times_from_beats(beats)
            d = np.abs(steps[nearest_index(steps, hits)] - hits)
            r["hit_cost"] = float(np.mean(np.minimum(1.0, (d / ACCENT_TOLERANCE_S) ** 2)))
            r["cost"] += 1.5 * r["hit_cost"]
        if vis.size:
            steps = step_times_from_beats(beats)
            d = np.abs(steps[nearest_index(steps, vis)] - vis)
            r["cost"] += 0.5 * float(np.mean(np.minimum(1.0, (d / ACCENT_TOLERANCE_S) ** 2)))
        if best is None or r["cost"] < best["cost"] - 1e-12:
            best = r
    if best is None:  # nothing fits (cannot happen for positive durations): one bar
        bar = bpb * 60.0 / base
        fin = dict(bars=1, scale=1.0, rit=0.0, end_s=max(duration, bar), cost=0.0, how="one bar")
        best = dict(tempo=float(base), anchors=[0.0, fin["end_s"]], nbars=[1],
                    seg_tempi=np.array([base]), final=fin, anchored=[], cost=0.0)
    return best


def grid_beats(grid: dict[str, Any], bpb: int) -> np.ndarray:
    """Beat times of a :func:`form_grid` result: uniform inside each anchored stretch; the last
    stretch at its scale with the ritardando on its last two bars."""
    anchors, nbars, fin = grid["anchors"], grid["nbars"], grid["final"]
    parts = [np.linspace(a, b, n * bpb + 1)[:-1]
             for a, b, n in zip(anchors[:-2], anchors[1:-1], nbars[:-1])]
    m = nbars[-1]
    bar_len = np.ones(m)
    if fin["rit"] > 0 and m >= 2:
        bar_len[-2] += fin["rit"]
        bar_len[-1] += 2 * fin["rit"]
    edges = np.concatenate([[0.0], np.cumsum(bar_len)])
    edges = anchors[-2] + (anchors[-1] - anchors[-2]) * edges / edges[-1]
    beats = (edges[:-1, None] + np.diff(edges)[:, None] * (np.arange(bpb) / bpb)[None, :]).ravel()
    return np.concatenate(parts + [beats, np.array([anchors[-1]])])


def bend_to_hits(beat_times: np.ndarray, fixed_beats: list[int], hits_s: np.ndarray,
                 max_warp: float = HIT_WARP, fixed_steps: list[int] = (),
                 reference: np.ndarray | None = None) -> tuple[np.ndarray, list[int | None]]:
    """Bend the grid so that the nearest 16th step of each hit falls on it (or as close as the
    limit allows).

    Between two fixed points (the fixed beats, 0 and the end, ``fixed_steps`` and every hit
    already placed) the steps move linearly; a hit's step moves onto the hit, or as close to it
    as keeps both stretches it creates within ``max_warp`` (relative) of the ``reference`` grid's
    tempo (beat times; default the grid given, so a second pass over a bent grid stays within the
    same limit). Returns the new beat times and, per hit, the step it was placed on (None when it
    could not be brought closer).
    """
    cur = step_times_from_beats(np.asarray(beat_times, dtype=float))
    base = cur.copy() if reference is None else step_times_from_beats(np.asarray(reference, dtype=float))
    n = base.size - 1
    fixed = sorted({0, n, *[STEPS_PER_BEAT * int(b) for b in fixed_beats if 0 <= b * STEPS_PER_BEAT <= n],
                    *[int(k) for k in fixed_steps if 0 <= k <= n]})
    g = 1.0 + float(max_warp)
    placed: list[int | None] = []
    for h in np.asarray(hits_s, dtype=float):
        jr = int(np.searchsorted(cur, h, side="right")) - 1  # cur[jr] <= h < cur[jr + 1]
        if jr < 0 or jr >= n or g <= 1.0:
            placed.append(None)
            continue
        i = bisect.bisect_right(fixed, jr) - 1
        kp = fixed[i]
        kq = fixed[i + 1] if i + 1 < len(fixed) else n
        near = min((jr, jr + 1), key=lambda x: abs(cur[x] - h))
        if abs(cur[near] - h) <= 1e-9:  # already on a step: keep it there
            if near not in fixed:
                bisect.insort(fixed, near)
            placed.append(near)
            continue
        best = None
        for k in sorted({jr, jr + 1}, key=lambda x: abs(cur[x] - h)):
            if not kp < k < kq:
                continue
            l1, l2 = base[k] - base[kp], base[kq] - base[k]
            lo = max(cur[kp] + l1 / g, cur[kq] - l2 * g)
            hi = min(cur[kp] + l1 * g, cur[kq] - l2 / g)
            if lo > hi:
                continue
            t = min(max(h, lo), hi)
            if best is None or abs(t - h) < abs(best[1] - h):
                best = (k, t)
        if best is None or abs(best[1] - h) >= abs(cur[best[0]] - h) - 1e-12:
            placed.append(None)
            continue
        k, t = best
        # tempo of each new stretch against the reference grid's (ratio of step lengths)
        r1 = (t - cur[kp]) / (base[k] - base[kp])
        r2 = (cur[kq] - t) / (base[kq] - base[k])
        seg1, seg2 = np.arange(kp, k + 1), np.arange(k, kq + 1)
        left = cur[kp]
        cur[seg2] = t + (base[seg2] - base[k]) * r2
        cur[seg1] = left + (base[seg1] - base[kp]) * r1
        bisect.insort(fixed, k)
        placed.append(k)
    return cur[::STEPS_PER_BEAT].copy(), placed
