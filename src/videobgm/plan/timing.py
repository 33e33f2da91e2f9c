"""The plan's timing: its tempo, the bar grid fitted to the video and the hit points bent into it.

:func:`base_tempo` reads the description's tempo (a user's ``--tempo`` kept exactly, an edited
one kept as the nominal, a video-derived one searched within ``TEMPO_WINDOW``);
:func:`tempo_map` weighs the cuts (:mod:`videobgm.plan.form`) and fits the bar grid from 0 s
to the video's end, anchoring the strongest cuts on bar lines (:func:`videobgm.plan.grid.form_grid`);
:func:`hit_points` bends that grid so that every other cut, and the strong visual beats, land on
16th steps, and gives every cut its event. Each step records its reason. Used by
:func:`videobgm.plan.planner.make_plan`; the grid arithmetic itself is :mod:`videobgm.plan.grid`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from videobgm.config import PlanConfig
from videobgm.music import lexicon
from videobgm.plan import form
from videobgm.plan.grid import bend_to_hits, form_grid, grid_beats
from videobgm.types import STEPS_PER_BEAT, Description, Features, Section, step_times_from_beats

TEMPO_WINDOW = 0.06  # the nominal tempo is searched within this of the description's tempo

# a hit point: (16th step or None when the cut gets no event, kind, why)
Hit = tuple["int | None", str, str]


def base_tempo(cfg: PlanConfig, desc: Description) -> tuple[float, float, float, str]:
    """The description's tempo, the nominal search window, the section tempo warp, the reason.

    The tempo is always the description's. A user option (``--tempo``) is kept exactly (only hit
    points bend it, <= ``beat_warp``); an edited / text tempo keeps the nominal on it; a tempo the
    description derived from the video is searched within +-``TEMPO_WINDOW``. No half / double
    time: the window never holds a factor of 2.
    """

    t = lexicon.check_tempo(desc.tempo_bpm if desc.tempo_bpm is not None else
                     sum(lexicon.VIDEO_TEMPO_RANGE_BPM) / 2, "tempo in description")
    origin = desc.origin("tempo_bpm")
    if cfg.tempo_bpm is not None or origin == "user option":
        return t, 0.0, 0.0, f"user tempo {t:g} bpm (every section at it; hit points bend <= {100 * cfg.beat_warp:g}%)"
    if origin != "video":
        return t, 0.0, float(cfg.max_tempo_warp), f"description tempo {t:g} bpm ({origin})"
    why = f"description's tempo {t:g} bpm ({desc.reasons.get('tempo', '')})"
    return t, TEMPO_WINDOW, float(cfg.max_tempo_warp), why


@dataclass
class TempoMap:
    """The bar grid before the hit points bend it, with the cut hierarchy it was fitted to."""

    grid: dict[str, Any]  # grid.form_grid's result
    beat_times: np.ndarray  # (n_bars * bpb + 1,) s, unbent
    cut_w: np.ndarray  # (C,) cut strengths
    records: list[dict[str, Any]]  # one per cut (plan.cuts), filled in by the later steps
    cand: np.ndarray  # the cuts strong enough to open a section
    anchored: list[int]  # the cuts on bar lines (the tempo map's stretch starts)
    nbars: list[int]  # bars per stretch
    starts: np.ndarray  # bar index of each stretch start (and the end)
    min_bars: int
    warp_hits: float  # the largest local tempo bend for hit points (0: locked grid)
    base: float  # the description's tempo
    tempo_reason: str
    beats_per_bar: int

    @property
    def n_bars(self) -> int:
        return int(sum(self.nbars))


def tempo_map(features: Features, cfg: PlanConfig, desc: Description, style: str, mood: str,
               cuts: np.ndarray, strong_t: np.ndarray, reasons: dict[str, str]) -> TempoMap:
    """Tempo, cut hierarchy and the bar grid from 0 s to the video's end (``reasons["grid"]``)."""
    duration = float(features.duration_s)
    bpb = int(cfg.beats_per_bar)
    base, window, seg_warp, tempo_reason = base_tempo(cfg, desc)
    cut_w, cut_why = form.cut_strengths(features, cuts, duration)
    records = form.cut_records(cuts, cut_w, cut_why)
    bar_nom = bpb * 60.0 / base
    min_bars = int(cfg.min_section_bars) if duration >= 8 * bar_nom else min(2, int(cfg.min_section_bars))
    cand = np.flatnonzero(cut_w >= form.BOUNDARY_STRENGTH)
    warp_hits = float(cfg.beat_warp) if cfg.lock_beats else 0.0
    from videobgm.music import styles as styles_mod
    bounds = (styles_mod.idiom(style, mood).tempo_range_bpm
              if window > 0 and style in styles_mod.STYLE_IDIOMS else None)
    grid = form_grid(base, window, duration, cuts[cand], cut_w[cand], bpb, min_bars, seg_warp,
                     hits_s=cuts, hit_warp=warp_hits, beats_s=strong_t, bounds_bpm=bounds)
    anchors, nbars, fin = grid["anchors"], grid["nbars"], grid["final"]
    anchored = [int(cand[i]) for i in grid["anchored"]]
    beat_times = grid_beats(grid, bpb)
    n_bars = int(sum(nbars))
    starts = np.concatenate([[0], np.cumsum(nbars)]).astype(int)  # bar index of each anchor
    seg_list = [f"{a:.2f}-{z:.2f} s: {n} bars at {t:.1f} bpm"
                for a, z, n, t in zip(anchors[:-1], anchors[1:], nbars, grid["seg_tempi"])]
    segs = ", ".join(seg_list[:12] + ([f"... ({len(seg_list)} stretches)"] if len(seg_list) > 12 else []))
    reasons["grid"] = (f"{n_bars} bars of {bpb}/4 from 0 s to {beat_times[-1]:.3f} s (video "
                       f"{duration:.3f} s); {len(anchored)} cut(s) anchored on bar lines; tempo "
                       f"map: {segs}; last stretch: {fin['how']}"
                       + (f" (ritardando +{100 * fin['rit']:.1f}% / +{200 * fin['rit']:.1f}% on the "
                          f"last two bars)" if fin["rit"] > 0 else ""))
    return TempoMap(grid=grid, beat_times=beat_times, cut_w=cut_w, records=records, cand=cand,
                     anchored=anchored, nbars=nbars, starts=starts, min_bars=min_bars,
                     warp_hits=warp_hits, base=base, tempo_reason=tempo_reason, beats_per_bar=bpb)


