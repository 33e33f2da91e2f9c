"""[4] Compound-word (CP) music tokens in the spirit of CMT: vocabulary, grammar, encode/decode.

Every sequence row is one *compound token*: one integer per field of :attr:`Tokenizer.field_names`.
Index 0 of every field means "none / not used by this token type".

Fields (``field_names``) and their values::

    type      0 pad, 1 bos, 2 eos, 3 bar, 4 pos, 5 note
    pos       1 + 16th step inside the bar (1..steps_per_bar, at most 16)
    chord     1 = "N" (no chord), 2 + root * 9 + quality index (qualities of CHORD_QUALITIES
              without "N": maj min dim aug sus4 sus2 7 maj7 min7)
    track     1 + index in TRACKS (melody, bridge, piano, bass, drums)
    pitch     1 + MIDI pitch (0..127; drums: GM percussion key)
    duration  1 + index in DURATION_STEPS (16th steps: 1..16 exact, then 20 24 28 32 40 48 64)
    velocity  1..8 (8 equal-width bins of MIDI velocity 1..127)

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

Conditioning (``cond_names``; inputs given to the model, never predicted), one row per token row,
index 0 = none:

    density   bin of the number of note onsets in the token's bar (pitched tracks, drums excluded)
    strength  1 + min(n, 8), n = notes (pitched) with an onset on the first 16th of the token's beat
    progress  1 + bin of bar_index / (n_bars - 1) in 16 equal bins
    chord     chord at the token's step (same coding as the ``chord`` field)
    key       1 + tonic + 12 * (mode == "minor")
    accent    1 = no accent, 2 = the token's step is an accent step (see :func:`accent_steps_of`)
    tempo     1 + bin of the tempo (bpm) in TEMPO_EDGES_BPM

Which bar/beat/step a row "belongs to": BOS -> bar 0, step 0 (all controls of the first bar);
BAR -> the bar it opens, its first step; POS and NOTE -> their bar and step; EOS and PAD -> only
``key`` and ``tempo`` set (and ``progress`` = last bin for EOS). ``cond[i]`` describes token ``i``
itself: a sampler that predicts token ``i`` from tokens ``< i`` should feed ``cond[i]`` beside token
``i - 1`` (i.e. shift conditioning one row left), or compute it with :meth:`Tokenizer.cond_row`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from videobgm.errors import InputError
from videobgm.types import (
    CHORD_QUALITIES,
    MODES,
    STEPS_PER_BEAT,
    TRACKS,
    Chord,
    Controls,
    Note,
    Score,
)

# ------------------------------------------------------------------------------------------------
# bins
# ------------------------------------------------------------------------------------------------
MAX_STEPS_PER_BAR = 16  # the pos field covers bars of up to 4 beats of 4 sixteenths
DURATION_STEPS: tuple[int, ...] = tuple(range(1, 17)) + (20, 24, 28, 32, 40, 48, 64)
N_VELOCITY_BINS = 8
# density: bin i (1-based) holds onset counts n with DENSITY_EDGES[i-1] <= n < DENSITY_EDGES[i]
DENSITY_EDGES: tuple[int, ...] = (0, 1, 3, 5, 7, 9, 11, 13, 16, 19, 22, 26, 30, 35, 40, 48)
MAX_STRENGTH = 8
N_PROGRESS_BINS = 16
TEMPO_EDGES_BPM: tuple[float, ...] = (0, 60, 70, 80, 90, 100, 110, 120, 130, 140, 155, 170)
CHORD_TYPES: tuple[str, ...] = tuple(q for q in CHORD_QUALITIES if q != "N")  # 9 qualities
ACCENT_QUANTILE = 0.9  # accent steps: top 10 % of per-step max onset velocity (see accent_steps_of)

TYPE_PAD, TYPE_BOS, TYPE_EOS, TYPE_BAR, TYPE_POS, TYPE_NOTE = range(6)
TYPE_NAMES: tuple[str, ...] = ("pad", "bos", "eos", "bar", "pos", "note")


def density_bin(n: int) -> int:
    """Density bin (1..len(DENSITY_EDGES)) of ``n`` note onsets in a bar (0 is never returned)."""
    return int(np.searchsorted(DENSITY_EDGES, max(int(n), 0), side="right"))


def density_of_bin(b: int) -> int:
    """A representative onset count (the lower edge) of density bin ``b`` >= 1."""
    b = min(max(int(b), 1), len(DENSITY_EDGES))
    return int(DENSITY_EDGES[b - 1])


def strength_bin(n: int) -> int:
    """Strength bin 1..MAX_STRENGTH+1 of ``n`` simultaneous notes on a beat's first step."""
    return 1 + min(max(int(n), 0), MAX_STRENGTH)


