"""The conditioning rows: the model's inputs beside each token row, from :class:`Controls`.

Conditioning (:data:`~videobgm.compose.token_codes.COND_NAMES`; inputs given to the model, never
predicted), one row per token row, index 0 = none:

    density   bin of the number of note onsets in the token's bar (pitched tracks, drums excluded)
    strength  1 + min(n, 8), n = notes (pitched) with an onset on the first 16th of the token's beat
    progress  1 + bin of bar_index / (n_bars - 1) in 16 equal bins
    chord     chord at the token's step (same coding as the ``chord`` field)
    key       1 + tonic + 12 * (mode == "minor")
    accent    1 = no accent, 2 = the token's step is an accent step (see
              :func:`videobgm.compose.score_controls.accent_steps_of`)
    tempo     1 + bin of the tempo (bpm) in TEMPO_EDGES_BPM

Which bar/beat/step a row "belongs to": BOS -> bar 0, step 0 (all controls of the first bar);
BAR -> the bar it opens, its first step; POS and NOTE -> their bar and step; EOS and PAD -> only
``key`` and ``tempo`` set (and ``progress`` = last bin for EOS). ``cond[i]`` describes token ``i``
itself: a sampler that predicts token ``i`` from tokens ``< i`` should feed ``cond[i]`` beside token
``i - 1`` (i.e. shift conditioning one row left), or compute it with :func:`cond_row`.
:func:`cond_tables` bins the controls once; :func:`cond_row` reads one row from the tables (the
sampler, token by token); :func:`cond_from_controls` gives every row of a sequence (vectorised).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from videobgm.compose.token_codes import (
    COND_NAMES,
    FIELD_NAMES,
    N_PROGRESS_BINS,
    TYPE_BAR,
    TYPE_EOS,
    TYPE_PAD,
    TYPE_POS,
    chord_index,
    density_bin,
    key_index,
    progress_bin,
    strength_bin,
    tempo_bin,
)
from videobgm.types import STEPS_PER_BEAT, Chord, Controls

_C = {n: i for i, n in enumerate(COND_NAMES)}  # cond name -> column
_POS = FIELD_NAMES.index("pos")


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
    """Bin the controls once; :func:`cond_row` reads rows from the result."""
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


def cond_row(tables: CondTables, token_type: int, bar: int = 0, step: int = 0) -> np.ndarray:
    """Conditioning row (C,) int64 for a token of ``token_type`` at ``bar`` / in-bar ``step``.

    Bars/steps past the end of the tables get the last bar's values (so an over-long
    generation still has valid conditioning).
    """
    row = np.zeros(len(COND_NAMES), dtype=np.int64)
    c = _C
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

def cond_from_controls(controls: Controls, tokens: np.ndarray) -> np.ndarray:
    """Conditioning rows (L, C) for a token sequence (L, F) under ``controls``.

    Row ``i`` equals ``cond_row(tables, type_i, bar_i, step_i)`` where ``bar_i`` counts the BAR
    tokens up to ``i`` (0 before the first) and ``step_i`` is the step of the last valid POS of
    that bar (0 before it); vectorised.
    """
    tables = cond_tables(controls)
    tokens = np.asarray(tokens, dtype=np.int64)
    n = tokens.shape[0]
    out = np.zeros((n, len(COND_NAMES)), dtype=np.int64)
    if n == 0:
        return out
    c = _C
    types = tokens[:, 0]
    spb = tables.steps_per_bar
    out[:, c["key"]] = tables.key
    out[:, c["tempo"]] = tables.tempo
    is_bar = types == TYPE_BAR
    bar = np.maximum(np.cumsum(is_bar) - 1, 0)
    pos = tokens[:, _POS]
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
