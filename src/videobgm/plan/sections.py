"""The plan's sections on its bar grid: where each starts, its energy and its label.

A section starts at the video's start, at every cut the tempo map anchored on a bar line, at a
strong cut within ``form.SNAP_BEATS`` of a phrase boundary (the boundary moves to it) and at the
other phrase boundaries of :func:`videobgm.plan.form.split_bars`, plus the end of a 4-bar intro
in long pieces (:func:`section_bounds`). Each section's energy is the description's
(:func:`description_energy`, the one source of energy); labels are intro / outro around three or
more sections and verse / chorus by energy (:func:`make_sections`). Used by
:func:`videobgm.plan.planner.make_plan`.
"""

from __future__ import annotations

import numpy as np

from videobgm.plan import form
from videobgm.types import Description, Section

# bar -> (why a section starts there, the index of the cut that opens it or None)
Bounds = dict[int, tuple[str, "int | None"]]


def description_energy(desc: Description, times_s: np.ndarray, duration_s: float) -> np.ndarray:
    """The description's energy at ``times_s``: its sections' energies by time, else its energy
    curve spread evenly over the duration, else 0.5."""
    t = np.asarray(times_s, dtype=float)
    secs = [s for s in desc.sections if "start_s" in s and "end_s" in s]
    if secs:
        out = np.full(t.shape, float(secs[-1].get("energy", 0.5)))
        for s in reversed(secs):
            inside = (t >= float(s["start_s"])) & (t < float(s["end_s"]))
            out[inside] = float(s.get("energy", 0.5))
        return out
    if desc.energy_curve:
        e = np.asarray(desc.energy_curve, dtype=float)
        return np.interp(t / max(duration_s, 1e-9), (np.arange(e.size) + 0.5) / e.size, e)
    return np.full(t.shape, 0.5)


def section_bounds(bar_times: np.ndarray, beat_s: float, cuts: np.ndarray, cut_w: np.ndarray,
                   cand: np.ndarray, anchored: list[int], starts: np.ndarray, nbars: list[int],
                   min_bars: int) -> tuple[Bounds, int]:
    """Section starts (bar -> (reason, cut index or None)) and the intro's length in bars.

    ``cand``: the cuts strong enough to open a section; ``anchored``: those on the bar lines
    ``starts`` of the tempo map's stretches of ``nbars`` bars; ``beat_s``: the median beat.
    """
    n_bars = len(bar_times) - 1
    snap: dict[int, tuple[float, int]] = {}  # bar -> (strength, cut index) of a nearby strong cut
    for ci in cand:
        if ci in anchored:
            continue
        k = int(np.argmin(np.abs(bar_times - cuts[ci])))
        if abs(bar_times[k] - cuts[ci]) <= form.SNAP_BEATS * beat_s and cut_w[ci] > snap.get(k, (0, 0))[0]:
            snap[k] = (float(cut_w[ci]), int(ci))
    bounds: Bounds = {0: ("start of the video", None)}
    for si, (a0, n) in enumerate(zip(starts[:-1], nbars)):
        if si > 0:
            ci = anchored[si - 1]
            bounds[int(a0)] = (f"strong cut at {cuts[ci]:.2f} s (strength {cut_w[ci]:.2f}) on the "
                               f"bar line", ci)
        last = si == len(nbars) - 1
        wants = {k - int(a0): w for k, (w, _) in snap.items() if a0 < k < a0 + n}
        sizes = form.split_bars(int(n), min_bars, wants, odd_tail=last and n % 2 == 1)
        pos = int(a0)
        for size in sizes[:-1]:
            pos += size
            if pos in snap:
                w, ci = snap[pos]
                bounds[pos] = (f"strong cut at {cuts[ci]:.2f} s (strength {w:.2f}) within a beat: "
                               f"section moved to this bar line", ci)
            else:
                bounds[pos] = (f"phrase boundary ({size}-bar phrase)", None)
    intro = 0 if n_bars < 6 else 2 if n_bars < 32 else 4
    first_end = min([k for k in bounds if k > 0] + [n_bars])
    if intro == 4 and first_end >= 8:
        bounds[4] = ("end of the 4-bar intro", None)
    return bounds, intro


def make_sections(bounds: Bounds, bar_times: np.ndarray, desc: Description,
                  reasons: dict[str, str]) -> list[Section]:
    """One :class:`Section` per stretch between ``bounds`` (``reasons["sections"]``)."""
    n_bars = len(bar_times) - 1
    edges = sorted({*bounds, n_bars})
    # each bar's energy is the description's at the bar's centre (the one source of energy)
    lvl = description_energy(desc, 0.5 * (bar_times[:-1] + bar_times[1:]), float(bar_times[-1]))
    sections = []
    for a, z in zip(edges[:-1], edges[1:]):
        energy = float(np.mean(lvl[a:z])) if z > a else 0.5
        sections.append(Section(start_bar=a, end_bar=z, label="", start_s=float(bar_times[a]),
                                end_s=float(bar_times[z]), energy=round(energy, 3),
                                reason=bounds[a][0]))
    # labels: intro/outro around >= 3 sections; the rest verse/chorus by the description's energy
    mids = sections[1:-1] if len(sections) >= 3 else sections
    med = float(np.median([s.energy for s in mids])) if mids else 0.5
    for s in sections:
        s.label = "chorus" if s.energy > med else "verse"
    if len(sections) >= 3:
        sections[0].label, sections[-1].label = "intro", "outro"
    lens = [z - a for a, z in zip(edges[:-1], edges[1:])]
    shown = str(lens) if len(lens) <= 40 else f"{str(lens[:40])[:-1]}, ...]"
    reasons["sections"] = f"{len(sections)} sections, lengths in bars {shown}"
    return sections
