"""Film-scoring form for the planner: how strong each cut is, which cuts open sections, how the
bars between them group into phrases, and what musical event every other cut gets.

* **cut strength** in [0, 1]: ``length * (0.5 + 0.5 * (0.6 * shot difference + 0.4 * change))``.
  ``length`` is the mean of the shorter and the longer of the two shots the cut separates, each
  over ``LONG_SHOT_S`` and capped at 1 (a cut between two long shots is a scene change, a cut
  inside a burst is not; the first cut of a burst after a long shot is half-way); shot
  difference is the colour (hue histogram, half L1) plus twice the brightness change between
  the 0.6 s before and after the cut; change is the larger of the motion change (log ratio over
  1 s, log 3 = 1) and the brightness change (0.25 = 1). A detected cut always changed the
  picture, so the visual terms only raise the strength from half to full.
* **sections** only at cuts of strength >= ``BOUNDARY_STRENGTH`` that the tempo map can anchor
  on a bar line (see :func:`videobgm.plan.grid.form_grid`) or that fall near a phrase boundary;
  sections are even numbers of bars (4, 6 or 8; 2 in videos of < 8 bars), at least
  ``min_bars`` long, so at most one section change per 4 bars.
* **hit points**: every other cut gets one event on its nearest 16th step (after the grid bent
  to it): a crash (drum styles) or a stab, at most two per bar outside a section start (more
  become accents, and so does a hit less than ``MIN_CRASH_GAP_S`` after a crash / stab), plus a
  chord change on that beat where the harmony allows it.

Used only by :mod:`videobgm.plan.planner`; see ``docs/form.md``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from videobgm.types import STEPS_PER_BEAT, Features

BOUNDARY_STRENGTH = 0.5  # a cut this strong may open a section
ANACRUSIS_STRENGTH = BOUNDARY_STRENGTH  # a section-opening cut this strong gets a fill / pickup before it
LONG_SHOT_S = 6.0  # shots this long on both sides of a cut: shot-length term 1
MAX_HITS_PER_BAR = 2  # crashes / stabs per bar outside a section start
MIN_CRASH_GAP_S = 1.0  # a hit this close after a crash / stab is an accent (no cymbal on cymbal)
SNAP_BEATS = 1.0  # a strong cut within this many beats of a phrase boundary moves the section there


def _window_mean(t: np.ndarray, v: np.ndarray, a: float, b: float) -> np.ndarray | float | None:
    sel = (t >= a) & (t < b)
    if not sel.any():
        return None
    return v[sel].mean(axis=0)


def cut_strengths(features: Features, cuts: np.ndarray, duration: float) -> tuple[np.ndarray, list[str]]:
    """Strength in [0, 1] of every cut and a one-line reason for each."""
    t = np.asarray(features.frame_times_s, dtype=float)
    hist = np.asarray(features.hue_hist, dtype=float)
    bright = np.nan_to_num(np.asarray(features.brightness, dtype=float))
    speed = np.nan_to_num(np.asarray(features.motion_speed, dtype=float))
    out, why = np.zeros(cuts.size), []
    edges = np.concatenate([[0.0], cuts, [duration]])
    for i, c in enumerate(cuts):
        before, after = (c - 0.6, c - 0.04), (c + 0.04, c + 0.6)
        diff = 0.0
        if hist.ndim == 2 and hist.shape[0] == t.size and t.size:
            ha, hb = _window_mean(t, hist, *before), _window_mean(t, hist, *after)
            if ha is not None and hb is not None:
                diff = 0.5 * float(np.abs(np.asarray(ha) - np.asarray(hb)).sum())
        db = 0.0
        if bright.size == t.size and t.size:
            ba, bb = _window_mean(t, bright, *before), _window_mean(t, bright, *after)
            if ba is not None and bb is not None:
                db = abs(float(ba) - float(bb))
        diff = min(1.0, diff + 2.0 * db)
        shots = (c - edges[i], edges[i + 2] - c)
        shot = min(shots)
        length = 0.5 * min(1.0, shot / LONG_SHOT_S) + 0.5 * min(1.0, max(shots) / LONG_SHOT_S)
        dm = 0.0
        if speed.size == t.size and t.size:
            ma, mb = _window_mean(t, speed, c - 1.0, c - 0.04), _window_mean(t, speed, c + 0.04, c + 1.0)
            if ma is not None and mb is not None:
                dm = min(1.0, abs(math.log((float(mb) + 2.0) / (float(ma) + 2.0))) / math.log(3.0))
        change = max(dm, min(1.0, db / 0.25))
        s = length * (0.5 + 0.5 * (0.6 * diff + 0.4 * change))
        out[i] = round(float(s), 3)
        why.append(f"shots {shots[0]:.1f} s | {shots[1]:.1f} s, shot difference {diff:.2f}, "
                   f"motion/brightness change {change:.2f}")
    return out, why


def split_bars(n: int, min_bars: int, wants: dict[int, float], odd_tail: bool) -> list[int]:
    """Section lengths (in bars) that tile ``n`` bars: 4, 6 or 8 (``min_bars`` .. 8 for short
    videos), preferring 4 and 8 and boundaries at bar offsets in ``wants`` (offset -> weight).
    With ``odd_tail`` the last section may have one extra bar (the final ring-out bar)."""
    sizes = [4, 6, 8] if min_bars >= 4 else [2, 4, 6, 8]
    if n < min(sizes) + (1 if odd_tail else 0) or n <= 1:
        return [n]
    best: dict[int, tuple[float, list[int]]] = {0: (0.0, [])}
    for pos in range(1, n + 1):
        cands = []
        for size in sizes:
            for extra in ((0, 1) if odd_tail and pos == n else (0,)):
                a = pos - size - extra
                if a in best:
                    v = best[a][0] + (0.1 if size in (4, 8) else 0.0) + wants.get(a, 0.0) * (a > 0)
                    cands.append((v, best[a][1] + [size + extra]))
        if cands:
            best[pos] = max(cands, key=lambda x: x[0])
    if n not in best:
        return [n]
    return best[n][1]


def assign_hits(hit_t: np.ndarray, hit_steps: list[int | None], steps_s: np.ndarray, spb: int,
                section_starts: set[int], drums: bool) -> list[tuple[int | None, str, str]]:
    """Kind of each hit point: ``(step, kind, reason)``; ``step`` None = ignored."""
    used: dict[int, float] = {}
    per_bar: dict[int, int] = {}
    last_crash = -np.inf
    out: list[tuple[int | None, str, str]] = []
    n = steps_s.size - 1
    for t, k in zip(hit_t, hit_steps):
        if k is None:
            k = int(np.argmin(np.abs(steps_s[:n] - t)))
        k = min(int(k), n - 1)
        if k in used:
            out.append((None, "ignored", f"same 16th step as the cut at {used[k]:.2f} s (one hit per step)"))
            continue
        used[k] = float(t)
        bar = k // spb
        err = 1000 * abs(steps_s[k] - t)
        if k % spb == 0 and bar in section_starts:
            out.append((k, "section", f"on the downbeat of a new section ({err:.0f} ms)"))
            last_crash = float(t)
            continue
        if t - last_crash < MIN_CRASH_GAP_S:
            out.append((k, "accent", f"accented onset (kick + snare) only: a crash/stab "
                                      f"{t - last_crash:.2f} s before ({err:.0f} ms)"))
        elif per_bar.get(bar, 0) < MAX_HITS_PER_BAR:
            per_bar[bar] = per_bar.get(bar, 0) + 1
            last_crash = float(t)
            kind = "crash" if drums else "stab"
            out.append((k, kind, f"{kind} on the nearest 16th ({err:.0f} ms from the cut)"))
        else:
            out.append((k, "accent", f"accented onset only: bar {bar + 1} already has "
                                      f"{MAX_HITS_PER_BAR} crashes/stabs ({err:.0f} ms)"))
    return out


def chord_change_beats(hits: list[tuple[int | None, str, str]], per_bar: list[tuple[int, str]],
                       bpb: int, ending_bar: int | None) -> dict[int, int]:
    """Hits that may carry a chord change: bar -> beat where the next bar's chord starts early.

    Only where the harmony allows it: the hit lies in the second half of a bar, the next bar's
    chord differs from this one, the next bar is not the final tonic, and the change would not
    leave the current chord shorter than half a bar; never in two bars in a row (a steady
    harmonic rhythm, not a permanently shifted one)."""
    spb = bpb * STEPS_PER_BEAT
    out: dict[int, int] = {}
    for k, kind, _ in hits:
        if k is None or kind == "section":
            continue
        bar, beat = k // spb, int(round((k % spb) / STEPS_PER_BEAT))
        if beat * 2 < bpb or beat >= bpb or bar + 1 >= len(per_bar) or bar in out:
            continue
        if ending_bar is not None and bar + 1 >= ending_bar:
            continue
        if per_bar[bar + 1] != per_bar[bar] and bar - 1 not in out:  # never two pushes in a row
            out[bar] = beat
    return out


def cut_records(cuts: np.ndarray, strength: np.ndarray, why: list[str]) -> list[dict[str, Any]]:
    """Empty per-cut records (filled in by the planner)."""
    return [{"time_s": round(float(c), 3), "strength": float(s), "role": "ignored", "kind": "",
             "step": None, "reason": w} for c, s, w in zip(cuts, strength, why)]
