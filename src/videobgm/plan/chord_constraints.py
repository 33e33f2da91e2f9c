"""What a sampled progression must meet, built from the caller's layout before any sampling.

:func:`~videobgm.plan.chord_sampling.sample_progression`'s arguments become constraints here:
the sections and their roles (:func:`section_roles`), the cadence kind of each bar (half at a
phrase end, authentic at a section end, :func:`cadence_bars`), the fixed chords as key-relative
symbols (:func:`fixed_symbols`, :func:`relative_symbol`), the hit-point chord changes the harmonic
rhythm must make (:func:`forced_changes`), the motif repeats that can be kept
(:func:`valid_repeats`) and, per chord event, the set of allowed symbols (:func:`allowed_sets`:
fixed chords, V before / I on an authentic cadence, V on a half cadence; a soft constraint that
contradicts a fixed chord is dropped and named). Every refused argument is a one-line
:class:`~videobgm.errors.OptionError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from videobgm.errors import OptionError
from videobgm.plan.chord_corpus import QUALITIES, V, symbol
from videobgm.plan.chord_model import CADENCES, DOMINANT_QUALITIES, TONIC_QUALITIES, degree_set
from videobgm.types import MODES


def section_roles(sections: list | None, n_bars: int) -> list[tuple[int, int, str]]:
    """(start_bar, end_bar, role) of Sections or triples; default one ``verse`` over all bars."""
    if not sections:
        return [(0, n_bars, "verse")]
    out = []
    for s in sections:
        a, z, r = (s.start_bar, s.end_bar, s.label) if hasattr(s, "start_bar") else s
        if not 0 <= int(a) < int(z) <= n_bars:
            raise OptionError(f"section bars [{a}, {z}) outside the piece's {n_bars} bars")
        out.append((int(a), int(z), str(r)))
    return out


def relative_symbol(chord: Any, tonic: int) -> int:
    """Key-relative symbol of a Chord or ``(root, quality)`` pair."""
    root, q = (chord.root, chord.quality) if hasattr(chord, "root") else chord
    if q not in QUALITIES or not 0 <= int(root) < 12:
        raise OptionError(f"fixed/context chord {chord!r}: needs a root 0..11 and a quality in "
                          f"{', '.join(QUALITIES)}")
    return symbol((int(root) - tonic) % 12, q)


def check_arguments(n_bars: int, beats_per_bar: int, mode: str, max_changes: int) -> None:
    """Refuse a progression's layout arguments (one-line :class:`OptionError`)."""
    if n_bars < 1:
        raise OptionError(f"a progression needs at least 1 bar, got {n_bars}")
    if not 1 <= beats_per_bar <= 12:
        raise OptionError(f"beats per bar must be 1..12, got {beats_per_bar}")
    if mode not in MODES:
        raise OptionError(f"unknown mode {mode!r}; accepted: {', '.join(MODES)}")
    if max_changes < 1:
        raise OptionError(f"max_changes must be >= 1, got {max_changes}")


def cadence_bars(sections, phrases, cadences, n_bars) -> dict[int, str]:
    """Bar -> cadence kind: half at every phrase end, authentic at every section end (default)."""
    out: dict[int, str] = {}
    ends = {z - 1 for _, z, _ in sections}
    for _, z in phrases:
        out[z - 1] = "authentic" if z - 1 in ends else "half"
    for b in ends:
        out[b] = "authentic"
    for b, kind in (cadences or {}).items():
        if kind is not None and kind not in CADENCES:
            raise OptionError(f"unknown cadence {kind!r}; accepted: {', '.join(CADENCES)} or None")
        if not 0 <= int(b) < n_bars:
            raise OptionError(f"cadence bar {b} outside the piece's {n_bars} bars")
        if kind is None:
            out.pop(int(b), None)
        else:
            out[int(b)] = kind
    return out


def fixed_symbols(fixed: dict[int, Any] | None, tonic: int, n_bars: int) -> dict[int, int]:
    """Bar -> key-relative symbol of the chord that bar must hold."""
    fix = {int(b): relative_symbol(c, tonic) for b, c in (fixed or {}).items()}
    for b in fix:
        if not 0 <= b < n_bars:
            raise OptionError(f"fixed bar {b} outside the piece's {n_bars} bars")
    return fix


