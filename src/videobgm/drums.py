"""A rule-based drum part that follows the plan (the model never samples drums: POP909 has none).

``drum_part(plan)`` returns GM percussion notes (track ``"drums"``) on the plan's 16th grid when
``"drums"`` is one of ``plan.controls.tracks``:

* groove per bar from its planned density (POP909 onsets-per-bar quantile): kick on the
  downbeat and the middle of the bar, snare/clap on the back beats, closed hi-hat on 8ths
  (16ths in dense bars, quarter notes in sparse ones), an extra kick pick-up in dense bars;
* every accent step (a strong visual beat) gets a kick plus an open hi-hat (or a crash on a
  section start) at full velocity, so the visual hits are also heard in the drums;
* a crash on the first beat of every section after the first, a short tom fill on the last beat
  before it (sections of 2 bars or more), and a final hit on the last bar's downbeat (the piece
  resolves, the render fades it).

Deterministic: no randomness, the same plan gives the same notes.
"""

from __future__ import annotations

import numpy as np

from videobgm.types import STEPS_PER_BEAT, Note, Plan

KICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH, LOW_TOM, MID_TOM, HIGH_TOM = 36, 38, 42, 46, 49, 45, 47, 50


def _backbeats(bpb: int) -> list[int]:
    return {2: [1], 3: [1, 2], 4: [1, 3], 6: [3]}.get(bpb, [bpb // 2])


def drum_part(plan: Plan) -> list[Note]:
    """Drum notes for ``plan`` (empty when the plan has no drums track), sorted."""
    c = plan.controls
    if "drums" not in c.tracks or c.n_bars <= 0:
        return []
    bpb, spb = c.beats_per_bar, c.steps_per_bar
    dens = np.asarray(c.density_per_bar, dtype=float)
    # density level of each bar within the piece, 0..1 (rank, ties averaged)
    order = np.argsort(np.argsort(dens, kind="mergesort"), kind="mergesort")
    level = (order + 0.5) / max(1, dens.size) if dens.size else np.zeros(0)
    section_starts = {s.start_bar for s in plan.sections[1:]}
    notes: dict[tuple[int, int], int] = {}  # (step, key) -> velocity

    def hit(step: int, key: int, vel: int) -> None:
        if 0 <= step < c.n_bars * spb:
            notes[(step, key)] = max(notes.get((step, key), 0), int(np.clip(vel, 1, 127)))

    last = c.n_bars - 1
    for b in range(c.n_bars):
        s0 = b * spb
        lv = float(level[b]) if level.size else 0.5
        base = int(70 + 30 * lv)
        if b == last and c.n_bars > 1:
            hit(s0, KICK, 110)
            hit(s0, CRASH, 105)
            continue
        hit(s0, KICK, base + 15)
        if bpb >= 4:
            hit(s0 + (bpb // 2) * STEPS_PER_BEAT, KICK, base + 5)
        if lv > 0.66:
            hit(s0 + (bpb - 1) * STEPS_PER_BEAT + 2, KICK, base)  # pick-up into the next bar
        for beat in _backbeats(bpb):
            hit(s0 + beat * STEPS_PER_BEAT, SNARE, base + 10)
        hat_step = 1 if lv > 0.8 else (2 if lv > 0.25 else 4)
        for st in range(0, spb, hat_step):
            hit(s0 + st, CLOSED_HAT, base - 15 + (8 if st % STEPS_PER_BEAT == 0 else 0))
        if b + 1 in section_starts and b + 1 <= last:
            span = next((s.end_bar - s.start_bar for s in plan.sections if s.start_bar == b + 1), 0)
            if span >= 2:  # fill on the last beat: four 16ths down the toms
                f0 = s0 + (bpb - 1) * STEPS_PER_BEAT
                for i, key in enumerate((HIGH_TOM, HIGH_TOM, MID_TOM, LOW_TOM)):
                    notes.pop((f0 + i, CLOSED_HAT), None)
                    hit(f0 + i, key, base + 5 + 3 * i)
        if b in section_starts:
            hit(s0, CRASH, 110)
    for st in np.flatnonzero(np.asarray(c.accent_steps, dtype=bool)):
        st = int(st)
        hit(st, KICK, 120)
        hit(st, CRASH if (st % spb == 0 and st // spb in section_starts) else OPEN_HAT, 112)
    return sorted(Note(onset_16th=st, track="drums", pitch=key, duration_16th=1, velocity=v)
                  for (st, key), v in notes.items())
