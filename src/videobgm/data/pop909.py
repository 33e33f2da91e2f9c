"""POP909 song folders -> Scores on the annotated beat grid (whole songs and training segments).

Bar lines come from POP909's ``beat_midi.txt`` (not from MIDI time signatures, which say 2/4 for
most files): column 0 is the beat time, column 2 flags quadruple-meter downbeats (every 4 beats)
and column 1 duple ones. A song whose column-2 downbeats are mostly 4 beats apart is 4/4; mostly 6
apart means 3/4 (29 songs), whose bars are then the column-1 downbeats, 3 beats apart. A whole song
uses one regular grid at the bar phase most annotated downbeats agree with (beats before the
first bar line are extrapolated backwards so that bar 0 starts on a bar line; leading empty bars
are removed). Chords come from ``chord_midi.txt`` (mapped to
:data:`~videobgm.types.CHORD_QUALITIES`, see :func:`parse_chord`), the key from ``key_audio.txt``
(whole songs: the key that lasts longest; training segments: the key that overlaps them most).
A slow song (< 80 bpm) that would lose more than 3 % of its notes on the 16th grid (32nd-note
figures annotated at half tempo) is read on a grid of half beats, so every annotated bar becomes
two bars.

Training sequences are *segments*: maximal runs of annotated bars of exactly ``beats_per_bar``
beats, so that every bar line the model sees is an annotated downbeat (many songs contain 2/4
bars or downbeat-tracking jitter that a single regular grid cannot follow). Whole songs
(:func:`load_song`) are used for the round-trip and survival figures and for evaluation.

Split (deterministic, by song id ``n`` = folder number): ``test`` if ``n % 19 == 0`` (47 songs,
5.2 %), ``val`` if ``n % 19 == 1`` (48 songs), else ``train``.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.compose.token_codes import CHORD_TYPES
from videobgm.errors import InputError
from videobgm.music.midi import extend_beats, load_pretty_midi, pretty_midi_to_score, times_to_steps
from videobgm.types import PITCH_CLASS_NAMES, STEPS_PER_BEAT, Chord, Score

MIN_SEGMENT_BARS = 4  # shorter regular runs are not used for training
MIN_SURVIVAL = 0.97  # below this fraction of notes kept, a slow song is re-read on a half-beat grid
SPLITS = ("train", "val", "test")

_PC = {n: i for i, n in enumerate(PITCH_CLASS_NAMES)}
_PC.update({"Db": 1, "Eb": 3, "Gb": 6, "Ab": 8, "Bb": 10, "Cb": 11, "Fb": 4, "E#": 5, "B#": 0})
# POP909 / Harte chord qualities -> ours (inversions "/x" are dropped before the lookup)
QUALITY_MAP = {
    "maj": "maj", "maj6": "maj", "": "maj", "min": "min", "min6": "min", "minmaj7": "min",
    "dim": "dim", "dim7": "dim", "hdim7": "dim", "aug": "aug", "sus4": "sus4", "sus4(b7)": "sus4",
    "sus2": "sus2", "7": "7", "9": "7", "maj7": "maj7", "maj9": "maj7", "min7": "min7", "min9": "min7",
}
assert set(QUALITY_MAP.values()) <= set(CHORD_TYPES)


def default_root() -> Path:
    """POP909 folder: ``$VIDEOBGM_POP909`` or ``../shared/data/POP909`` beside the repository."""
    env = os.environ.get("VIDEOBGM_POP909")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data" / "POP909"


def split_of(song_id: int) -> str:
    """Deterministic split of a POP909 song id: test (id % 19 == 0), val (== 1), else train."""
    r = int(song_id) % 19
    return "test" if r == 0 else "val" if r == 1 else "train"


def parse_pitch_class(name: str) -> int:
    """Pitch class of a note name like ``C``, ``F#``, ``Bb``."""
    if name not in _PC:
        raise InputError(f"unknown pitch name {name!r}")
    return _PC[name]


def parse_chord(label: str) -> tuple[int, str] | None:
    """POP909 chord label -> ``(root, quality)``; ``(-1, "N")`` for ``N``; None if unknown.

    Inversions are dropped (``C:maj/3`` -> C maj); 6th chords become triads, ``hdim7``/``dim7``
    -> dim, ``sus4(b7)`` -> sus4, ``minmaj7`` -> min, 9ths -> their 7th chord.
    """
    label = label.strip()
    if label in ("N", "X", ""):
        return -1, "N"
    root_s, _, qual = label.partition(":")
    if root_s not in _PC:
        return None
    q = QUALITY_MAP.get(qual.split("/")[0])
    return (_PC[root_s], q) if q else None


