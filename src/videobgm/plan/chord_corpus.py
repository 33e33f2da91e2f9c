"""Key-relative chord symbols, pieces as the chord model sees them, and their counts.

A chord is a *symbol* ``degree * 9 + quality`` (``degree`` 0..11 semitones above the tonic,
``quality`` in :data:`QUALITIES`); a piece is a :class:`HarmonySong` (chord events, sections
with roles, phrases); :func:`count` gives the sufficient statistics that
:class:`videobgm.plan.chord_model.HarmonyModel` turns into probabilities. :func:`bar_positions` and
:func:`split_phrases` describe a layout the same way for training and for sampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from videobgm.errors import OptionError
from videobgm.types import CHORD_QUALITIES, MODES

QUALITIES: tuple[str, ...] = tuple(q for q in CHORD_QUALITIES if q != "N")
NQ = len(QUALITIES)
V = 12 * NQ  # chord symbols
BOS = V  # context-only symbol: start of a chain
ROLES: tuple[str, ...] = ("intro", "verse", "chorus", "bridge", "outro")
POSITIONS: tuple[str, ...] = ("start", "mid", "pre", "end", "send")


def symbol(degree: int, quality: str) -> int:
    """Chord symbol of ``(degree 0..11, quality in QUALITIES)``."""
    if quality not in QUALITIES:
        raise OptionError(f"unknown chord quality {quality!r}; accepted: {', '.join(QUALITIES)}")
    return (int(degree) % 12) * NQ + QUALITIES.index(quality)


def unsymbol(s: int) -> tuple[int, str]:
    """``(degree, quality)`` of a chord symbol."""
    return int(s) // NQ, QUALITIES[int(s) % NQ]


@dataclass
class HarmonySong:
    """One piece as the model sees it.

    ``events``: ``(onset_beat, degree, quality, bass_interval, mode)`` sorted by onset, where
    ``degree``/``bass_interval`` are semitones above the local tonic / the chord root and
    ``quality`` is in :data:`CHORD_QUALITIES` (``"N"`` with degree -1 breaks the chain).
    ``sections``: ``(start_bar, end_bar, role)``; ``phrases``: ``(start_bar, end_bar)``.
    """

    beats_per_bar: int
    n_bars: int
    events: list[tuple[int, int, str, int, str]]
    sections: list[tuple[int, int, str]]
    phrases: list[tuple[int, int]]
    name: str = ""


def bar_positions(n_bars: int, sections: list[tuple[int, int, str]],
                  phrases: list[tuple[int, int]]) -> tuple[list[str], list[str]]:
    """(position class, role) of every bar: see :data:`POSITIONS`."""
    pos, role = ["mid"] * n_bars, ["verse"] * n_bars
    for a, z, r in sections:
        for b in range(max(0, a), min(n_bars, z)):
            role[b] = r
    for a, z in phrases:
        for b in range(max(0, a), min(n_bars, z)):
            pos[b] = "start" if b == a else "end" if b == z - 1 else "pre" if b == z - 2 else "mid"
    for _a, z, _ in sections:
        if 0 < z <= n_bars:
            pos[z - 1] = "send"
    return pos, role


def split_phrases(sections: list[tuple[int, int, str]], phrase_bars: int = 4) -> list[tuple[int, int]]:
    """Phrases of ``phrase_bars`` bars inside each section (a remainder under 2 bars joins the last)."""
    out: list[tuple[int, int]] = []
    for a, z, _ in sections:
        b = a
        while b < z:
            e = min(z, b + phrase_bars)
            if z - e < 2:
                e = z
            out.append((b, e))
            b = e
    return out


def _event_context(song: HarmonySong) -> list[tuple[str, str]]:
    """(role, position) of each event: "start" only for a change on a phrase's first downbeat."""
    pos, role = bar_positions(song.n_bars, song.sections, song.phrases)
    bpb = song.beats_per_bar
    out = []
    for on, *_ in song.events:
        b = min(max(on // bpb, 0), song.n_bars - 1)
        p = pos[b]
        if p == "start" and on % bpb:
            p = "mid"
        out.append((role[b], p))
    return out


def chains(song: HarmonySong):
    """Yield (mode, [(symbol, bass, role, position), ...]) for each run of chords."""
    ctx = _event_context(song)
    cur: list = []
    mode = None
    for (_on, deg, q, bass, m), (r, p) in zip(song.events, ctx):
        if q == "N" or deg < 0 or m != mode:
            if cur:
                yield mode, cur
            cur, mode = [], m
            if q == "N" or deg < 0:
                continue
        s = symbol(deg, q)
        if cur and cur[-1][0] == s:
            continue
        cur.append((s, int(bass) % 12, r, p))
    if cur:
        yield mode, cur


def bar_masks(song: HarmonySong) -> list[int]:
    """Per bar, the bit mask of beats with a chord change (-1 for a bar with no chord at all)."""
    bpb = song.beats_per_bar
    masks = [0] * song.n_bars
    sounding = [False] * song.n_bars
    prev = None
    for on, deg, q, _b, _m in song.events:
        b = on // bpb
        if not 0 <= b < song.n_bars:
            continue
        key = (deg, q)
        if q != "N" and key != prev:
            masks[b] |= 1 << (on % bpb)
        prev = key
    cur = None
    ev = iter(song.events)
    nxt = next(ev, None)
    for b in range(song.n_bars):
        while nxt is not None and nxt[0] < (b + 1) * bpb:
            if nxt[2] != "N":
                sounding[b] = True
            cur = nxt
            nxt = next(ev, None)
        if cur is not None and cur[2] != "N":
            sounding[b] = True
    return [m if s else -1 for m, s in zip(masks, sounding)]


def count(songs: list[HarmonySong]) -> dict[str, Any]:
    """Sufficient statistics of ``songs`` (the asset's ``counts``; all sparse lists of ints)."""
    tri: dict[str, dict[tuple[int, int, int], int]] = {m: {} for m in MODES}
    ctx: dict[str, dict[tuple[str, str, int], int]] = {m: {} for m in MODES}
    bass: dict[str, dict[tuple[int, int, int], int]] = {m: {} for m in MODES}
    rhythm: dict[tuple[int, str, str, int], int] = {}
    for song in songs:
        for mode, chain in chains(song):
            a, b = BOS, BOS
            for i, (c, inv, r, p) in enumerate(chain):
                tri[mode][a, b, c] = tri[mode].get((a, b, c), 0) + 1
                ctx[mode][r, p, c] = ctx[mode].get((r, p, c), 0) + 1
                nxt = chain[i + 1][0] if i + 1 < len(chain) else BOS
                bass[mode][c, nxt, inv] = bass[mode].get((c, nxt, inv), 0) + 1
                a, b = b, c
        pos, role = bar_positions(song.n_bars, song.sections, song.phrases)
        for bar, m in enumerate(bar_masks(song)):
            if m >= 0:
                k = (song.beats_per_bar, role[bar], pos[bar], m)
                rhythm[k] = rhythm.get(k, 0) + 1
    return {
        "trigram": {m: sorted([*k, n] for k, n in tri[m].items()) for m in MODES},
        "context": {m: sorted([*k, n] for k, n in ctx[m].items()) for m in MODES},
        "bass": {m: sorted([*k, n] for k, n in bass[m].items()) for m in MODES},
        "rhythm": sorted([*k, n] for k, n in rhythm.items()),
    }