def progress_bin(x: float) -> int:
    """Progress bin 1..N_PROGRESS_BINS of the bar position ``x`` in [0, 1] (clipped)."""
    x = min(max(float(x), 0.0), 1.0) if np.isfinite(x) else 0.0
    return 1 + min(N_PROGRESS_BINS - 1, int(x * N_PROGRESS_BINS))


def tempo_bin(bpm: float) -> int:
    """Tempo bin 1..len(TEMPO_EDGES_BPM) of ``bpm`` (non-finite -> the 120 bpm bin)."""
    bpm = float(bpm) if np.isfinite(bpm) else 120.0
    return int(np.searchsorted(TEMPO_EDGES_BPM, max(bpm, 0.0), side="right"))


def chord_index(root: int, quality: str) -> int:
    """Chord field value: 1 for no chord (root < 0 or quality "N"), else 2 + root * 9 + quality.

    Raises
    ------
    InputError
        When ``quality`` is not one of :data:`~videobgm.types.CHORD_QUALITIES`.
    """
    if quality == "N" or int(root) < 0:
        return 1
    if quality not in CHORD_TYPES:
        raise InputError(f"unknown chord quality {quality!r}; accepted: {', '.join(CHORD_QUALITIES)}")
    return 2 + (int(root) % 12) * len(CHORD_TYPES) + CHORD_TYPES.index(quality)


def chord_of_index(idx: int) -> tuple[int, str]:
    """Inverse of :func:`chord_index`: ``(root, quality)``; (-1, "N") for 0, 1 or out of range."""
    idx = int(idx)
    if idx < 2 or idx >= 2 + 12 * len(CHORD_TYPES):
        return -1, "N"
    r, q = divmod(idx - 2, len(CHORD_TYPES))
    return r, CHORD_TYPES[q]


def key_index(tonic: int, mode: str) -> int:
    """Key field value 1..24: 1 + tonic + 12 * minor."""
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; accepted: {', '.join(MODES)}")
    return 1 + int(tonic) % 12 + 12 * (mode == "minor")


