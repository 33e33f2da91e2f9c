"""The decoder's state: what one call of :func:`videobgm.compose.sampler.generate` knows and tracks.

A :class:`DecodeContext` holds what is fixed for the call once the controls are read (bar targets,
chords per step, allowed tracks and pitches, steps to the next chord change and to the next
breath, the motif layout, the bars to decode); :func:`build_context` makes it. A
:class:`DecodeState` holds what changes token by token (bar, step, note counts, the last note's
track and pitch, the melody's last pitch, the rows so far, the repetition guide, the motif plan of
the current bar, what sounds where). The state transitions that every token type makes
(:func:`enter_bar`, :func:`enter_step`, :func:`count_note`, :func:`note_melody`) live here, so
that the sampled and the copied (repeated) tokens update the state the same way. The masks that
read both are in :mod:`videobgm.compose.bar_constraints` and :mod:`videobgm.compose.note_constraints`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from videobgm.compose.conditioning import cond_row, cond_tables
from videobgm.compose.constraints import TokenSampler, Voicing, bar_targets
from videobgm.config import SampleConfig
from videobgm.errors import OptionError
from videobgm.music.theory import scale_pitch_classes
from videobgm.types import STEPS_PER_BEAT, TRACKS, Controls

# tracks the model may be asked for (drums are never sampled by the model)
MODEL_TRACKS: tuple[str, ...] = ("melody", "bridge", "piano")  # what POP909 taught the model
ACCOMPANIMENT: tuple[str, ...] = ("bridge", "piano", "bass")
PITCH_RANGE: tuple[int, int] = (21, 108)  # MIDI pitches sampled (the piano's range)
REGISTER_RECENT = 6  # melody notes whose mean is the line's current register


@dataclass
class DecodeContext:
    """What is fixed for one decoding call (the bar targets' forced steps grow with the motif plan)."""

    controls: Controls  # the model's targets (rule parts' onsets and breaths taken out)
    full: Controls  # the controls as asked
    cfg: SampleConfig
    tokenizer: Any
    F: dict[str, int]  # field name -> index
    tables: Any  # conditioning.cond_tables(controls): chord (and conditioning) per step
    bars: list  # constraints.bar_targets per bar
    start_bar: int  # bars [start_bar, end_bar) are decoded
    end_bar: int
    track_ok: np.ndarray  # bool over track field values: tracks the model samples
    melody_bars: np.ndarray | None  # bool per bar (constrained decoding with melody bars) or None
    ends: np.ndarray  # bool per bar: phrase ends
    breath: np.ndarray  # bool per bar: the texture breathes on its last beat
    steps_to_breath: np.ndarray  # per step: steps to the next breath (10**6: none)
    rule_onsets: np.ndarray  # per step: onsets of the rule parts (drums not counted)
    motif_map: dict[int, int]  # restating bar -> statement bar
    # a restating unit's last bar -> statement bar: its first half follows the statement's
    motif_heads: dict[int, int] = field(default_factory=dict)
    # the melody's avoid-note malus (SampleConfig.melody_avoid_bias where the idiom asks for it, else 0)
    avoid_bias: float = 0.0
    bass_pcs: np.ndarray | None = None  # bool (n_steps, 12): the bass's sounding pitch classes
    dur_steps: np.ndarray = field(init=False)  # duration field value -> steps (0 for value 0)
    steps_to_change: np.ndarray = field(init=False)  # per step: steps to the next chord change
    pitch_ok: np.ndarray = field(init=False)  # bool over pitch field values: PITCH_RANGE
    in_scale: np.ndarray = field(init=False)  # bool (128,): MIDI pitches in the key's scale
    beat_chords: np.ndarray = field(init=False)  # chord field value on each beat's first step
    beat_roots: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        from videobgm.compose.token_codes import chord_of_index, duration_of_bin

        sizes, F = self.tokenizer.field_sizes, self.F
        self.dur_steps = np.array([0] + [duration_of_bin(i) for i in range(1, sizes[F["duration"]])])
        chord = self.tables.chord
        chg = np.flatnonzero(np.diff(chord) != 0) + 1
        nxt = np.searchsorted(chg, np.arange(chord.shape[0]), side="right")
        self.steps_to_change = np.append(chg, chord.shape[0])[nxt] - np.arange(chord.shape[0])
        self.pitch_ok = np.zeros(sizes[F["pitch"]], dtype=bool)
        self.pitch_ok[1 + PITCH_RANGE[0]:1 + PITCH_RANGE[1] + 1] = True
        c = self.controls
        scale_pcs = np.zeros(12, dtype=bool)
        scale_pcs[list(scale_pitch_classes(c.key_tonic, "major" if c.mode == "major" else "minor"))] = True
        self.in_scale = scale_pcs[np.arange(128) % 12]
        self.beat_chords = chord[::STEPS_PER_BEAT]
        self.beat_roots = np.array([chord_of_index(int(v))[0] for v in self.beat_chords])

    @property
    def spb(self) -> int:
        return self.controls.steps_per_bar

    @property
    def n_bars(self) -> int:
        return self.controls.n_bars

    @property
    def melody_value(self) -> int:
        return 1 + TRACKS.index("melody")

    @property
    def accompaniment_values(self) -> set[int]:
        return {1 + TRACKS.index(t) for t in ACCOMPANIMENT}

    def chord_at(self, g: int) -> int:
        """Chord field value at global 16th step ``g``."""
        return int(self.tables.chord[g])


@dataclass
class DecodeState:
    """What changes token by token (``bar``/``step`` -1: none yet)."""

    voicing: Voicing  # what sounds where: rule parts, kept notes, sampled notes
    sampler: TokenSampler  # the seeded draws (fields, phrase repeats)
    bar: int = -1
    step: int = -1
    notes_in_bar: int = 0
    notes_at_step: int = 0
    tokens_in_bar: int = 0
    melody_in_bar: int = 0  # melody notes in the current bar so far
    last_track: int = 0  # field value of the last note's track at this step (0 = none)
    last_pitch: int = 0
    melody_pitch: int = -1  # MIDI pitch of the last melody note (-1: none yet)
    melody_nct: bool = False  # whether that note was not a tone of its chord
    melody_recent: list[int] = field(default_factory=list)  # MIDI pitches of the last melody notes
    cadence_done: bool = False  # a phrase-end bar has had its long last melody note
    prev_type: int = 1
    done: bool = False
    rows: list[np.ndarray] = field(default_factory=list)
    guide: dict[int, list[np.ndarray]] = field(default_factory=dict)  # step -> NOTE rows to imitate
    phrase_repeats: dict[int, bool] = field(default_factory=dict)  # phrase -> repeat its bars
    motif: dict[int, tuple[int, int]] = field(default_factory=dict)  # step -> (pitch, duration) values


def global_step(ctx: DecodeContext, st: DecodeState) -> int:
    """The current step as a global 16th step."""
    return st.bar * ctx.spb + st.step


def build_context(controls: Controls, full: Controls, cfg: SampleConfig, tokenizer: Any, *,
                  span: tuple[int, int], breath: np.ndarray, steps_to_breath: np.ndarray,
                  rule_onsets: np.ndarray, phrase_ends: tuple[int, ...] | None,
                  motif: dict[int, int] | None, bass: list | None = None) -> DecodeContext:
    """The fixed part of a decoding call for the model's ``controls`` (see :class:`DecodeContext`);
    ``bass``: the notes already known around the sampled ones (rule parts, kept notes), whose bass
    notes the melody's avoid-note malus reads."""

    F = tokenizer.F
    track_ok = np.zeros(tokenizer.field_sizes[F["track"]], dtype=bool)
    for t in controls.tracks:
        if t in MODEL_TRACKS:
            track_ok[1 + TRACKS.index(t)] = True
    ends = np.zeros(controls.n_bars, dtype=bool)
    if cfg.constrained and phrase_ends:
        ends[[int(b) for b in phrase_ends if 0 <= int(b) < controls.n_bars]] = True
    melody_bars = None  # bars where the melody must play / must not (constrained decoding only)
    if cfg.constrained and controls.melody_bars is not None and track_ok[1 + TRACKS.index("melody")]:
        melody_bars = np.asarray(controls.melody_bars, dtype=bool)
        if melody_bars.shape != (controls.n_bars,):
            raise OptionError(f"controls.melody_bars must have one value per bar ({controls.n_bars}), "
                              f"got shape {melody_bars.shape}")
    return DecodeContext(
        controls=controls, full=full, cfg=cfg, tokenizer=tokenizer, F=F, tables=cond_tables(controls),
        bars=bar_targets(controls, cfg), start_bar=int(span[0]), end_bar=int(span[1]), track_ok=track_ok,
        melody_bars=melody_bars, ends=ends, breath=breath, steps_to_breath=steps_to_breath,
        rule_onsets=rule_onsets, motif_map={int(t): int(j) for t, j in (motif or {}).items() if int(j) < int(t)},
        motif_heads={int(t): int(j) for t, j in getattr(motif, "heads", {}).items() if int(j) < int(t)},
        avoid_bias=avoid_weight(full, cfg), bass_pcs=bass_pitch_classes(bass or [], controls),
    )


def avoid_weight(controls: Controls, cfg: SampleConfig) -> float:
    """``cfg.melody_avoid_bias`` where the controls' style x mood idiom has the melody avoid the
    pitches a semitone from the bass (:attr:`videobgm.music.styles.Idiom.avoid_notes`: calm), else 0."""
    from videobgm.music import styles

    if not cfg.constrained or not cfg.melody_avoid_bias or controls.style not in styles.STYLE_IDIOMS:
        return 0.0
    return float(cfg.melody_avoid_bias) if styles.idiom(controls.style, controls.mood).avoid_notes else 0.0


def bass_pitch_classes(notes: list, controls: Controls) -> np.ndarray | None:
    """Bool (n_steps, 12): the pitch classes the ``bass`` track's ``notes`` sound on every 16th
    (None without bass notes)."""
    bass = [n for n in notes if n.track == "bass"]
    if not bass:
        return None
    n_steps = controls.n_bars * controls.steps_per_bar
    pcs = np.zeros((n_steps, 12), dtype=bool)
    for n in bass:
        pcs[max(0, n.onset_16th):max(0, min(n_steps, n.onset_16th + max(1, n.duration_16th))), n.pitch % 12] = True
    return pcs


def cond_for(ctx: DecodeContext, st: DecodeState, token_type: int) -> np.ndarray:
    """The conditioning row fed with a token of ``token_type`` at the current bar and step."""
    return cond_row(ctx.tables, token_type, max(st.bar, 0), max(st.step, 0))


def enter_bar(st: DecodeState) -> None:
    """A BAR token: the next bar starts (its motif plan is set by the caller)."""
    st.bar += 1
    st.step, st.notes_in_bar, st.notes_at_step, st.tokens_in_bar = -1, 0, 0, 0
    st.melody_in_bar, st.cadence_done = 0, False


def enter_step(st: DecodeState, pos_value: int) -> None:
    """A POS token with field value ``pos_value`` (step + 1)."""
    st.step, st.notes_at_step, st.last_track, st.last_pitch = int(pos_value) - 1, 0, 0, 0


def count_note(st: DecodeState, track_value: int, pitch_value: int) -> None:
    """A NOTE token's counts (the melody's count and pitch: the caller, see :func:`note_melody`)."""
    st.last_track, st.last_pitch = int(track_value), int(pitch_value)
    st.notes_in_bar += 1
    st.notes_at_step += 1


def melody_only(ctx: DecodeContext) -> bool:
    """Whether the melody is the only track the model samples (the accompaniment is arranged by
    rule): every other onset of a bar would be the melody's."""
    return int(ctx.track_ok.sum()) == 1 and bool(ctx.track_ok[ctx.melody_value])


def note_melody(st: DecodeState, pitch: int, chord_tones: np.ndarray | None) -> None:
    """The melody played MIDI ``pitch`` (a non-chord tone when ``chord_tones`` lacks it)."""
    st.melody_pitch = int(pitch)
    st.melody_recent = [*st.melody_recent[-(REGISTER_RECENT - 1):], int(pitch)]
    st.melody_nct = chord_tones is not None and not bool(chord_tones[int(pitch)])
