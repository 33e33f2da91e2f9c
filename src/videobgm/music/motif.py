"""Melody-level form (issue 18): a motif stated, restated and varied over the plan's phrases.

The sampler's bar repetition fires only where two bars have similar chords, which the learned
harmony rarely gives, so a video-driven piece held no repeated motif longer than ~3 notes
(POP909: ~16 in its first 24 bars). This module plans the repetition from the *form*, before
and independently of the chords:

* **units**: the melody bars of each plan section (a section of more than 8 bars gives 4-bar
  units); units of fewer than :data:`MIN_UNIT_BARS` melody bars state nothing and restate nothing;
* **layout** ``A A' B A'`` (:data:`PATTERN`, repeating): the first unit of each letter states its
  material; each later unit with that letter restates it bar by bar - its bar ``k`` copies the
  statement's bar ``k`` (cycling through a shorter statement) - except its own last bar, which
  is free: the variation and the phrase's cadence (A');
* the layout maps each restating bar to the *original* bar it copies (never to a copy), so the
  harmony can repeat the statement's chords there (:func:`videobgm.plan.chord_sampling.sample_progression`'s
  ``repeats``) and the sampler the statement's melody (:func:`videobgm.compose.sampler.generate`'s
  ``motif``), rhythm, pitches and durations;
* where the chords of a restating bar differ from the statement's (a hit point's chord change,
  a repeat the harmony could not keep), :func:`adapt` keeps the rhythm and the contour and moves
  only the notes that would not fit: a pitch stays when it is a tone of the new chord, or a scale
  tone a step from the next note when that note is a chord tone (it still resolves by step);
  otherwise it moves to the nearest tone of the new chord.

Same sections and melody bars, same layout (no randomness: the seed acts through the notes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

PATTERN = "AABA"  # letters of the units in order (repeating): A states, A restates, B contrasts
MIN_UNIT_BARS = 3  # units with fewer melody bars are free (an intro's tail, a one-bar stub)
MAX_UNIT_BARS = 8  # longer sections are cut into 4-bar units


def units(sections: list, n_bars: int, melody_bars: Any = None,
          ending_bar: int | None = None) -> list[list[int]]:
    """Melody bars of each section (4-bar pieces of sections longer than :data:`MAX_UNIT_BARS`),
    in order; ``melody_bars`` (bool per bar, None = all) and the held ending bar leave bars out."""
    has = np.ones(int(n_bars), dtype=bool) if melody_bars is None else np.asarray(melody_bars, dtype=bool).copy()
    if has.shape != (int(n_bars),):
        raise ValueError(f"melody_bars needs one value per bar ({n_bars}), got shape {has.shape}")
    if ending_bar is not None:
        has[int(ending_bar):] = False
    out = []
    for s in sorted(sections, key=lambda s: s.start_bar):
        a, z = max(0, int(s.start_bar)), min(int(n_bars), int(s.end_bar))
        spans = [(a, z)] if z - a <= MAX_UNIT_BARS else [(k, min(z, k + 4)) for k in range(a, z, 4)]
        for lo, hi in spans:
            bars = [b for b in range(lo, hi) if has[b]]
            if bars:
                out.append(bars)
    return out


def layout(sections: list, n_bars: int, melody_bars: Any = None, ending_bar: int | None = None,
           pattern: str = PATTERN) -> dict[int, int]:
    """Restating bar -> the statement's bar it copies (see the module docstring)."""
    themes: dict[str, list[int]] = {}
    out: dict[int, int] = {}
    i = 0
    for bars in units(sections, n_bars, melody_bars, ending_bar):
        if len(bars) < MIN_UNIT_BARS:
            continue
        letter = pattern[i % len(pattern)]
        i += 1
        if letter not in themes:
            themes[letter] = bars
            continue
        src = themes[letter]
        for k in range(len(bars) - 1):  # the last bar varies (and cadences)
            s = src[k % len(src)]
            out[bars[k]] = out.get(s, s)
    return out


def layout_of_plan(plan: Any) -> dict[int, int]:
    """:func:`layout` of a :class:`~videobgm.types.Plan`."""
    c = plan.controls
    return layout(plan.sections, plan.n_bars, c.melody_bars, c.ending_bar)


def describe(lay: dict[int, int]) -> str:
    """One line for the plan's reasons: runs of restating bars and what they copy (1-based)."""
    if not lay:
        return "no motif restatement (no two units of 3+ melody bars)"
    runs: list[list[int]] = []
    for t in sorted(lay):
        if runs and t == runs[-1][-1] + 1 and lay[t] == lay[runs[-1][-1]] + 1:
            runs[-1].append(t)
        else:
            runs.append([t])
    parts = [f"bars {r[0] + 1}-{r[-1] + 1} restate {lay[r[0]] + 1}-{lay[r[-1]] + 1}" if len(r) > 1
             else f"bar {r[0] + 1} restates {lay[r[0]] + 1}" for r in runs]
    return f"motif form {PATTERN} over the sections' melody bars: " + "; ".join(parts)


def adapt(notes: list[tuple[int, int, int]], tones: list[np.ndarray | None], in_scale: np.ndarray,
          same: list[bool]) -> list[tuple[int, int, int]]:
    """The statement's melody notes ``(step, pitch, duration)`` fitted to the restating bar.

    ``tones[i]``: bool (128,) chord tones under note ``i`` in the restating bar (None: no chord);
    ``same[i]``: that chord equals the one under the statement's note (the note is kept as is);
    ``in_scale``: bool (128,) pitches of the key's scale. Rhythm and durations are kept; a pitch
    moves (to the nearest chord tone, the lower one on a tie) only when it is neither a chord tone
    nor a scale tone a step from the next note that is one (see the module docstring).
    """
    out = list(notes)
    for i in range(len(out) - 1, -1, -1):  # backwards: the next note is already fitted
        step, p, d = out[i]
        ct = tones[i]
        if same[i] or ct is None or ct[p]:
            continue
        if i + 1 < len(out):
            q = out[i + 1][1]
            nxt_ct = tones[i + 1] is None or bool(tones[i + 1][q])
            if in_scale[p] and 1 <= abs(q - p) <= 2 and nxt_ct:
                continue  # a passing / neighbour tone that still resolves by step
        cand = np.flatnonzero(ct)
        if cand.size:
            p = int(cand[np.argmin(np.abs(cand - p) * 2 + (cand > p))])
        out[i] = (step, p, d)
    return out


def force_steps(bar: Any, steps: list[int]) -> None:
    """Mark ``steps`` as forced onsets of a sampler bar target (:class:`videobgm.compose.constraints._Bar`)
    and widen its onset bounds so that they still fit (as :func:`~videobgm.compose.constraints.bar_targets`)."""
    from videobgm.types import STEPS_PER_BEAT

    for s in steps:
        bar.forced[int(s)] = True
    need = int(sum(max(1, int(bar.strength[i // STEPS_PER_BEAT])) if i % STEPS_PER_BEAT == 0 else 1
                   for i in np.flatnonzero(bar.forced)))
    bar.hi = max(bar.hi, need)
    bar.lo = min(max(bar.lo, need), bar.hi)