@dataclass
class SongInfo:
    """What loading one song found (for statistics)."""

    song_id: int
    notes_in_midi: int = 0  # distinct notes (exact duplicates removed)
    duplicate_notes: int = 0
    notes_kept: int = 0
    beats_per_bar: int = 4
    irregular_bars: int = 0
    unknown_chords: int = 0
    key_changes: int = 0
    leading_bars_removed: int = 0
    onset_error_steps: float = 0.0  # mean |quantised - exact| onset in 16th steps
    downbeats: int = 0  # annotated downbeats
    downbeats_on_grid: int = 0  # of which on our bar lines
    half_beats: bool = False  # read on a grid of half the annotated beats (see load_song)
    segments: int = 0  # training segments (see load_song_segments)
    notes_in_segments: int = 0


def _beat_grid(beat_file: Path) -> tuple[np.ndarray, int, int, int, np.ndarray]:
    """Beat times aligned so that beat 0 is a bar line.

    Returns (beats, beats_per_bar, irregular annotated bars, downbeats on our bar lines,
    annotated downbeat indices into ``beats``).
    """
    a = np.loadtxt(beat_file, ndmin=2)
    if a.shape[0] < 4 or a.shape[1] < 3:
        raise InputError(f"beat file has too few beats or columns: {beat_file}")
    t = a[:, 0]
    d4 = np.flatnonzero(a[:, 2] == 1)
    gaps = np.diff(d4)
    common = Counter(gaps.tolist()).most_common(1)[0][0] if gaps.size else 4
    if common == 6:  # 3/4: bars are the duple-column downbeats, 3 beats apart
        bpb, down = 3, np.flatnonzero(a[:, 1] == 1)
    else:
        bpb, down = 4, d4
    if down.size == 0:
        raise InputError(f"beat file has no downbeats: {beat_file}")
    gaps = np.diff(down)[:-1]  # the last annotated bar is often cut short by the song's end
    irregular = int(np.sum(gaps != bpb))
    # bar phase: the one that most annotated downbeats agree with (robust to mid-song 2/4 bars)
    phase = int(np.argmax(np.bincount(down % bpb, minlength=bpb)))
    agree = int(np.sum(down % bpb == phase))
    pre = (-phase) % bpb  # extrapolated beats so that beat 0 of the grid is a bar line
    ibi = t[1] - t[0]
    lead = t[0] - ibi * np.arange(pre, 0, -1)
    beats = np.concatenate([lead, t])
    return beats, bpb, irregular, agree, down + pre


def _read_chords(chord_file: Path, beats: np.ndarray) -> tuple[list[Chord], int]:
    chords: list[Chord] = []
    unknown = 0
    if not chord_file.is_file():
        return chords, 0
    for line in chord_file.read_text().splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        parsed = parse_chord(parts[2])
        if parsed is None:
            unknown += 1
            parsed = (-1, "N")
        onset = max(0, int(np.round(times_to_steps(np.array([float(parts[0])]), beats)[0])))
        c = Chord(onset, parsed[0], parsed[1])
        if chords and chords[-1].onset_16th >= onset:  # same step: the later label wins
            chords.pop()
        if chords and (chords[-1].root, chords[-1].quality) == (c.root, c.quality):
            continue
        chords.append(c)
    return chords, unknown


def read_keys(key_file: Path) -> list[tuple[float, float, int, str]]:
    """Key labels of ``key_audio.txt`` as ``(start_s, end_s, tonic, mode)``."""
    keys: list[tuple[float, float, int, str]] = []
    if not key_file.is_file():
        return keys
    for line in key_file.read_text().splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        root_s, _, q = parts[2].partition(":")
        if root_s in _PC:
            keys.append((float(parts[0]), float(parts[1]), _PC[root_s], "minor" if q.startswith("min") else "major"))
    return keys


def key_for_span(keys: list[tuple[float, float, int, str]], t0: float, t1: float) -> tuple[int, str]:
    """The key label overlapping ``[t0, t1]`` the most (the longest one if none overlaps)."""
    if not keys:
        return 0, "major"
    overlap = [min(e, t1) - max(s, t0) for s, e, _, _ in keys]
    if max(overlap) <= 0:
        overlap = [e - s for s, e, _, _ in keys]
    k = keys[int(np.argmax(overlap))]
    return k[2], k[3]