def hit_points(tm: TempoMap, cfg: PlanConfig, cuts: np.ndarray, strong_t: np.ndarray,
                sections: list[Section], tracks: tuple[str, ...],
                reasons: dict[str, str]) -> tuple[np.ndarray, list[Hit]]:
    """Every cut gets one event: the grid bends <= ``beat_warp`` to put it on the cut (and to
    strong visual beats); returns the bent beat times and one hit per cut (``reasons["tempo"]``).
    The sections' times follow the bent grid."""
    bpb = tm.beats_per_bar
    spb = bpb * STEPS_PER_BEAT
    starts, anchored, warp_hits = tm.starts, tm.anchored, tm.warp_hits
    fixed = [int(x) * bpb for x in starts]
    others = [i for i in range(cuts.size) if i not in anchored]
    beat_times, placed = bend_to_hits(tm.beat_times, fixed, cuts[others], warp_hits)
    # strong visual beats (velocity accents) may bend the rest of the grid: the cuts' steps stay,
    # the total bend against the unbent grid stays within the same limit
    if strong_t.size and warp_hits > 0:
        keep = [k for k in placed if k is not None] + [int(x) * spb for x in starts]
        beat_times, _ = bend_to_hits(beat_times, [], strong_t, warp_hits, fixed_steps=keep,
                                     reference=grid_beats(tm.grid, bpb))
    bar_times = beat_times[::bpb]
    for s_ in sections:
        s_.start_s, s_.end_s = float(bar_times[s_.start_bar]), float(bar_times[s_.end_bar])
    steps = step_times_from_beats(beat_times)
    step_of = {ci: int(starts[j + 1]) * spb for j, ci in enumerate(anchored)}
    step_of.update({ci: k for ci, k in zip(others, placed)})
    order = list(range(cuts.size))
    section_starts = {s_.start_bar for s_ in sections}
    hits = form.assign_hits(cuts[order], [step_of.get(i) for i in order], steps, spb, section_starts,
                            "drums" in tracks)
    n_placed = sum(1 for k in placed if k is not None)
    mean_tempo = tm.n_bars * bpb * 60.0 / float(beat_times[-1])
    reasons["tempo"] = (f"{tm.tempo_reason}; nominal {tm.grid['tempo']:.1f} bpm "
                        f"({100 * (tm.grid['tempo'] / tm.base - 1):+.1f}%, chosen to anchor the strongest "
                        f"cuts); mean {mean_tempo:.2f} bpm after fitting; {n_placed} of "
                        f"{len(others)} hit points placed by bending the grid <= "
                        f"{100 * cfg.beat_warp:g}% locally")
    return beat_times, hits
