"""[7a] Score -> performance: the notes as a (seeded) player would play them, in seconds.

The Score is exact: every onset on the 16th grid, velocities from the model. A performance adds,
per style (:data:`STYLE_PERFORMANCE`, keyed by the lexicon's style names, ``vocab.STYLES``):

* timing jitter of a few ms per chord (one draw per track and onset, Gaussian, clipped at 2
  sigma), and swing of the off-beat 16ths where the style calls for it;
* velocity shaping by metrical position (downbeat > beat > 8th > 16th) and by phrase arc (a
  crescendo to the middle of each section, then back), plus a small random spread;
* sustain pedal (CC64) for piano-like accompaniment parts, pressed just after each chord change
  and released at the next one;
* the mix settings of the style (pan, reverb send, reverb kind, gain staging targets), which the
  mastering chain (:mod:`videobgm.audio.master`) applies per stem.

Hit points stay exact: onsets on a protected step (the plan's accent steps, where strong visual
beats fall, and the first step of every section, where the cuts fall) are neither jittered nor
swung, and their velocity is never lowered. The MIDI file keeps the Score itself (on the grid,
for DAWs); only the rendered audio is performed. Same Score, protected steps and seed -> same
performance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from videobgm.types import STEPS_PER_BEAT, Plan, Score

# GM programs that get the sustain pedal (acoustic/electric pianos)
PEDAL_PROGRAMS = frozenset(range(0, 6))
PEDAL_TRACKS = ("piano", "bridge")  # accompaniment parts; the melody line stays clean
PEDAL_DOWN_DELAY_S = 0.04  # legato pedalling: pressed just after the new chord is struck


@dataclass(frozen=True)
class StylePerformance:
    """How one style is played and mixed. Pan -1 (left) .. 1 (right); sends 0..1 into the reverb.

    Gain staging targets (see :func:`videobgm.audio.master.stage_gains`): the melody this many dB above
    the accompaniment (bridge + piano) in the melody's band; bass and drums at these loudness
    offsets (LU) from the melody.
    """

    jitter_ms: float
    velocity_spread: float  # std of the random velocity change (MIDI velocity units)
    metric_depth: float  # relative velocity change per metrical weight unit
    arc_depth: float  # relative velocity change of the phrase arc (top minus edges)
    swing: float  # share of a pair of 16ths taken by the first: 0.5 straight, 0.58 light swing
    pedal: bool
    reverb: str  # "room" or "hall" (master.REVERBS)
    pan: dict[str, float] = field(default_factory=dict)
    send: dict[str, float] = field(default_factory=dict)
    melody_over_accompaniment_db: float = 4.5
    bass_lu: float = -4.0
    drums_lu: float = -5.0


STYLE_PERFORMANCE: dict[str, StylePerformance] = {
    "pop": StylePerformance(
        jitter_ms=4.0, velocity_spread=3.0, metric_depth=0.05, arc_depth=0.10, swing=0.5,
        pedal=True, reverb="room",
        pan={"melody": 0.0, "bridge": -0.35, "piano": 0.3, "bass": 0.0, "drums": 0.0},
        send={"melody": 0.16, "bridge": 0.22, "piano": 0.2, "bass": 0.03, "drums": 0.08},
        melody_over_accompaniment_db=4.5, bass_lu=-4.0, drums_lu=-5.0),
    "acoustic": StylePerformance(
        jitter_ms=7.0, velocity_spread=4.0, metric_depth=0.06, arc_depth=0.12, swing=0.56,
        pedal=True, reverb="room",
        pan={"melody": 0.05, "bridge": -0.4, "piano": 0.35, "bass": -0.05, "drums": 0.0},
        send={"melody": 0.14, "bridge": 0.2, "piano": 0.16, "bass": 0.04, "drums": 0.08},
        melody_over_accompaniment_db=4.5, bass_lu=-5.0, drums_lu=-6.0),
    "cinematic": StylePerformance(
        jitter_ms=6.0, velocity_spread=3.0, metric_depth=0.03, arc_depth=0.16, swing=0.5,
        pedal=True, reverb="hall",
        pan={"melody": -0.1, "bridge": 0.4, "piano": -0.3, "bass": 0.15, "drums": 0.0},
        send={"melody": 0.3, "bridge": 0.34, "piano": 0.3, "bass": 0.14, "drums": 0.12},
        melody_over_accompaniment_db=4.0, bass_lu=-4.0, drums_lu=-6.0),
    "ambient": StylePerformance(
        jitter_ms=8.0, velocity_spread=3.0, metric_depth=0.02, arc_depth=0.14, swing=0.5,
        pedal=True, reverb="hall",
        pan={"melody": 0.0, "bridge": -0.5, "piano": 0.45, "bass": 0.0, "drums": 0.0},
        send={"melody": 0.38, "bridge": 0.45, "piano": 0.42, "bass": 0.15, "drums": 0.15},
        melody_over_accompaniment_db=3.5, bass_lu=-5.0, drums_lu=-7.0),
    "electronic": StylePerformance(  # sequenced: on the grid, flat dynamics
        jitter_ms=0.0, velocity_spread=1.0, metric_depth=0.06, arc_depth=0.06, swing=0.5,
        pedal=False, reverb="room",
        pan={"melody": 0.0, "bridge": -0.45, "piano": 0.4, "bass": 0.0, "drums": 0.0},
        send={"melody": 0.18, "bridge": 0.25, "piano": 0.2, "bass": 0.02, "drums": 0.06},
        melody_over_accompaniment_db=4.5, bass_lu=-3.0, drums_lu=-4.0),
}
DEFAULT_STYLE = "pop"


def style_performance(style: str | None) -> StylePerformance:
    """The settings of ``style`` (a lexicon style name); unknown or None -> :data:`DEFAULT_STYLE`."""
    return STYLE_PERFORMANCE.get(str(style or DEFAULT_STYLE).lower(), STYLE_PERFORMANCE[DEFAULT_STYLE])


@dataclass(frozen=True)
class PlayedNote:
    """One note as played: times in seconds, velocity 1..127."""

    track: str
    pitch: int
    on_s: float
    off_s: float
    velocity: int


@dataclass
class Performance:
    """A performed Score: played notes, sustain pedal intervals per track and the style's mix."""

    notes: list[PlayedNote]
    pedal_s: dict[str, list[tuple[float, float]]]
    style: str
    settings: StylePerformance