@dataclass
class _Song:
    """A POP909 song opened once: MIDI, beat grid and annotations."""

    d: Path
    pm: Any
    beats: np.ndarray  # beat times, beat 0 on a bar line (half beats if ``half``)
    bpb: int
    down: np.ndarray  # annotated downbeats as indices into ``beats``
    score: Score  # the whole song on the regular grid (before removing leading empty bars)
    info: SongInfo
    tonic: int
    mode: str
    keys: list  # all key labels (start_s, end_s, tonic, mode)


def _open_song(song_dir: str | os.PathLike[str]) -> _Song:
    d = Path(song_dir)
    sid = int(d.name) if d.name.isdigit() else -1
    midi_path = d / f"{d.name}.mid"
    beat_file = d / "beat_midi.txt"
    if not midi_path.is_file() or not beat_file.is_file():
        raise InputError(f"not a POP909 song folder (needs {d.name}.mid and beat_midi.txt): {d}")
    beats, bpb, irregular, agree, down = _beat_grid(beat_file)
    pm = load_pretty_midi(midi_path)
    n_raw = sum(len(i.notes) for i in pm.instruments)
    # exact duplicates (same instrument, pitch and start to the millisecond) are data errors, not
    # quantisation losses: the survival rate counts distinct notes
    n_midi = len({(k, n.pitch, round(n.start, 3)) for k, i in enumerate(pm.instruments) for n in i.notes})
    score = pretty_midi_to_score(pm, beat_times_s=beats, beats_per_bar=bpb, name=d.name)
    half_beats = False
    if len(score.notes) < MIN_SURVIVAL * n_midi and 60.0 / np.median(np.diff(beats)) < 80:
        # a slow song annotated at half tempo whose 32nd notes collide on the 16th grid: use
        # 8th-note "beats" (bar lines stay on annotated downbeats, each annotated bar -> 2 bars)
        beats = np.sort(np.concatenate([beats, 0.5 * (beats[1:] + beats[:-1])]))
        down = 2 * down
        score = pretty_midi_to_score(pm, beat_times_s=beats, beats_per_bar=bpb, name=d.name)
        half_beats = True
    keys = read_keys(d / "key_audio.txt")
    tonic, mode = key_for_span(keys, -np.inf, np.inf)  # the longest key
    key_changes = max(0, len(keys) - 1)
    starts = np.array([n.start for i in pm.instruments for n in i.notes])
    frac = times_to_steps(starts, beats)
    err = float(np.mean(np.abs(frac - np.round(frac)))) if frac.size else 0.0
    info = SongInfo(song_id=sid, notes_in_midi=n_midi, duplicate_notes=n_raw - n_midi,
                    notes_kept=len(score.notes), beats_per_bar=bpb, irregular_bars=irregular,
                    key_changes=key_changes, onset_error_steps=err, downbeats=int(down.size),
                    downbeats_on_grid=agree, half_beats=half_beats)
    return _Song(d=d, pm=pm, beats=beats, bpb=bpb, down=down, score=score, info=info, tonic=tonic,
                 mode=mode, keys=keys)


def load_song(song_dir: str | os.PathLike[str]) -> tuple[Score, SongInfo]:
    """One POP909 song folder -> (whole Score on the regular annotated beat grid, SongInfo).

    The bar phase is the one most annotated downbeats agree with (see the module docstring);
    leading empty bars are removed. Use :func:`load_song_segments` for training sequences whose
    bar lines all fall on annotated downbeats.

    Raises
    ------
    InputError
        Missing MIDI/beat file, unreadable MIDI, no notes.
    """
    song = _open_song(song_dir)
    return _trim_leading(song), song.info