def velocity_bin(v: int) -> int:
    """Velocity bin 1..8 of MIDI velocity ``v`` (1..127, clipped): 16 velocities per bin."""
    v = min(max(int(v), 1), 127)
    return 1 + min(N_VELOCITY_BINS - 1, (v - 1) // 16)


def velocity_of_bin(b: int) -> int:
    """MIDI velocity at the centre of bin ``b`` (1..8): 8, 24, ..., 120."""
    b = min(max(int(b), 1), N_VELOCITY_BINS)
    return min(127, 16 * (b - 1) + 8)


def duration_bin(n: int) -> int:
    """Duration bin (1-based) of ``n`` 16th steps: the nearest of DURATION_STEPS (ties: shorter)."""
    n = max(1, int(n))
    return _DURATION_LUT[n] if n < len(_DURATION_LUT) else len(DURATION_STEPS)


_DURATION_LUT = [0] + [1 + int(np.argmin(np.abs(np.asarray(DURATION_STEPS) - n)))
                       for n in range(1, DURATION_STEPS[-1] + 1)]


def duration_of_bin(b: int) -> int:
    """Duration in 16th steps of bin ``b`` (1..len(DURATION_STEPS), clipped)."""
    b = min(max(int(b), 1), len(DURATION_STEPS))
    return DURATION_STEPS[b - 1]


# ------------------------------------------------------------------------------------------------
# controls from a score
# ------------------------------------------------------------------------------------------------
def accent_steps_of(score: Score, *, quantile: float = ACCENT_QUANTILE) -> np.ndarray:
    """Accent steps of a score, shape (n_steps,) bool.

    A step is an accent when the maximum velocity of the notes (pitched tracks) with an onset there
    is >= the ``quantile`` of those per-step maxima over the piece *and* strictly above their
    median (so a piece with one constant velocity has no accents).
    """
    out = np.zeros(score.n_steps, dtype=bool)
    vmax = np.zeros(score.n_steps, dtype=np.int64)
    for n in score.notes:
        if n.track != "drums" and 0 <= n.onset_16th < score.n_steps:
            vmax[n.onset_16th] = max(vmax[n.onset_16th], n.velocity)
    vals = vmax[vmax > 0]
    if vals.size == 0:
        return out
    thr = np.quantile(vals, quantile)
    med = np.median(vals)
    out[:] = (vmax >= thr) & (vmax > med)
    return out


def controls_from_score(score: Score) -> Controls:
    """The CMT controls a score realises (used for training and for evaluation of control fit).

    Density per bar = onsets of pitched tracks (drums excluded) in the bar; strength per beat =
    pitched notes with onset on the beat's first 16th; accents from :func:`accent_steps_of`;
    chords, key, mode and tempo copied; tracks = tracks that have notes (in TRACKS order);
    melody bars = bars with a melody onset (None when the score has no melody).
    """
    spb = score.steps_per_bar
    density = np.zeros(score.n_bars, dtype=np.int64)
    strength = np.zeros(score.n_bars * score.beats_per_bar, dtype=np.int64)
    melody = np.zeros(score.n_bars, dtype=bool)
    for n in score.notes:
        if n.track == "drums" or not 0 <= n.onset_16th < score.n_steps:
            continue
        density[n.onset_16th // spb] += 1
        melody[n.onset_16th // spb] |= n.track == "melody"
        if n.onset_16th % STEPS_PER_BEAT == 0:
            strength[n.onset_16th // STEPS_PER_BEAT] += 1
    used = {n.track for n in score.notes}
    return Controls(
        n_bars=score.n_bars,
        beats_per_bar=score.beats_per_bar,
        density_per_bar=density,
        strength_per_beat=strength,
        accent_steps=accent_steps_of(score),
        chords=list(score.chords),
        key_tonic=score.key_tonic,
        mode=score.mode,
        tracks=tuple(t for t in TRACKS if t in used),
        tempo_bpm=float(score.tempo_bpm),
        melody_bars=melody if melody.any() else None,
    )


def chord_per_step(chords: list[Chord], n_steps: int) -> np.ndarray:
    """Chord field value at every step, shape (n_steps,) int64 (1 = N before the first label)."""
    out = np.ones(n_steps, dtype=np.int64)
    for c in sorted(chords, key=lambda c: c.onset_16th):
        s = max(0, int(c.onset_16th))
        if s < n_steps:
            out[s:] = chord_index(c.root, c.quality)
    return out


@dataclass
class CondTables:
    """Per-bar / per-beat / per-step conditioning values precomputed from :class:`Controls`.

    Attributes (all int64, already binned field values)
    ----------
    density : (n_bars,)
    progress : (n_bars,)
    strength : (n_bars * beats_per_bar,)
    chord : (n_steps,)
    accent : (n_steps,)
    key : int
    tempo : int
    steps_per_bar : int
    """

    density: np.ndarray
    progress: np.ndarray
    strength: np.ndarray
    chord: np.ndarray
    accent: np.ndarray
    key: int
    tempo: int
    steps_per_bar: int

    @property
    def n_bars(self) -> int:
        return int(self.density.shape[0])


def cond_tables(controls: Controls) -> CondTables:
    """Bin the controls once; :meth:`Tokenizer.cond_row` reads rows from the result."""
    nb, bpb = int(controls.n_bars), int(controls.beats_per_bar)
    spb = bpb * STEPS_PER_BEAT
    dens = np.array([density_bin(n) for n in np.asarray(controls.density_per_bar)[:nb]], dtype=np.int64)
    prog = np.array([progress_bin(x) for x in controls.progress_per_bar()], dtype=np.int64)
    stren = np.array([strength_bin(n) for n in np.asarray(controls.strength_per_beat)[: nb * bpb]],
                     dtype=np.int64)
    acc = np.asarray(controls.accent_steps, dtype=bool)[: nb * spb]
    accent = np.where(acc, 2, 1).astype(np.int64)
    if accent.shape[0] < nb * spb:  # missing accents = no accent
        accent = np.concatenate([accent, np.ones(nb * spb - accent.shape[0], dtype=np.int64)])
    return CondTables(
        density=dens, progress=prog, strength=stren,
        chord=chord_per_step(controls.chords, nb * spb), accent=accent,
        key=key_index(controls.key_tonic, controls.mode), tempo=tempo_bin(controls.tempo_bpm),
        steps_per_bar=spb,
    )


# ------------------------------------------------------------------------------------------------
# the tokenizer
# ------------------------------------------------------------------------------------------------
class Tokenizer:
    """Compound-word tokenizer: vocabulary, grammar and encode/decode (see the module docstring).

    The tokenizer is stateless apart from its vocabulary sizes; ``to_json``/``from_json`` save and
    restore it (and check that the saved vocabulary matches this code's).
    """

    VERSION = 1
    TYPE_PAD, TYPE_BOS, TYPE_EOS, TYPE_BAR, TYPE_POS, TYPE_NOTE = range(6)
    TYPE_NAMES = TYPE_NAMES
    TRACKS = TRACKS

    field_names: tuple[str, ...] = ("type", "pos", "chord", "track", "pitch", "duration", "velocity")
    cond_names: tuple[str, ...] = ("density", "strength", "progress", "chord", "key", "accent", "tempo")

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

    # ----- conditioning ----------------------------------------------------------------------
    def cond_row(self, tables: CondTables, token_type: int, bar: int = 0, step: int = 0) -> np.ndarray:
        """Conditioning row (C,) int64 for a token of ``token_type`` at ``bar`` / in-bar ``step``.

        Bars/steps past the end of the tables get the last bar's values (so an over-long
        generation still has valid conditioning).
        """
        row = np.zeros(len(self.cond_names), dtype=np.int64)
        c = self.C
        row[c["key"]] = tables.key
        row[c["tempo"]] = tables.tempo
        t = int(token_type)
        if t == TYPE_PAD:
            return row
        if t == TYPE_EOS:
            row[c["progress"]] = N_PROGRESS_BINS
            return row
        nb = tables.n_bars
        if nb == 0:
            return row
        bar = min(max(int(bar), 0), nb - 1)  # (plain min/max: np.clip costs more on scalars)
        step = min(max(int(step), 0), tables.steps_per_bar - 1)
        g = bar * tables.steps_per_bar + step
        row[c["density"]] = tables.density[bar]
        row[c["progress"]] = tables.progress[bar]
        row[c["strength"]] = tables.strength[g // STEPS_PER_BEAT]
        row[c["chord"]] = tables.chord[g]
        row[c["accent"]] = tables.accent[g]
        return row

    def cond_from_controls(self, controls: Controls, tokens: np.ndarray) -> np.ndarray:
        """Conditioning rows (L, C) for a token sequence (L, F) under ``controls``.

        Row ``i`` equals ``cond_row(tables, type_i, bar_i, step_i)`` where ``bar_i`` counts the BAR
        tokens up to ``i`` (0 before the first) and ``step_i`` is the step of the last valid POS of
        that bar (0 before it); vectorised.
        """
        tables = cond_tables(controls)
        tokens = np.asarray(tokens, dtype=np.int64)
        n = tokens.shape[0]
        out = np.zeros((n, len(self.cond_names)), dtype=np.int64)
        if n == 0:
            return out
        c = self.C
        types = tokens[:, 0]
        spb = tables.steps_per_bar
        out[:, c["key"]] = tables.key
        out[:, c["tempo"]] = tables.tempo
        is_bar = types == TYPE_BAR
        bar = np.maximum(np.cumsum(is_bar) - 1, 0)
        pos = tokens[:, self.F["pos"]]
        valid_pos = (types == TYPE_POS) & (pos >= 1) & (pos <= spb)
        # forward-fill the step of the last valid POS, reset to 0 at every BAR
        marker = valid_pos | is_bar
        last = np.maximum.accumulate(np.where(marker, np.arange(n), -1))
        step = np.where(last >= 0, np.where(valid_pos[np.maximum(last, 0)], pos[np.maximum(last, 0)] - 1, 0), 0)
        out[types == TYPE_EOS, c["progress"]] = N_PROGRESS_BINS
        live = (types != TYPE_PAD) & (types != TYPE_EOS)
        if tables.n_bars == 0 or not live.any():
            return out
        b = np.clip(bar, 0, tables.n_bars - 1)[live]
        g = b * spb + np.clip(step, 0, spb - 1)[live]
        out[live, c["density"]] = tables.density[b]
        out[live, c["progress"]] = tables.progress[b]
        out[live, c["strength"]] = tables.strength[g // STEPS_PER_BEAT]
        out[live, c["chord"]] = tables.chord[g]
        out[live, c["accent"]] = tables.accent[g]
        return out

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
        cond = self.cond_from_controls(controls if controls is not None else controls_from_score(score), tokens)
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
