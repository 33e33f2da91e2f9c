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
  is free: the variation and the phrase's cadence (A'); only its first half may still follow the
  statement (:attr:`Layout.heads`, the melody's layout: the same opening, a new ending), and its
  ending note comes on the statement's beat (the statement's first note of the second half,
  fitted to the bar's chord, held as the cadence where the bar ends a phrase); but where an
  earlier unit of its letter and length ended a section on the same cadence
  (:func:`section_cadences`: the phrase has the same role), that last bar restates the earlier
  unit's ending in full (the last A' of ``A A' B A'`` ends as the first A' did, a verse restated);
* the layout maps each restating bar to the *original* bar it copies (never to a copy), so the
  harmony can repeat the statement's chords there (:func:`videobgm.plan.chord_sampling.sample_progression`'s
  ``repeats``) and the sampler the statement's melody (:func:`videobgm.compose.sampler.generate`'s
  ``motif``), rhythm, pitches and durations;
* where the chords of a restating bar differ from the statement's (a hit point's chord change,
  a repeat the harmony could not keep), :func:`adapt` keeps the rhythm and the contour and moves
  only the notes that would not fit: a pitch stays when it is a tone of the new chord, or a scale
  tone a step from the next note when that note is a chord tone (it still resolves by step);
  otherwise it moves to the nearest tone of the new chord. A bar that continues a restated run
  keeps the run going where it can (``adapt(run_shift=)``: its opening stays, only the clashing
  notes move, rather than a jump to a new degree);
* the harmony keeps a hit point's chord change inside a restatement (the statement's chords
  around it, a chord of its own on the hit beat), so only the notes over that chord adapt.

Same sections and melody bars, same layout (no randomness: the seed acts through the notes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

PATTERN = "AABA"  # letters of the units in order (repeating): A states, A restates, B contrasts
MIN_UNIT_BARS = 3  # units with fewer melody bars are free (an intro's tail, a one-bar stub)
# ... unless the piece has fewer than two such units (a 30 s clip at 80 bpm: a 2-bar tail of the
# first section and one 5-bar section): then a unit of this many bars states too, and the long
# unit restates it, its last bar free
MIN_SHORT_UNIT_BARS = 2
MAX_UNIT_BARS = 8  # longer sections are cut into 4-bar units
PERIOD_BARS = 8  # a period closes with an authentic cadence once it has this many bars


def section_cadences(sections: list, n_bars: int) -> dict[int, str]:
    """The harmony's cadence at each section's last bar: ``"authentic"`` where a period closes
    (the last section, one before a strong cut, or once the period has :data:`PERIOD_BARS`
    bars), else ``"half"`` (:func:`videobgm.plan.harmony.harmony_layout` uses this)."""
    secs = sorted(sections, key=lambda s: s.start_bar)
    if not secs:
        return {int(n_bars) - 1: "authentic"}
    cad: dict[int, str] = {}
    start = 0
    for i, s in enumerate(secs):
        z = int(s.end_bar)
        nxt = secs[i + 1] if i + 1 < len(secs) else None
        close = nxt is None or str(nxt.reason).startswith("strong cut") or z - start >= PERIOD_BARS
        cad[z - 1] = "authentic" if close else "half"
        if close:
            start = z
    return cad


class Layout(dict):
    """Restating bar -> statement bar (a ``dict``), with ``heads``: the restating units' last
    bars (the variation / cadence bars, free in the dict), whose first half may still carry the
    statement's bar (the melody's antecedent-consequent: the same opening, a new ending), to
    ``heads[bar]``. Only :func:`layout` with ``heads=True`` fills them."""

    heads: dict[int, int]

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.heads = {}


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
           pattern: str = PATTERN, heads: bool = False) -> Layout:
    """Restating bar -> the statement's bar it copies (see the module docstring); ``heads``: also
    the restating units' last bars in ``Layout.heads`` (the melody's; the harmony keeps them free)."""
    themes: dict[str, list[int]] = {}
    endings: dict[str, list[list[int]]] = {}  # each letter's units that end on their own bar
    cad = section_cadences(sections, n_bars) if sections else {}
    out = Layout()
    i = 0
    us = units(sections, n_bars, melody_bars, ending_bar)
    least = MIN_UNIT_BARS if sum(len(u) >= MIN_UNIT_BARS for u in us) >= 2 else MIN_SHORT_UNIT_BARS
    for bars in us:
        if len(bars) < least:
            continue
        letter = pattern[i % len(pattern)]
        i += 1
        if letter not in themes:
            themes[letter] = bars
            endings[letter] = [bars]
            continue
        src = themes[letter]
        for k in range(len(bars) - 1):  # the last bar varies (and cadences)
            s = src[k % len(src)]
            out[bars[k]] = out.get(s, s)
        # ... unless an earlier unit of its letter and length ended a section with the same
        # cadence: the phrase has the same role, so it restates that ending too, in full
        same = [u[-1] for u in endings[letter] if len(u) == len(bars)
                and bars[-1] in cad and cad.get(u[-1]) == cad[bars[-1]]]
        if same:
            out[bars[-1]] = same[0]
            continue
        endings[letter].append(bars)
        if heads:
            s = src[(len(bars) - 1) % len(src)]
            out.heads[bars[-1]] = out.get(s, s)
    return out


