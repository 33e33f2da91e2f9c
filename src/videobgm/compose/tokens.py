"""[4] Compound-word (CP) music tokens in the spirit of CMT: vocabulary, grammar, encode/decode.

Every sequence row is one *compound token*: one integer per field of :attr:`Tokenizer.field_names`.
Index 0 of every field means "none / not used by this token type". The fields' integer codes
(and their bins) live in :mod:`videobgm.compose.token_codes`, the conditioning rows beside the
tokens in :mod:`videobgm.compose.conditioning`, the controls a score realises in
:mod:`videobgm.compose.score_controls`.

Sequence grammar (what a sampler must obey; :meth:`Tokenizer.grammar` gives it as data)::

    BOS  { BAR  { POS(pos, chord)  NOTE(track, pitch, duration, velocity)+ }* }*  EOS  PAD*

* BOS: only ``type`` set. Followed by BAR or EOS.
* BAR: only ``type`` set; starts the next bar. Followed by POS, BAR or EOS.
* POS: ``type``, ``pos`` and ``chord`` set (chord = the chord sounding at that step, 1 for N).
  ``pos`` strictly increases inside a bar and is <= steps_per_bar. A POS is written for every step
  that has onsets or where the chord changes (so chords round-trip); it is followed by its NOTEs,
  or, at a chord change without onsets, directly by POS, BAR or EOS.
* NOTE: ``type``, ``track``, ``pitch``, ``duration``, ``velocity`` set, all others 0. Inside one
  step, notes are ordered by (track, pitch) strictly increasing (duplicates are merged by
  :meth:`Tokenizer.encode`, keeping the longest). Followed by NOTE, POS (larger pos), BAR or EOS.
* EOS ends the piece; rows after it are PAD (all fields 0).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from videobgm.compose.conditioning import chord_per_step, cond_from_controls
from videobgm.compose.score_controls import ACCENT_QUANTILE, controls_from_score
from videobgm.compose.token_codes import (
    CHORD_TYPES,
    COND_NAMES,
    DENSITY_EDGES,
    DURATION_STEPS,
    FIELD_NAMES,
    MAX_STEPS_PER_BAR,
    MAX_STRENGTH,
    N_PROGRESS_BINS,
    N_VELOCITY_BINS,
    TEMPO_EDGES_BPM,
    TYPE_BAR,
    TYPE_BOS,
    TYPE_EOS,
    TYPE_NAMES,
    TYPE_NOTE,
    TYPE_POS,
    chord_of_index,
    duration_bin,
    duration_of_bin,
    velocity_bin,
    velocity_of_bin,
)
from videobgm.errors import InputError
from videobgm.types import STEPS_PER_BEAT, TRACKS, Chord, Controls, Note, Score


class Tokenizer:
    """Compound-word tokenizer: vocabulary, grammar and encode/decode (see the module docstring).

    The tokenizer is stateless apart from its vocabulary sizes; ``to_json``/``from_json`` save and
    restore it (and check that the saved vocabulary matches this code's).
    """

    VERSION = 1
    TYPE_PAD, TYPE_BOS, TYPE_EOS, TYPE_BAR, TYPE_POS, TYPE_NOTE = range(6)
    TYPE_NAMES = TYPE_NAMES
    TRACKS = TRACKS

    field_names: tuple[str, ...] = FIELD_NAMES
    cond_names: tuple[str, ...] = COND_NAMES

    def __init__(self) -> None:
        self.field_sizes: tuple[int, ...] = (
            len(TYPE_NAMES),
            1 + MAX_STEPS_PER_BAR,
            2 + 12 * len(CHORD_TYPES),
            1 + len(TRACKS),
            1 + 128,
            1 + len(DURATION_STEPS),
            1 + N_VELOCITY_BINS,
        )
        self.cond_sizes: tuple[int, ...] = (
            1 + len(DENSITY_EDGES),
            2 + MAX_STRENGTH,
            1 + N_PROGRESS_BINS,
            2 + 12 * len(CHORD_TYPES),
            1 + 24,
            3,
            1 + len(TEMPO_EDGES_BPM),
        )
        self.F = {n: i for i, n in enumerate(self.field_names)}  # field name -> column
        self.C = {n: i for i, n in enumerate(self.cond_names)}  # cond name -> column

    # ----- grammar --------------------------------------------------------------------------
    FIELDS_OF_TYPE: dict[int, tuple[str, ...]] = {
        0: (),
        1: ("type",),
        2: ("type",),
        3: ("type",),
        4: ("type", "pos", "chord"),
        5: ("type", "track", "pitch", "duration", "velocity"),
    }
    NEXT_TYPES: dict[int, tuple[int, ...]] = {
        0: (0,),
        1: (3, 2),
        2: (0,),
        3: (4, 3, 2),
        4: (5, 4, 3, 2),
        5: (5, 4, 3, 2),
    }

    def grammar(self) -> dict[str, Any]:
        """The grammar as data (saved in the JSON).

        Keys: ``fields_of_type`` (type name -> fields that must be non-zero; all others are 0),
        ``next_types`` (type name -> type names allowed next), ``rules`` (ordering constraints in
        words).
        """
        return {
            "fields_of_type": {TYPE_NAMES[t]: list(f) for t, f in self.FIELDS_OF_TYPE.items()},
            "next_types": {TYPE_NAMES[t]: [TYPE_NAMES[n] for n in nx] for t, nx in self.NEXT_TYPES.items()},
            "rules": [
                "the first row is BOS; EOS ends the piece; PAD follows EOS",
                "POS.pos strictly increases inside a bar and is <= beats_per_bar * 4",
                "POS.chord is never 0 (1 = no chord)",
                "a POS not followed by a NOTE marks a chord change (its chord differs from the previous POS)",
                "NOTEs of one step have strictly increasing (track, pitch)",
                "for a NOTE, duration and velocity are never 0",
            ],
        }

    def field_mask(self, token_type: int) -> np.ndarray:
        """Bool (F,): which fields a token of ``token_type`` sets (the others must be 0)."""
        used = self.FIELDS_OF_TYPE[int(token_type)]
        return np.array([n in used for n in self.field_names], dtype=bool)

    def next_type_mask(self, prev_type: int) -> np.ndarray:
        """Bool (field_sizes[0],): the token types allowed after a token of ``prev_type``."""
        m = np.zeros(self.field_sizes[0], dtype=bool)
        m[list(self.NEXT_TYPES[int(prev_type)])] = True
        return m

    # ----- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "videobgm.tokens.Tokenizer",
            "version": self.VERSION,
            "field_names": list(self.field_names),
            "field_sizes": list(self.field_sizes),
            "cond_names": list(self.cond_names),
            "cond_sizes": list(self.cond_sizes),
            "types": list(TYPE_NAMES),
            "tracks": list(TRACKS),
            "chord_qualities": list(CHORD_TYPES),
            "duration_steps": list(DURATION_STEPS),
            "velocity_bins": N_VELOCITY_BINS,
            "density_edges": list(DENSITY_EDGES),
            "max_strength": MAX_STRENGTH,
            "progress_bins": N_PROGRESS_BINS,
            "tempo_edges_bpm": list(TEMPO_EDGES_BPM),
            "accent_quantile": ACCENT_QUANTILE,
            "grammar": self.grammar(),
        }

    def to_json(self) -> str:
        """The vocabulary and grammar as a JSON string."""
        return json.dumps(self.to_dict(), indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str | dict[str, Any]) -> Tokenizer:
        """Rebuild from :meth:`to_json` output; refuses a vocabulary this code cannot reproduce."""
        try:
            d = json.loads(text) if isinstance(text, str) else dict(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"tokenizer JSON is not valid JSON: {exc.msg}") from None
        tok = cls()
        mine = tok.to_dict()
        for k in ("field_names", "field_sizes", "cond_names", "cond_sizes", "tracks",
                  "chord_qualities", "duration_steps", "density_edges", "tempo_edges_bpm"):
            if d.get(k) != mine[k]:
                raise InputError(
                    f"tokenizer JSON does not match this videobgm version: {k} is {d.get(k)!r}, "
                    f"expected {mine[k]!r}"
                )
        return tok

    # ----- encode ----------------------------------------------------------------------------
    def encode(self, score: Score, *, controls: Controls | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Score -> (tokens (L, F) int64, cond (L, C) int64).

        Notes outside ``[0, n_steps)`` are dropped; notes with the same (onset, track, pitch) are
        merged (longest duration kept); durations are binned to DURATION_STEPS, velocities to 8
        bins. The conditioning comes from ``controls`` (default: :func:`controls_from_score`).

        Raises
        ------
        InputError
            For a bar longer than 16 steps, an unknown track or a pitch outside 0..127.
        """
        spb = score.steps_per_bar
        if spb > MAX_STEPS_PER_BAR or spb < 1:
            raise InputError(f"bars of {score.beats_per_bar} beats are not supported; accepted: 1..4")
        F = self.F
        merged: dict[tuple[int, int, int], Note] = {}
        for n in score.notes:
            if not 0 <= n.onset_16th < score.n_steps:
                continue
            if n.track not in TRACKS:
                raise InputError(f"unknown track {n.track!r}; accepted: {', '.join(TRACKS)}")
            if not 0 <= n.pitch <= 127:
                raise InputError(f"pitch {n.pitch} out of range 0..127")
            k = (n.onset_16th, TRACKS.index(n.track), n.pitch)
            if k not in merged or n.duration_16th > merged[k].duration_16th:
                merged[k] = n
        keys = sorted(merged)
        chord_at = chord_per_step(score.chords, score.n_steps)
        rows: list[list[int]] = []
        nf = len(self.field_names)

        def tok(t: int, **kw: int) -> None:
            r = [0] * nf
            r[0] = t
            for name, v in kw.items():
                r[F[name]] = v
            rows.append(r)

        onset_steps = {k[0] for k in keys}
        prev_chord = np.concatenate([[1], chord_at[:-1]])
        pos_steps = sorted(onset_steps | set(np.flatnonzero(chord_at != prev_chord).tolist()))
        by_step: dict[int, list[tuple[int, int, int]]] = {}
        for k in keys:
            by_step.setdefault(k[0], []).append(k)
        tok(TYPE_BOS)
        j = 0
        for bar in range(score.n_bars):
            tok(TYPE_BAR)
            end = (bar + 1) * spb
            while j < len(pos_steps) and pos_steps[j] < end:
                step = pos_steps[j]
                tok(TYPE_POS, pos=step - bar * spb + 1, chord=int(chord_at[step]))
                for k in by_step.get(step, ()):
                    n = merged[k]
                    tok(TYPE_NOTE, track=k[1] + 1, pitch=k[2] + 1,
                        duration=duration_bin(n.duration_16th), velocity=velocity_bin(n.velocity))
                j += 1
        tok(TYPE_EOS)
        tokens = np.asarray(rows, dtype=np.int64)
        cond = cond_from_controls(controls if controls is not None else controls_from_score(score), tokens)
        return tokens, cond

    # ----- decode ----------------------------------------------------------------------------
    def decode(
        self,
        tokens: np.ndarray,
        *,
        beats_per_bar: int = 4,
        tempo_bpm: float = 120.0,
        key_tonic: int = 0,
        mode: str = "major",
        chords: list[Chord] | None = None,
        beat_times_s: np.ndarray | None = None,
        programs: dict[str, int] | None = None,
        name: str = "",
    ) -> Score:
        """Tokens (L, F) -> Score; tolerant: rows that break the grammar are skipped.

        Skipped: anything before BOS is accepted as if BOS were there; POS with pos 0 or
        > steps_per_bar or not after the previous POS of the bar; NOTE before any POS, with a 0 or
        out-of-range track/pitch/duration; a NOTE equal in (track, pitch) to one already at that
        step. Decoding stops at EOS. ``n_bars`` = number of BAR tokens (at least 1 if any note).
        Chords come from ``chords`` if given, otherwise from the POS chord fields (a label where
        the chord changes). Velocity 0 decodes as velocity bin 5 (72).
        """
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim != 2 or tokens.shape[1] != len(self.field_names):
            raise InputError(f"tokens must have shape (L, {len(self.field_names)}), got {tokens.shape}")
        spb = int(beats_per_bar) * STEPS_PER_BEAT
        F = self.F
        notes: list[Note] = []
        tok_chords: list[Chord] = []
        bar, step = -1, -1
        seen: set[tuple[int, int]] = set()
        last_chord: tuple[int, str] = (-1, "N")  # the chord before the first label is N
        for row in tokens:
            t = int(row[0])
            if t == TYPE_EOS:
                break
            if t == TYPE_BAR:
                bar += 1
                step = -1
                seen = set()
            elif t == TYPE_POS:
                p = int(row[F["pos"]])
                if bar < 0 or not 1 <= p <= spb or p - 1 <= step:
                    continue
                step = p - 1
                seen = set()
                ch = int(row[F["chord"]])
                if ch >= 1:
                    root, q = chord_of_index(ch)
                    if (root, q) != last_chord:
                        tok_chords.append(Chord(bar * spb + step, root, q))
                        last_chord = (root, q)
            elif t == TYPE_NOTE:
                tr, pi, du, ve = (int(row[F[k]]) for k in ("track", "pitch", "duration", "velocity"))
                if (bar < 0 or step < 0 or not 1 <= tr <= len(TRACKS) or not 1 <= pi <= 128
                        or not 1 <= du <= len(DURATION_STEPS) or (tr, pi) in seen):
                    continue
                seen.add((tr, pi))
                vel = velocity_of_bin(ve if 1 <= ve <= N_VELOCITY_BINS else 5)
                notes.append(Note(bar * spb + step, TRACKS[tr - 1], pi - 1, duration_of_bin(du), vel))
        n_bars = max(bar + 1, 1 if notes else 0)
        notes.sort(key=lambda n: (n.onset_16th, TRACKS.index(n.track), n.pitch))
        bt = None
        if beat_times_s is not None:
            bt = np.asarray(beat_times_s, dtype=float)[: n_bars * int(beats_per_bar) + 1]
            if bt.shape[0] != n_bars * int(beats_per_bar) + 1:
                bt = None
        return Score(
            notes=notes, n_bars=n_bars, beats_per_bar=int(beats_per_bar), tempo_bpm=float(tempo_bpm),
            key_tonic=int(key_tonic), mode=mode,
            chords=list(chords) if chords is not None else tok_chords,
            beat_times_s=bt, programs=dict(programs or {}), name=name,
        )

    # ----- debugging -------------------------------------------------------------------------
    def describe_row(self, row: np.ndarray) -> str:
        """A readable rendering of one token row, e.g. ``note melody p60 d4 v5``."""
        t = int(row[0])
        name = TYPE_NAMES[t] if 0 <= t < len(TYPE_NAMES) else f"?{t}"
        F = self.F
        if t == TYPE_POS:
            r, q = chord_of_index(int(row[F["chord"]]))
            return f"pos {int(row[F['pos']])} chord {r}:{q}"
        if t == TYPE_NOTE:
            tr = int(row[F["track"]])
            trn = TRACKS[tr - 1] if 1 <= tr <= len(TRACKS) else f"?{tr}"
            return (f"note {trn} p{int(row[F['pitch']]) - 1} d{duration_of_bin(int(row[F['duration']]))} "
                    f"v{int(row[F['velocity']])}")
        return name