def _trim_leading(song: _Song) -> Score:
    score, bpb, d = song.score, song.bpb, song.d
    chords, unknown = _read_chords(d / "chord_midi.txt", song.beats)
    song.info.unknown_chords = unknown
    spb = bpb * STEPS_PER_BEAT
    b0 = score.notes[0].onset_16th // spb if score.notes else 0
    shift = b0 * spb
    notes = [replace(n, onset_16th=n.onset_16th - shift) for n in score.notes]
    kept_chords: list[Chord] = []
    for c in chords:
        on = c.onset_16th - shift
        if on <= 0:
            kept_chords = [Chord(0, c.root, c.quality)]
        else:
            kept_chords.append(Chord(on, c.root, c.quality))
    n_bars = score.n_bars - b0
    bt = extend_beats(np.asarray(score.beat_times_s)[b0 * bpb:], n_bars * bpb + 1)
    song.info.leading_bars_removed = b0
    song.info.notes_kept = len(notes)
    return Score(notes=notes, n_bars=n_bars, beats_per_bar=bpb, tempo_bpm=score.tempo_bpm,
                 key_tonic=song.tonic, mode=song.mode, chords=kept_chords, beat_times_s=bt,
                 programs=score.programs, name=d.name)


def _segment_scores(song: _Song, min_bars: int) -> list[Score]:
    """Maximal runs of regular annotated bars, each as its own Score (see load_song_segments)."""
    bpb, down, beats = song.bpb, song.down, song.beats
    bar_beats = bpb * (2 if song.info.half_beats else 1)  # beats of one annotated bar
    spb = bpb * STEPS_PER_BEAT
    runs: list[tuple[int, int]] = []  # (first beat, end beat) of each run
    i = 0
    while i < down.size:
        j = i
        while j + 1 < down.size and down[j + 1] - down[j] == bar_beats:
            j += 1
        end = int(down[j])
        if j == down.size - 1:  # the last annotated bar (and any beats after it) run to the end
            end += max(bar_beats, -(-(len(beats) - 1 - end) // bpb) * bpb)
        runs.append((int(down[i]), end))
        i = j + 1
    out = []
    for k, (a, b) in enumerate(runs):
        n_bars = (b - a) // bpb
        if n_bars < min_bars:
            continue
        seg_beats = extend_beats(beats[a:], n_bars * bpb + 1)
        try:
            sc = pretty_midi_to_score(song.pm, beat_times_s=seg_beats, beats_per_bar=bpb,
                                      name=f"{song.d.name}:{k}")
        except InputError:
            continue
        n_steps = n_bars * spb
        notes = [n for n in sc.notes if n.onset_16th < n_steps]
        if not notes:
            continue
        chords, _ = _read_chords(song.d / "chord_midi.txt", seg_beats)
        tonic, mode = key_for_span(song.keys, float(seg_beats[0]), float(seg_beats[-1]))
        out.append(Score(notes=notes, n_bars=n_bars, beats_per_bar=bpb, tempo_bpm=sc.tempo_bpm,
                         key_tonic=tonic, mode=mode,
                         chords=[c for c in chords if c.onset_16th < n_steps],
                         beat_times_s=seg_beats, programs=sc.programs, name=sc.name))
    return out


def load_song_segments(song_dir: str | os.PathLike[str], *, min_bars: int = MIN_SEGMENT_BARS
                       ) -> tuple[Score, list[Score], SongInfo]:
    """(whole song as :func:`load_song`, training segments, SongInfo).

    A segment is a maximal run of annotated bars of exactly ``beats_per_bar`` beats (the last
    annotated bar runs to the end of the song), so every bar line of a segment is an annotated
    downbeat; irregular annotated bars (2/4 inserts, downbeat-tracking jitter) between runs and
    the pickup before the first downbeat are left out; runs shorter than ``min_bars`` are dropped.
    ``SongInfo.notes_in_segments`` counts the notes kept.
    """
    song = _open_song(song_dir)
    whole = _trim_leading(song)
    segs = _segment_scores(song, min_bars)
    song.info.notes_in_segments = sum(len(s.notes) for s in segs)
    song.info.segments = len(segs)
    return whole, segs, song.info


def song_dirs(root: str | os.PathLike[str] | None = None, split: str | None = None) -> list[Path]:
    """Song folders of POP909 (sorted by id), optionally only those of ``split``."""
    r = Path(root) if root is not None else default_root()
    if not r.is_dir():
        raise InputError(f"POP909 not found at {r}; set VIDEOBGM_POP909 or pass the folder")
    if split is not None and split not in SPLITS:
        raise InputError(f"unknown split {split!r}; accepted: {', '.join(SPLITS)}")
    dirs = sorted(p for p in r.iterdir() if p.is_dir() and p.name.isdigit())
    return [p for p in dirs if split is None or split_of(int(p.name)) == split]
