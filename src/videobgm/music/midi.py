"""[6] Score <-> MIDI: writing (with a tempo map that puts every beat on a tick), stems, reading.

Writing: the first beat is at 0 s and every beat of ``score.beat_times()`` falls on a multiple of ``cfg.ticks_per_beat`` ticks
(one tempo event per beat whose length differs from the previous one), so DAWs show the music on
its grid. A time signature ``beats_per_bar/4`` and one instrument per non-empty track, named
after the track in upper case (``MELODY``, ``BRIDGE``, ``PIANO``, ``BASS``, ``DRUMS``), are written.
Output is byte-deterministic and atomic.

Reading: note times are quantised to the 16th grid defined by given beat times (e.g. POP909's
``beat_midi.txt``) or by the file's own tempo map; tracks are recognised by name (POP909 names
MELODY/BRIDGE/PIANO and ours), otherwise drums by ``is_drum``, bass by GM program 32..39 and
everything else goes to ``piano``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from videobgm.config import MidiConfig
from videobgm.errors import InputError, OptionError
from videobgm.io import atomic_path
from videobgm.types import STEPS_PER_BEAT, TRACKS, Note, Score

if TYPE_CHECKING:  # pragma: no cover
    import pretty_midi

MIN_TEMPO_BPM = 8.0  # tempos outside [MIN, MAX] are refused as absurd
MAX_TEMPO_BPM = 960.0
MAX_STEPS = 16 * 4000  # refuse scores longer than 4000 bars of 4/4 (hours of music)


def default_programs(cfg: MidiConfig) -> dict[str, int]:
    """GM program per track from the config (drums ignore it)."""
    return {"melody": cfg.program_melody, "bridge": cfg.program_bridge, "piano": cfg.program_piano,
            "bass": cfg.program_bass, "drums": 0}


def _beat_times_for_writing(score: Score) -> np.ndarray:
    bt = score.beat_times()
    if bt.shape[0] < 2 or not np.all(np.isfinite(bt)) or np.any(np.diff(bt) <= 0):
        raise InputError(f"score {score.name or ''} has invalid beat times (must increase strictly)")
    # the file starts at the first beat (a plan's grid starts at 0 already; POP909's first beat is
    # a few ms in; a pickup extrapolated before 0 is negative): beat i is then exactly at tick
    # i * ticks_per_beat, which is what readers (and read_midi's tempo-map grid) expect
    return bt - bt[0]


def score_to_midi(score: Score, cfg: MidiConfig | None = None) -> pretty_midi.PrettyMIDI:
    """Score -> ``pretty_midi.PrettyMIDI`` with real times from ``score.step_times()``.

    Parameters
    ----------
    score : Score
        Notes on the 16th grid; ``score.programs`` overrides the config's GM programs per track.
    cfg : MidiConfig
        ``ticks_per_beat`` (multiple of 4) and default programs.

    Returns
    -------
    pretty_midi.PrettyMIDI
        Beat ``i`` is at tick ``i * ticks_per_beat``; a note's start/end are the times of its grid
        ticks. Times are shifted so that the first beat is at 0 s (it is 0 for a plan's grid).
    """
    import pretty_midi

    cfg = cfg or MidiConfig()
    res = int(cfg.ticks_per_beat)
    if res < 4 or res % STEPS_PER_BEAT:
        raise OptionError(f"ticks_per_beat must be a positive multiple of 4, got {res}")
    bt = _beat_times_for_writing(score)
    ibi = np.diff(bt)
    bpm = 60.0 / ibi
    if bpm.min() < MIN_TEMPO_BPM or bpm.max() > MAX_TEMPO_BPM:
        raise InputError(
            f"absurd tempo {bpm.min():.3g}..{bpm.max():.3g} bpm; accepted {MIN_TEMPO_BPM:g}..{MAX_TEMPO_BPM:g}"
        )
    tempo_us = np.round(ibi * 1e6).astype(np.int64)  # microseconds per beat, as stored in the file
    pm = pretty_midi.PrettyMIDI(resolution=res, initial_tempo=float(bpm[0]))
    scale = tempo_us * 1e-6 / res  # seconds per tick of each beat
    offset = 0  # first beat at 0 s (see _beat_times_for_writing)
    tick_scales = [(0, float(scale[0]))]
    for i in range(1, len(scale)):
        if tempo_us[i] != tempo_us[i - 1]:
            tick_scales.append((offset + i * res, float(scale[i])))
    pm._tick_scales = tick_scales  # noqa: SLF001 (pretty_midi has no public tempo-map setter)
    step_ticks = res // STEPS_PER_BEAT
    max_tick = offset + (score.n_steps + max((n.duration_16th for n in score.notes), default=0) + 1) * step_ticks
    pm._update_tick_to_time(max_tick)  # noqa: SLF001
    pm.time_signature_changes.append(pretty_midi.TimeSignature(int(score.beats_per_bar), 4, 0.0))
    if 0 <= int(score.key_tonic) <= 11 and score.mode in ("major", "minor"):
        key_number = int(score.key_tonic) + 12 * (score.mode == "minor")
        pm.key_signature_changes.append(pretty_midi.KeySignature(key_number, 0.0))

    programs = default_programs(cfg)
    programs.update({k: int(v) for k, v in (score.programs or {}).items() if k in programs})
    by_track: dict[str, list[Note]] = {t: [] for t in TRACKS}
    for n in score.notes:
        if n.track not in by_track:
            raise InputError(f"unknown track {n.track!r}; accepted: {', '.join(TRACKS)}")
        by_track[n.track].append(n)
    for track in TRACKS:
        notes = by_track[track]
        if not notes:
            continue
        inst = pretty_midi.Instrument(program=int(np.clip(programs[track], 0, 127)),
                                      is_drum=track == "drums", name=track.upper())
        for n in sorted(notes):
            t0 = offset + n.onset_16th * step_ticks
            t1 = t0 + max(1, n.duration_16th) * step_ticks
            inst.notes.append(pretty_midi.Note(
                velocity=min(max(int(n.velocity), 1), 127), pitch=min(max(int(n.pitch), 0), 127),
                start=float(pm.tick_to_time(t0)), end=float(pm.tick_to_time(t1)),
            ))
        pm.instruments.append(inst)
    return pm


def write_midi(score: Score, path: str | os.PathLike[str], cfg: MidiConfig | None = None) -> Path:
    """Write ``score`` as a standard MIDI file (type 1), atomically; same score -> same bytes."""
    pm = score_to_midi(score, cfg)
    with atomic_path(path) as tmp:
        pm.write(str(tmp))
    return Path(path)


def write_stems(score: Score, out_dir: str | os.PathLike[str], cfg: MidiConfig | None = None) -> dict[str, Path]:
    """One MIDI file per non-empty track, ``out_dir/<track>.mid``, on the same beat grid.

    Returns
    -------
    dict
        track name -> path, in TRACKS order.
    """
    out = Path(out_dir)
    paths: dict[str, Path] = {}
    for track in TRACKS:
        notes = score.track_notes(track)
        if not notes:
            continue
        part = Score(notes=notes, n_bars=score.n_bars, beats_per_bar=score.beats_per_bar,
                     tempo_bpm=score.tempo_bpm, key_tonic=score.key_tonic, mode=score.mode,
                     chords=list(score.chords), beat_times_s=score.beat_times_s,
                     programs=dict(score.programs), name=f"{score.name}:{track}")
        paths[track] = write_midi(part, out / f"{track}.mid", cfg)
    return paths


# ------------------------------------------------------------------------------------------------
# reading
# ------------------------------------------------------------------------------------------------
_NAME_TO_TRACK = {t.upper(): t for t in TRACKS}


def track_of_instrument(name: str, program: int, is_drum: bool) -> str:
    """Our track for a MIDI instrument: by name (MELODY/BRIDGE/PIANO/BASS/DRUMS, any case), else
    drums if ``is_drum``, bass for GM programs 32..39, else piano."""
    key = (name or "").strip().upper()
    if key in _NAME_TO_TRACK:
        return _NAME_TO_TRACK[key]
    if is_drum:
        return "drums"
    if 32 <= int(program) <= 39:
        return "bass"
    return "piano"


def times_to_steps(times_s: np.ndarray, beat_times_s: np.ndarray) -> np.ndarray:
    """Fractional 16th-step positions of ``times_s`` on the grid of ``beat_times_s``.

    Linear inside each beat (as :meth:`Score.step_times`); before the first / after the last
    beat the first / last inter-beat interval is extrapolated. Shapes: (N,) -> (N,) float.
    """
    bt = np.asarray(beat_times_s, dtype=float)
    t = np.asarray(times_s, dtype=float)
    idx = np.arange(bt.shape[0], dtype=float)
    beats = np.interp(t, bt, idx)
    lo, hi = t < bt[0], t > bt[-1]
    beats[lo] = (t[lo] - bt[0]) / (bt[1] - bt[0])
    beats[hi] = idx[-1] + (t[hi] - bt[-1]) / (bt[-1] - bt[-2])
    return beats * STEPS_PER_BEAT


def extend_beats(beat_times_s: np.ndarray, n_beats: int) -> np.ndarray:
    """``beat_times_s`` cut or extended (with the last interval) to exactly ``n_beats`` entries."""
    bt = np.asarray(beat_times_s, dtype=float)
    if bt.shape[0] >= n_beats:
        return bt[:n_beats].copy()
    step = bt[-1] - bt[-2]
    extra = bt[-1] + step * np.arange(1, n_beats - bt.shape[0] + 1)
    return np.concatenate([bt, extra])


def load_pretty_midi(path: str | os.PathLike[str]) -> pretty_midi.PrettyMIDI:
    """Open a MIDI file with pretty_midi; any parse failure becomes a one-line :class:`InputError`."""
    import pretty_midi

    p = Path(path)
    if not p.is_file():
        raise InputError(f"MIDI file not found: {p}")
    try:
        return pretty_midi.PrettyMIDI(str(p))
    except Exception as exc:  # noqa: BLE001 - mido/pretty_midi raise many types for corrupt files
        raise InputError(f"not a readable MIDI file: {p} ({type(exc).__name__}: {exc})") from None


def read_midi(
    path: str | os.PathLike[str],
    *,
    beat_times_s: np.ndarray | None = None,
    beats_per_bar: int | None = None,
    name: str | None = None,
) -> Score:
    """Read a MIDI file into a :class:`Score` quantised to the 16th grid.

    Parameters
    ----------
    path : path-like
    beat_times_s : ndarray, shape (B,), optional
        Time of every beat in seconds, the first one on a bar line (e.g. POP909 ``beat_midi.txt``
        after aligning to the first downbeat). Default: the beats of the file's tempo map
        (``PrettyMIDI.get_beats``), bar lines from time 0.
    beats_per_bar : int, optional
        Default: from ``beat_times_s`` callers 4; from the file, the first time signature's
        numerator if in 2..4, else 4.
    name : str, optional
        Score name (default: the file stem).

    Returns
    -------
    Score
        Onsets rounded to the nearest step; duration = rounded end step - onset step (>= 1);
        notes with an onset before step 0 are dropped; notes with the same (onset, track, pitch)
        are merged (longest kept). ``beat_times_s`` covers ``n_bars * beats_per_bar + 1`` beats
        (extended with the last interval where needed). ``tempo_bpm`` = 60 / median beat interval.
        Drums-only files give a Score with only ``drums`` notes (pitched metrics are then NaN).

    Raises
    ------
    InputError
        Missing/corrupt file, no notes, tempo outside 8..960 bpm, or absurd length.
    """
    p = Path(path)
    return pretty_midi_to_score(load_pretty_midi(p), beat_times_s=beat_times_s, beats_per_bar=beats_per_bar,
                                name=p.stem if name is None else name, source=str(p))


def pretty_midi_to_score(
    pm: pretty_midi.PrettyMIDI,
    *,
    beat_times_s: np.ndarray | None = None,
    beats_per_bar: int | None = None,
    name: str = "",
    source: str | None = None,
) -> Score:
    """:func:`read_midi` for an already-open ``PrettyMIDI`` object (same rules and errors;
    ``source`` names the file in error messages)."""
    p = source or name or "MIDI"
    all_notes = [(inst, n) for inst in pm.instruments for n in inst.notes]
    if not all_notes:
        raise InputError(f"MIDI file has no notes: {p}")
    _tempo_times, tempi = pm.get_tempo_changes()
    if len(tempi) and (np.min(tempi) < MIN_TEMPO_BPM or np.max(tempi) > MAX_TEMPO_BPM):
        raise InputError(
            f"absurd tempo {np.min(tempi):.3g}..{np.max(tempi):.3g} bpm in {p}; "
            f"accepted {MIN_TEMPO_BPM:g}..{MAX_TEMPO_BPM:g}"
        )
    if beat_times_s is None:
        bt = np.asarray(pm.get_beats(), dtype=float)
        if beats_per_bar is None:
            ts = pm.time_signature_changes
            beats_per_bar = ts[0].numerator if ts and 2 <= ts[0].numerator <= 4 else 4
        if bt.shape[0] < 2:
            bt = np.array([0.0, 60.0 / float(tempi[0] if len(tempi) else 120.0)])
    else:
        bt = np.asarray(beat_times_s, dtype=float)
        beats_per_bar = beats_per_bar or 4
        if bt.ndim != 1 or bt.shape[0] < 2 or np.any(np.diff(bt) <= 0):
            raise InputError("beat_times_s must be an increasing array of at least 2 times")
    ibi = np.diff(bt)
    bpm_grid = 60.0 / np.median(ibi)
    if not MIN_TEMPO_BPM <= bpm_grid <= MAX_TEMPO_BPM:
        raise InputError(f"absurd tempo {bpm_grid:.3g} bpm in {p}; accepted {MIN_TEMPO_BPM:g}..{MAX_TEMPO_BPM:g}")

    starts = np.array([n.start for _, n in all_notes])
    ends = np.array([n.end for _, n in all_notes])
    on = np.round(times_to_steps(starts, bt)).astype(np.int64)
    off = np.round(times_to_steps(ends, bt)).astype(np.int64)
    spb = int(beats_per_bar) * STEPS_PER_BEAT
    last = int(max(on.max(), 0))
    if last > MAX_STEPS:
        raise InputError(f"MIDI file is absurdly long on its beat grid ({last // spb} bars): {p}")
    merged: dict[tuple[int, str, int], Note] = {}
    tracks = {id(inst): track_of_instrument(inst.name, inst.program, inst.is_drum) for inst in pm.instruments}
    for (inst, n), s, e in zip(all_notes, on, off):
        if s < 0:
            continue
        track = tracks[id(inst)]
        note = Note(int(s), track, int(n.pitch), int(max(1, e - s)), min(max(int(n.velocity), 1), 127))
        k = (note.onset_16th, track, note.pitch)
        if k not in merged or note.duration_16th > merged[k].duration_16th:
            merged[k] = note
    if not merged:
        raise InputError(f"MIDI file has no notes after the first beat: {p}")
    notes = sorted(merged.values(), key=lambda n: (n.onset_16th, TRACKS.index(n.track), n.pitch))
    n_bars = notes[-1].onset_16th // spb + 1
    programs = {}
    for inst in pm.instruments:
        t = tracks[id(inst)]
        if t != "drums" and inst.notes and t not in programs:
            programs[t] = int(inst.program)
    key_tonic, mode = 0, "major"
    if pm.key_signature_changes:
        kn = int(pm.key_signature_changes[0].key_number)
        key_tonic, mode = kn % 12, ("minor" if kn >= 12 else "major")
    return Score(
        notes=notes, n_bars=int(n_bars), beats_per_bar=int(beats_per_bar), tempo_bpm=float(bpm_grid),
        key_tonic=key_tonic, mode=mode,
        beat_times_s=extend_beats(bt, n_bars * int(beats_per_bar) + 1), programs=programs,
        name=name,
    )


def read_midi_bytes_notes(path: str | os.PathLike[str]) -> int:
    """Number of notes in a MIDI file as stored (before quantisation); used for survival rates."""
    return sum(len(i.notes) for i in load_pretty_midi(path).instruments)