def layout_of_plan(plan: Any) -> Layout:
    """:func:`layout` of a :class:`~videobgm.types.Plan`, with the heads (the melody's layout)."""
    c = plan.controls
    return layout(plan.sections, plan.n_bars, c.melody_bars, c.ending_bar, heads=True)


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
          same: list[bool], max_shift: int | None = None,
          run_shift: int | None = None) -> list[tuple[int, int, int]]:
    """The statement's melody notes ``(step, pitch, duration)`` fitted to the restating bar.

    ``tones[i]``: bool (128,) chord tones under note ``i`` in the restating bar (None: no chord);
    ``same[i]``: that chord equals the one under the statement's note (the note is kept as is);
    ``in_scale``: bool (128,) pitches of the key's scale. Rhythm and durations are kept; a pitch
    moves (to the nearest chord tone, the lower one on a tie) only when it is neither a chord tone
    nor a scale tone a step from the next note that is one (see the module docstring).

    Before moving single notes (which breaks the motif's intervals), the whole bar is tried
    transposed, by the smallest shift of at most ``max_shift`` (default :data:`MAX_SEQUENCE_SHIFT`) semitones under which
    every note is in the scale and fits as above: the restatement is then a sequence (the
    statement's intervals and rhythm on another degree), as a melody over a new chord often is.

    ``run_shift``: the bar continues a restated run (the bar before restated the statement's bar
    before) that sounded the statement transposed by this many semitones (0: as it was). The
    run is then continued where it can be - the bar, shifted as the run, when every note fits
    (the same sequence goes on), else fitted note by note from that shift when its first note
    stays (the restatement keeps its opening and bends only the notes that clash, instead of
    breaking off on a new degree) - before the search above.
    """
    m = MAX_SEQUENCE_SHIFT if max_shift is None else int(max_shift)
    if run_shift is not None and not all(same):
        d = int(run_shift)
        run = [(st_, p + d, du) for st_, p, du in notes]
        if all(0 <= p < 128 and in_scale[p] for _, p, _ in run) or d == 0:
            same_run = list(same) if d == 0 else [False] * len(notes)
            fitted = _fit(run, tones, in_scale, same_run)
            if fitted == run or fitted[0] == run[0]:
                return fitted
    if not all(same) and _moves(notes, tones, in_scale, same):
        for t in sorted(range(-m, m + 1), key=lambda x: (abs(x), x)):
            shifted = [(st_, p + t, d) for st_, p, d in notes]
            if t and all(0 <= p < 128 and in_scale[p] for _, p, _ in shifted) \
                    and not _moves(shifted, tones, in_scale, [False] * len(notes)):
                return shifted
    return _fit(notes, tones, in_scale, same)


MAX_SEQUENCE_SHIFT = 5


def _moves(notes: list[tuple[int, int, int]], tones: list[np.ndarray | None], in_scale: np.ndarray,
           same: list[bool]) -> bool:
    """Whether :func:`_fit` would move any note of ``notes``."""
    return _fit(notes, tones, in_scale, same) != list(notes)


def _fit(notes: list[tuple[int, int, int]], tones: list[np.ndarray | None], in_scale: np.ndarray,
         same: list[bool]) -> list[tuple[int, int, int]]:
    """The note-by-note fitting of :func:`adapt` (no transposition)."""
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