def metrical_weight(step_in_bar: np.ndarray, steps_per_bar: int) -> np.ndarray:
    """+1 downbeat, +0.5 mid-bar (even metres), 0 other beats, -0.5 8th off-beats, -1 16ths."""
    s = np.asarray(step_in_bar) % steps_per_bar
    w = np.where(s % 2 == 1, -1.0, np.where(s % STEPS_PER_BEAT == 2, -0.5, 0.0))
    if (steps_per_bar // STEPS_PER_BEAT) % 2 == 0:
        w = np.where(s == steps_per_bar // 2, 0.5, w)
    return np.where(s == 0, 1.0, w)


def phrase_arc(step: np.ndarray, phrase_starts: np.ndarray, end_step: int) -> np.ndarray:
    """Position of each step's phrase arc in [-0.5, 0.5]: sin(pi * position in phrase) - 0.5."""
    starts = np.unique(np.append(np.asarray(phrase_starts, dtype=np.int64), 0))
    k = np.searchsorted(starts, step, side="right") - 1
    a = starts[k]
    b = np.append(starts[1:], max(int(end_step), int(starts[-1]) + 1))[k]
    pos = (np.asarray(step) - a) / np.maximum(1, b - a)
    return np.sin(np.pi * np.clip(pos, 0.0, 1.0)) - 0.5


def plan_protected_steps(plan: Plan) -> np.ndarray:
    """The plan's hit points as steps: its accent steps (strong visual beats) and the first step
    of every section (the cuts), sorted, unique."""
    spb = plan.controls.steps_per_bar
    accents = np.flatnonzero(np.asarray(plan.controls.accent_steps, dtype=bool))
    cuts = np.array([s.start_bar * spb for s in plan.sections], dtype=np.int64)
    return np.unique(np.concatenate([accents.astype(np.int64), cuts]))


def perform(score: Score, *, style: str | None = None, protected_steps: Iterable[int] = (),
            phrase_start_bars: Iterable[int] | None = None, seed: int = 0,
            humanize: bool = True) -> Performance:
    """Play ``score`` in ``style``.

    Parameters
    ----------
    score : Score
        The music; timed by ``score.step_times()`` (steps past the end continue the last step).
    style : str, optional
        A lexicon style name (``vocab.STYLES``); default pop.
    protected_steps : iterable of int
        Steps whose onsets are hit points (accents, cuts): never moved, never made softer.
    phrase_start_bars : iterable of int, optional
        Phrase (section) starts for the velocity arc; default every 4 bars.
    seed : int
        Seed of the jitter and velocity spread.
    humanize : bool
        False: notes exactly on the grid with the Score's velocities (the pedal and mix stay).
    """
    settings = style_performance(style)
    name = style if style in STYLE_PERFORMANCE else DEFAULT_STYLE
    st = score.step_times()
    last = st.size - 1
    step_len = float(st[-1] - st[-2]) if st.size > 1 else 60.0 / score.tempo_bpm / STEPS_PER_BEAT

    def t_of(step: np.ndarray) -> np.ndarray:
        step = np.asarray(step, dtype=np.int64)
        inside = np.clip(step, 0, last)
        return np.where(step <= last, st[inside], st[-1] + (step - last) * step_len)

    notes = [n for n in score.notes if n.onset_16th >= 0]
    if not notes:
        return Performance([], {}, name, settings)
    onset = np.array([n.onset_16th for n in notes], dtype=np.int64)
    dur = np.array([max(1, n.duration_16th) for n in notes], dtype=np.int64)
    vel = np.array([n.velocity for n in notes], dtype=float)
    on_s = t_of(onset)
    off_s = t_of(onset + dur)
    protected = np.isin(onset, np.fromiter((int(s) for s in protected_steps), dtype=np.int64))
    if humanize:
        rng = np.random.default_rng([int(seed), 0x7E8F0])
        spb = score.steps_per_bar
        # one timing draw per (track, onset): a chord is struck together
        keys = sorted({(n.track, n.onset_16th) for n in notes})
        draw = np.clip(rng.normal(0.0, 1.0, len(keys)), -2.0, 2.0) * settings.jitter_ms * 1e-3
        shift_of = dict(zip(keys, draw))
        shift = np.array([shift_of[(n.track, n.onset_16th)] for n in notes])
        local = np.diff(st)[np.clip(onset, 0, max(0, last - 1))] if last > 0 else np.full(onset.size, step_len)
        shift += np.where(onset % 2 == 1, (2.0 * settings.swing - 1.0) * local, 0.0)
        shift[protected] = 0.0
        length = off_s - on_s
        on_s = on_s + shift
        off_s = on_s + np.maximum(length, 0.01)
        bars = (np.arange(score.n_bars, step=4) if phrase_start_bars is None
                else np.asarray(list(phrase_start_bars), dtype=np.int64))
        factor = (1.0 + settings.metric_depth * metrical_weight(onset, spb)
                  + settings.arc_depth * phrase_arc(onset, bars * spb, score.n_steps))
        played = vel * factor + rng.normal(0.0, settings.velocity_spread, vel.size)
        vel = np.where(protected, np.maximum(played, vel), played)
    vel = np.clip(np.round(vel), 1, 127).astype(int)
    off_s = release_before_restrike([(n.track, n.pitch) for n in notes], on_s, off_s)
    played_notes = [PlayedNote(n.track, int(np.clip(n.pitch, 0, 127)), float(a), float(b), int(v))
                    for n, a, b, v in zip(notes, on_s, off_s, vel)]
    pedal: dict[str, list[tuple[float, float]]] = {}
    if settings.pedal:
        for track in PEDAL_TRACKS:
            if int(score.programs.get(track, 0)) in PEDAL_PROGRAMS and any(n.track == track for n in notes):
                pedal[track] = pedal_intervals(score, t_of)
    return Performance(played_notes, pedal, name, settings)


def release_before_restrike(keys: list[tuple[str, int]], on_s: np.ndarray, off_s: np.ndarray) -> np.ndarray:
    """``off_s`` with each note released no later than the next onset of the same key
    (track, pitch): a player lifts the key before striking it again.

    With the timing jitter a note's release could fall a few ms after the next stroke of its key
    (a protected, unshifted hit after a shifted note, or two jittered repeated notes), and that
    note-off, sent after the new note-on, cut the new note off at its attack: a repeated melody
    note, or a final chord re-struck on a visual hit, sounded as a click."""
    off = np.asarray(off_s, dtype=float).copy()
    by_key: dict[tuple[str, int], list[int]] = {}
    for i, k in enumerate(keys):
        by_key.setdefault(k, []).append(i)
    for idx in by_key.values():
        if len(idx) < 2:
            continue
        order = sorted(idx, key=lambda i: (on_s[i], i))
        for i, j in zip(order, order[1:]):
            if on_s[j] > on_s[i]:
                off[i] = min(off[i], float(on_s[j]))
    return off


def pedal_intervals(score: Score, t_of) -> list[tuple[float, float]]:  # noqa: ANN001
    """(down_s, up_s) per chord: down just after the chord change, up at the next change.

    Changes are the Score's chord onsets (bar lines when it has none); no-chord spans get none.
    """
    if score.chords:
        changes = [(c.onset_16th, c.root >= 0) for c in sorted(score.chords, key=lambda c: c.onset_16th)]
    else:
        changes = [(b * score.steps_per_bar, True) for b in range(score.n_bars)]
    ends = [c[0] for c in changes[1:]] + [score.n_steps]
    out = []
    for (start, has_chord), end in zip(changes, ends):
        if not has_chord or end <= start:
            continue
        a, b = float(t_of(np.array(start))), float(t_of(np.array(end)))
        if b - a > PEDAL_DOWN_DELAY_S * 2:
            out.append((a + PEDAL_DOWN_DELAY_S, b))
    return out


def timing_shift_s(score: Score, performance: Performance) -> np.ndarray:
    """Played onset minus grid onset per note, in seconds (same order as the Score's notes >= 0)."""
    st = score.step_times()
    grid = np.array([st[min(n.onset_16th, st.size - 1)] for n in score.notes if n.onset_16th >= 0])
    return np.array([p.on_s for p in performance.notes]) - grid
