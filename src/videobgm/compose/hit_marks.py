"""Hit points marked as a producer or film composer marks a hit: the music clears, then the hit lands.

A cut's hit point (``controls.hits`` of kind ``section`` / ``crash`` / ``stab``) already gets an
accented chord, a re-struck bass root and crash + kick; but in a dense texture (electronic at its
real ~130 bpm: ~18 notes/s) the notes sounding into the hit mask its attack: the pads, held
melody notes and the bass ring straight through it, so the hit re-attacks little that is not
already sounding (issue 14: ``cut_lift`` fell from 2.91 to 2.17 when issue 19 doubled that
style's tempo). :func:`clear_before_hits` gives every such hit a short pre-hit break in the
pitched parts too, not only in the drums:

* every pitched note (any track but the drums) still sounding ``gap`` 16ths before the hit is
  released there (cut short; at least one 16th remains), so the hit re-attacks what was sounding;
* the accompaniment and the counter-melody (``piano``, ``bass``, ``bridge``) play no new onset in
  those ``gap`` 16ths, except on a strong visual beat (``keep``: it keeps its accent, ended at the
  hit); the melody keeps its notes there (its line and motif stay), released a 16th before the hit
  where the note is longer than that, else ended at the hit;
* a melody note on the weak 16th just before a hit on the 8th grid (the hit on a beat or its
  off-beat 8th) lands on the hit instead (:func:`land_melody`): the line arrives with the ensemble,
  not a 16th ahead of it, where its note filled the gap (synth-cuts-motion: the cuts on an off-beat
  8th came out of a melody note instead of a rest). Before a hit off the 8th grid that 16th is
  itself on the grid (a beat or an off-beat) and the note stays: moving it took an 8th-grid onset
  away and librosa's beat tracker wobbled (ibi_cv 0.09 -> 0.10);
* the held ending and the hits of kind ``accent`` (a cut too close to a crash) are left alone: the
  break belongs to the hit points, not to every accent, so the music does not turn choppy.

The velocities of the hit (louder) and of the beat before it (softer) are set by
:func:`videobgm.compose.dynamics.shape` (``hits=``); the drums' hit strokes by the drum idioms.
"""

from __future__ import annotations

import dataclasses

from videobgm.config import SampleConfig
from videobgm.types import Note, Score

MARKED_KINDS = ("section", "crash", "stab")  # the cuts' hit points; "accent" hits stay unmarked
GAP_16THS = 1  # the pitched parts clear this many 16ths before a hit
DROP_TRACKS = ("piano", "bass", "bridge")  # accompaniment and counter-melody: no new onset in the gap


def marked_hits(hits: tuple[tuple[int, str], ...] | list[tuple[int, str]]) -> list[int]:
    """Steps of the hit points that get a pre-hit break (:data:`MARKED_KINDS`), sorted."""
    return sorted({int(k) for k, kind in hits if str(kind).split("+")[0] in MARKED_KINDS})


def land_melody(onset: int, hit: int) -> bool:
    """Whether a melody note at 16th ``onset`` moves onto the hit at ``hit``: it is the weak 16th
    just before a hit on the 8th grid (module docstring)."""
    return onset == hit - 1 and hit % 2 == 0


def clear_before_hits(notes: list[Note], hits: tuple[tuple[int, str], ...] | list[tuple[int, str]], *,
                      gap: int = GAP_16THS, ending_step: int | None = None,
                      steps: tuple[int, int] | None = None, keep: set[int] | frozenset[int] = frozenset()) -> list[Note]:
    """``notes`` with a pre-hit break of ``gap`` 16ths before every marked hit (module docstring).

    ``ending_step``: the held ending's first step (hits there and after are left alone);
    ``steps``: only notes with an onset in ``[a, b)`` are changed (a regenerated range)."""
    ks = [k for k in marked_hits(hits) if k - gap >= 0 and (ending_step is None or k < ending_step)]
    if not ks or gap < 1:
        return list(notes)
    lo, hi = steps if steps is not None else (-(1 << 60), 1 << 60)
    melody_on = {n.onset_16th for n in notes if n.track == "melody"}
    out: list[Note] = []
    for n in notes:
        if n.track == "drums" or not lo <= n.onset_16th < hi:
            out.append(n)
            continue
        end = n.onset_16th + n.duration_16th
        inside = [k for k in ks if k - gap <= n.onset_16th < k]
        if inside:
            if n.track in DROP_TRACKS and n.onset_16th not in keep:
                continue  # the accompaniment rests in the gap
            if n.track == "melody" and n.onset_16th not in keep and land_melody(n.onset_16th, inside[0]):
                k = inside[0]
                if k not in melody_on:  # (a melody note already on the hit wins)
                    nxt = min((m for m in melody_on if m > k), default=k + n.duration_16th)
                    out.append(dataclasses.replace(n, onset_16th=k, duration_16th=max(1, min(n.duration_16th, nxt - k))))
                continue
            cut = max(n.onset_16th + 1, inside[0] - 1)  # the line keeps its note, released before the hit
        else:
            cut = min((k - gap for k in ks if n.onset_16th < k - gap < end), default=end)
        out.append(n if cut >= end else dataclasses.replace(n, duration_16th=max(1, cut - n.onset_16th)))
    return out


def clear_score(score: Score, hits: tuple[tuple[int, str], ...] | list[tuple[int, str]], *,
                gap: int = GAP_16THS, ending_bar: int | None = None,
                bars: tuple[int, int] | None = None, keep: set[int] | frozenset[int] = frozenset()) -> Score:
    """:func:`clear_before_hits` on a whole score (``bars``: only notes starting in ``[a, b)``)."""
    spb = score.steps_per_bar
    ending = None if ending_bar is None else int(ending_bar) * spb
    steps = None if bars is None else (bars[0] * spb, bars[1] * spb)
    return dataclasses.replace(score, notes=sorted(clear_before_hits(score.notes, hits, gap=gap,
                                                                    ending_step=ending, steps=steps, keep=keep)))


def clear_plan_hits(score: Score, plan, cfg: SampleConfig, bars: tuple[int, int] | None = None) -> Score:  # noqa: ANN001
    """:func:`clear_score` with ``plan``'s hit points, held ending and accent steps (kept in the
    gap): a gap of ``cfg.hit_gap_four_floor`` 16ths under a four-on-the-floor (the drums' 8th),
    else ``cfg.hit_gap_16ths``."""
    import numpy as np

    from videobgm.music import styles
    c = plan.controls
    floor = plan.style in styles.STYLE_IDIOMS and styles.idiom(plan.style, plan.mood).drums == "four_floor"
    return clear_score(score, c.hits, gap=cfg.hit_gap_four_floor if floor else cfg.hit_gap_16ths,
                       ending_bar=c.ending_bar, bars=bars,
                       keep=set(np.flatnonzero(np.asarray(c.accent_steps, dtype=bool)).tolist()))