def forced_changes(change_beats: dict[int, Any] | None, n_bars: int, bpb: int, fix: dict[int, int],
                   cad: dict[int, str], max_changes: int, notes: list[str]) -> dict[int, int]:
    """Bar -> bit mask of the beats whose chord must change (hit points); a change asked in a
    cadence or fixed bar, or past ``max_changes`` in a bar, is left out and named in ``notes``."""
    forced: dict[int, int] = {}  # bar -> bit mask of the beats that must change
    for b, js in sorted((change_beats or {}).items()):
        b = int(b)
        for j in sorted({int(x) for x in (js if isinstance(js, (tuple, list, set)) else (js,))}):
            if not (0 <= b < n_bars and 0 <= j < bpb):
                continue
            m = forced.get(b, 1 if b == 0 else 0) | 1 << j
            if b in fix or b in cad:
                notes.append(f"no chord change on beat {j + 1} of bar {b}: a cadence or fixed bar")
            elif bin(m).count("1") > max_changes:
                notes.append(f"no chord change on beat {j + 1} of bar {b}: at most {max_changes} "
                             "changes per bar")
            else:
                forced[b] = m
    return forced


def valid_repeats(repeats: dict[int, int] | None, n_bars: int, fix: dict[int, int],
                  cad: dict[int, str]) -> dict[int, int]:
    """Bar -> earlier bar it repeats, where neither is a fixed bar and the repeating bar is no
    cadence, or both are cadences of one kind. A cadence bar may be repeated by a bar inside a
    phrase (a restated unit that cycles through a short statement sounds the statement's
    cadence bar, chords and all, before its own phrase end: the melody restates it as it was),
    or by a cadence of its kind (a phrase of the same role restating its ending); a cadence bar
    repeats no other bar (it keeps its own cadence). A hit-change bar may repeat or be repeated:
    the repeating bar's rhythm is the earlier bar's with the hit's change added
    (:func:`repeat_mask`; the chord there is the bar's own)."""
    return {int(t): int(j) for t, j in (repeats or {}).items() if 0 <= int(j) < int(t) < n_bars
            and int(t) not in fix and int(j) not in fix
            and (int(t) not in cad or cad.get(int(j)) == cad[int(t)])}


def repeat_mask(src_mask: int, run_start: bool, src_bar: int, forced: int, max_changes: int) -> int | None:
    """The change mask (bit ``j``: a chord change on beat ``j``) of a bar repeating a bar of mask
    ``src_mask``: the earlier bar's, with the chord it holds restated on the downbeat at a run's
    start (``run_start``, when ``src_bar`` > 0 and the changes allow), and the hit beats
    ``forced`` added (a new chord there, the statement's around it). None: more than
    ``max_changes`` changes (the repeat is left out, the bar takes its own rhythm)."""
    def n_on(m: int) -> int:
        return bin(m).count("1")

    mask = src_mask | (1 if run_start and src_bar > 0 and n_on(src_mask | 1) <= max_changes else 0)
    mask |= int(forced)
    return None if n_on(mask) > max_changes else mask


def fixed_sets(events: list[tuple[int, int]], fix: dict[int, int]) -> list[np.ndarray]:
    """Allowed symbols (V,) bool per event: only the fixed chord on a fixed bar's downbeat."""
    allowed = [np.ones(V, dtype=bool) for _ in events]
    for i, (b, j) in enumerate(events):
        if j == 0 and b in fix:
            allowed[i] = np.zeros(V, dtype=bool)
            allowed[i][fix[b]] = True
    return allowed


def allowed_sets(events: list[tuple[int, int]], fix: dict[int, int], cad: dict[int, str],
                 mode: str, before: list[int], notes: list[str]) -> list[np.ndarray]:
    """Allowed symbols (V,) bool per (bar, beat) event under the fixed chords and the cadences
    (V on a half cadence's first event; I on an authentic one with V before it); a cadence that
    contradicts a fixed chord is dropped and named in ``notes``."""
    dom = degree_set(7, DOMINANT_QUALITIES)
    ton = degree_set(0, TONIC_QUALITIES[mode])
    allowed = fixed_sets(events, fix)
    first = {b: i for i, (b, j) in reversed(list(enumerate(events)))}
    soft: list[tuple[str, int, np.ndarray]] = []  # (what, event, set), dropped on conflict
    for b, kind in sorted(cad.items()):
        if b not in first:
            continue
        i = first[b]
        if kind == "half" and b not in fix:
            soft.append((f"half cadence in bar {b}", i, dom))
        elif kind == "authentic":
            if b in fix and not ton[fix[b]]:
                notes.append(f"authentic cadence in bar {b} left out: the bar is fixed to a non-tonic chord")
                continue
            if b not in fix:
                soft.append((f"authentic cadence (I) in bar {b}", i, ton))
            if i > 0:
                soft.append((f"authentic cadence (V before I) in bar {b}", i - 1, dom))
            elif before and not dom[before[-1]]:
                notes.append(f"authentic cadence in bar {b}: the chord before the span is not V")
    for what, i, s in soft:
        if (allowed[i] & s).any():
            allowed[i] = allowed[i] & s
        else:
            notes.append(f"{what} dropped: it contradicts a fixed chord")
    return allowed
