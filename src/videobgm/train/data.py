"""POP909 -> Scores -> compound tokens: loading, split, transposition augmentation, cache, batches.

Bar lines come from POP909's ``beat_midi.txt`` (not from MIDI time signatures, which say 2/4 for
most files): column 0 is the beat time, column 2 flags quadruple-meter downbeats (every 4 beats)
and column 1 duple ones. A song whose column-2 downbeats are mostly 4 beats apart is 4/4; mostly 6
apart means 3/4 (29 songs), whose bars are then the column-1 downbeats, 3 beats apart. A whole song
uses one regular grid at the bar phase most annotated downbeats agree with (beats before the
first bar line are extrapolated backwards so that bar 0 starts on a bar line; leading empty bars
are removed). Chords come from ``chord_midi.txt`` (mapped to
:data:`~videobgm.types.CHORD_QUALITIES`, see :func:`parse_chord`), the key from ``key_audio.txt``
(whole songs: the key that lasts longest; training segments: the key that overlaps them most). A slow song (< 80 bpm) that would lose more than 3 % of its
notes on the 16th grid (32nd-note figures annotated at half tempo) is read on a grid of half
beats, so every annotated bar becomes two bars.

Training sequences are *segments*: maximal runs of annotated bars of exactly ``beats_per_bar``
beats, so that every bar line the model sees is an annotated downbeat (many songs contain 2/4
bars or downbeat-tracking jitter that a single regular grid cannot follow). Whole songs
(:func:`load_song`) are used for the round-trip and survival figures and for evaluation.

Split (deterministic, by song id ``n`` = folder number): ``test`` if ``n % 19 == 0`` (47 songs,
5.2 %), ``val`` if ``n % 19 == 1`` (48 songs), else ``train``.

Cache: one ``.npz`` per (tokenizer vocabulary, data version) under ``cache_dir`` (default
``$VIDEOBGM_CACHE`` or ``~/.cache/videobgm``) holding all songs' tokens and conditioning as uint8
rows with offsets. ``python -m videobgm.train.data --stats`` builds it and prints statistics.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.errors import InputError
from videobgm.midi import extend_beats, load_pretty_midi, pretty_midi_to_score, times_to_steps
from videobgm.tokens import CHORD_TYPES, Tokenizer
from videobgm.types import PITCH_CLASS_NAMES, STEPS_PER_BEAT, Chord, Score

DATA_VERSION = 4
MIN_SEGMENT_BARS = 4  # shorter regular runs are not used for training
MIN_SURVIVAL = 0.97  # below this fraction of notes kept, a slow song is re-read on a half-beat grid
SPLITS = ("train", "val", "test")

_PC = {n: i for i, n in enumerate(PITCH_CLASS_NAMES)}
_PC.update({"Db": 1, "Eb": 3, "Gb": 6, "Ab": 8, "Bb": 10, "Cb": 11, "Fb": 4, "E#": 5, "B#": 0})
# POP909 / Harte chord qualities -> ours (inversions "/x" are dropped before the lookup)
_QUALITY_MAP = {
    "maj": "maj", "maj6": "maj", "": "maj", "min": "min", "min6": "min", "minmaj7": "min",
    "dim": "dim", "dim7": "dim", "hdim7": "dim", "aug": "aug", "sus4": "sus4", "sus4(b7)": "sus4",
    "sus2": "sus2", "7": "7", "9": "7", "maj7": "maj7", "maj9": "maj7", "min7": "min7", "min9": "min7",
}
assert set(_QUALITY_MAP.values()) <= set(CHORD_TYPES)


def default_root() -> Path:
    """POP909 folder: ``$VIDEOBGM_POP909`` or ``../shared/data/POP909`` beside the repository."""
    env = os.environ.get("VIDEOBGM_POP909")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data" / "POP909"


def default_cache_dir() -> Path:
    """``$VIDEOBGM_CACHE`` or ``~/.cache/videobgm``."""
    return Path(os.environ.get("VIDEOBGM_CACHE") or Path.home() / ".cache" / "videobgm")


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
    q = _QUALITY_MAP.get(qual.split("/")[0])
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


def _read_keys(key_file: Path) -> list[tuple[float, float, int, str]]:
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


def _key_for_span(keys: list[tuple[float, float, int, str]], t0: float, t1: float) -> tuple[int, str]:
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
    keys = _read_keys(d / "key_audio.txt")
    tonic, mode = _key_for_span(keys, -np.inf, np.inf)  # the longest key
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
        tonic, mode = _key_for_span(song.keys, float(seg_beats[0]), float(seg_beats[-1]))
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


# ------------------------------------------------------------------------------------------------
# transposition
# ------------------------------------------------------------------------------------------------
def transpose_score(score: Score, semitones: int) -> Score:
    """Shift pitched notes, chord roots and key by ``semitones`` (drums unchanged).

    Raises
    ------
    InputError
        If a pitched note would leave 0..127.
    """
    k = int(semitones)
    notes = []
    for n in score.notes:
        if n.track == "drums":
            notes.append(n)
            continue
        if not 0 <= n.pitch + k <= 127:
            raise InputError(f"transposing by {k} moves pitch {n.pitch} out of 0..127")
        notes.append(replace(n, pitch=n.pitch + k))
    chords = [c if c.root < 0 else replace(c, root=(c.root + k) % 12) for c in score.chords]
    return replace(score, notes=notes, chords=chords, key_tonic=(score.key_tonic + k) % 12)


def _rotate_chord(idx: np.ndarray, k: int) -> np.ndarray:
    nq = len(CHORD_TYPES)
    out = idx.copy()
    m = idx >= 2
    root, q = np.divmod(idx[m] - 2, nq)
    out[m] = 2 + ((root + k) % 12) * nq + q
    return out


def transpose_tokens(tokens: np.ndarray, cond: np.ndarray, semitones: int,
                     tokenizer: Tokenizer) -> tuple[np.ndarray, np.ndarray]:
    """Token-level transposition (same result as encoding :func:`transpose_score`), vectorised.

    Pitch fields of pitched NOTE rows, chord fields (token and conditioning) and the key
    conditioning move by ``semitones``; a caller must keep pitches in range (see
    :func:`pitch_range`). Shapes: (L, F), (L, C) -> same.
    """
    k = int(semitones)
    tok = np.array(tokens, dtype=np.int64, copy=True)
    cnd = np.array(cond, dtype=np.int64, copy=True)
    if k == 0:
        return tok, cnd
    F, C = tokenizer.F, tokenizer.C
    drum = 1 + tokenizer.TRACKS.index("drums")
    notes = (tok[:, 0] == tokenizer.TYPE_NOTE) & (tok[:, F["track"]] != drum)
    tok[notes, F["pitch"]] += k
    tok[:, F["chord"]] = _rotate_chord(tok[:, F["chord"]], k)
    cnd[:, C["chord"]] = _rotate_chord(cnd[:, C["chord"]], k)
    key = cnd[:, C["key"]]
    m = key >= 1
    minor = (key[m] - 1) // 12
    key[m] = 1 + (key[m] - 1 + k) % 12 + 12 * minor
    cnd[:, C["key"]] = key
    return tok, cnd


def pitch_range(tokens: np.ndarray, tokenizer: Tokenizer) -> tuple[int, int]:
    """(lowest, highest) MIDI pitch of pitched NOTE rows; (60, 60) if none."""
    F = tokenizer.F
    drum = 1 + tokenizer.TRACKS.index("drums")
    m = (tokens[:, 0] == tokenizer.TYPE_NOTE) & (tokens[:, F["track"]] != drum)
    if not m.any():
        return 60, 60
    p = tokens[m, F["pitch"]] - 1
    return int(p.min()), int(p.max())


# ------------------------------------------------------------------------------------------------
# dataset build + cache
# ------------------------------------------------------------------------------------------------
def _cache_path(root: Path, tokenizer: Tokenizer, cache_dir: Path) -> Path:
    h = hashlib.sha1()
    h.update(tokenizer.to_json().encode())
    h.update(f"{DATA_VERSION}|{root.resolve()}".encode())
    return cache_dir / f"pop909_v{DATA_VERSION}_{h.hexdigest()[:12]}.npz"


def build_dataset(root: str | os.PathLike[str] | None = None, tokenizer: Tokenizer | None = None,
                  *, progress: bool = False) -> dict[str, Any]:
    """Load and encode every POP909 song (no cache). Returns the arrays :func:`load_dataset` caches.

    One entry per training segment (:func:`load_song_segments`). Keys: ``tokens`` (N, F) uint8,
    ``cond`` (N, C) uint8, ``offsets`` (S+1,), ``song_ids`` (S,), ``splits`` (S,) str, ``stats``
    (dict; survival and round-trip figures are over whole songs). Songs that fail to load are
    skipped and counted.
    """
    tokenizer = tokenizer or Tokenizer()
    dirs = song_dirs(root)
    t0 = time.perf_counter()
    toks, conds, ids, splits = [], [], [], []
    infos: list[SongInfo] = []
    skipped: dict[str, str] = {}
    roundtrip_ok = 0
    for i, d in enumerate(dirs):
        try:
            score, segments, info = load_song_segments(d)
            tk, _ = tokenizer.encode(score)
            encoded = [tokenizer.encode(seg) for seg in segments]
        except InputError as exc:
            skipped[d.name] = str(exc)
            continue
        back = tokenizer.decode(tk, beats_per_bar=score.beats_per_bar)
        roundtrip_ok += [(n.onset_16th, n.track, n.pitch) for n in back.notes] == \
            [(n.onset_16th, n.track, n.pitch) for n in score.notes]
        for stk, scd in encoded:
            toks.append(stk.astype(np.uint8))
            conds.append(scd.astype(np.uint8))
            ids.append(int(d.name))
            splits.append(split_of(int(d.name)))
        infos.append(info)
        if progress and (i + 1) % 100 == 0:
            print(f"  {i + 1}/{len(dirs)} songs, {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if max(tokenizer.field_sizes + tokenizer.cond_sizes) > 256:
        raise InputError("vocabulary too large for the uint8 cache")
    lengths = np.array([t.shape[0] for t in toks], dtype=np.int64)
    stats = _stats(infos, lengths, splits, skipped, roundtrip_ok, time.perf_counter() - t0)
    return {
        "tokens": np.concatenate(toks) if toks else np.zeros((0, len(tokenizer.field_names)), np.uint8),
        "cond": np.concatenate(conds) if conds else np.zeros((0, len(tokenizer.cond_names)), np.uint8),
        "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        "song_ids": np.array(ids, dtype=np.int64),
        "splits": np.array(splits),
        "stats": stats,
    }


def _stats(infos: list[SongInfo], lengths: np.ndarray, splits: list[str], skipped: dict[str, str],
           roundtrip_ok: int, seconds: float) -> dict[str, Any]:
    n_midi = sum(i.notes_in_midi for i in infos)
    n_kept = sum(i.notes_kept for i in infos)
    per_split = {s: {"songs": int(sum(split_of(i.song_id) == s for i in infos)),
                     "segments": int(sum(x == s for x in splits)),
                     "tokens": int(sum(int(n) for n, x in zip(lengths, splits) if x == s))} for s in SPLITS}
    return {
        "songs": len(infos),
        "segments": len(splits),
        "notes_in_segments": sum(i.notes_in_segments for i in infos) / max(1, n_kept),
        "skipped": skipped,
        "per_split": per_split,
        "songs_3_4": sum(i.beats_per_bar == 3 for i in infos),
        "songs_on_half_beat_grid": sum(i.half_beats for i in infos),
        "songs_with_irregular_downbeats": sum(i.irregular_bars > 0 for i in infos),
        "downbeats_on_grid": sum(i.downbeats_on_grid for i in infos) / max(1, sum(i.downbeats for i in infos)),
        "songs_with_key_changes": sum(i.key_changes > 0 for i in infos),
        "unknown_chord_labels": sum(i.unknown_chords for i in infos),
        "notes_in_midi": n_midi,
        "duplicate_notes_in_midi": sum(i.duplicate_notes for i in infos),
        "notes_kept": n_kept,
        "note_survival": n_kept / n_midi if n_midi else float("nan"),
        "worst_song_survival": {f"{i.song_id:03d}": round(i.notes_kept / i.notes_in_midi, 4) for i in
                                sorted(infos, key=lambda i: i.notes_kept / max(1, i.notes_in_midi))[:5]},
        "mean_onset_error_steps": float(np.mean([i.onset_error_steps for i in infos])) if infos else float("nan"),
        "roundtrip_exact_songs": roundtrip_ok,
        "tokens_per_segment": {
            "mean": float(lengths.mean()) if lengths.size else 0.0,
            "median": float(np.median(lengths)) if lengths.size else 0.0,
            "max": int(lengths.max()) if lengths.size else 0,
            "min": int(lengths.min()) if lengths.size else 0,
        },
        "tokens_total": int(lengths.sum()),
        "build_seconds": round(seconds, 1),
    }


def load_dataset(root: str | os.PathLike[str] | None = None, split: str | None = "train",
                 tokenizer: Tokenizer | None = None, *, cache_dir: str | os.PathLike[str] | None = None,
                 rebuild: bool = False, progress: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """Encoded POP909 training segments of ``split`` (None = all): ``[(tokens (L, F), cond (L, C))]``.

    One entry per segment (a run of regular annotated bars, :func:`load_song_segments`; about 3
    per song), int64, in song-id order; every sequence starts with BOS and ends with EOS.

    Builds the cache on first use (about a minute on one core), then loads it in well under a
    second. Song order is by id. Use :func:`load_cache` for the ids and statistics.
    """
    data = load_cache(root, tokenizer, cache_dir=cache_dir, rebuild=rebuild, progress=progress)
    if split is not None and split not in SPLITS:
        raise InputError(f"unknown split {split!r}; accepted: {', '.join(SPLITS)}")
    off = data["offsets"]
    out = []
    for i, s in enumerate(data["splits"]):
        if split is None or s == split:
            out.append((data["tokens"][off[i]:off[i + 1]].astype(np.int64),
                        data["cond"][off[i]:off[i + 1]].astype(np.int64)))
    return out


def load_cache(root: str | os.PathLike[str] | None = None, tokenizer: Tokenizer | None = None, *,
               cache_dir: str | os.PathLike[str] | None = None, rebuild: bool = False,
               progress: bool = False) -> dict[str, Any]:
    """The cached arrays of :func:`build_dataset` (built and saved atomically when missing)."""
    from videobgm.fileio import atomic_path

    tokenizer = tokenizer or Tokenizer()
    r = Path(root) if root is not None else default_root()
    path = _cache_path(r, tokenizer, Path(cache_dir) if cache_dir is not None else default_cache_dir())
    if path.is_file() and not rebuild:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in ("tokens", "cond", "offsets", "song_ids", "splits")}
            data["stats"] = json.loads(str(z["stats_json"]))
        data["cache_path"] = str(path)
        return data
    data = build_dataset(r, tokenizer, progress=progress)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, tokens=data["tokens"], cond=data["cond"], offsets=data["offsets"],
                                song_ids=data["song_ids"], splits=data["splits"],
                                stats_json=np.array(json.dumps(data["stats"])),
                                tokenizer_json=np.array(tokenizer.to_json()))
    data["cache_path"] = str(path)
    return data


def iter_batches(dataset: list[tuple[np.ndarray, np.ndarray]], batch_size: int, seq_len: int, *,
                 seed: int = 0, tokenizer: Tokenizer | None = None, transpose: bool = True,
                 max_shift: int = 6) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Endless seeded random batches of windows: ``(tokens (B, T, F), cond (B, T, C), mask (B, T))``.

    Each window is ``seq_len`` rows of one song starting at its BOS or at a BAR row (songs picked
    with probability proportional to length); shorter remainders are padded with 0 (PAD) rows and
    ``mask`` is False there. With ``transpose`` every window is shifted by a random number of
    semitones in ``[-max_shift, max_shift - 1]`` (0 if that would leave 0..127). Deterministic for a
    given ``seed``. All arrays int64 / bool.
    """
    if not dataset:
        raise InputError("empty dataset")
    tokenizer = tokenizer or Tokenizer()
    rng = np.random.default_rng(seed)
    lengths = np.array([t.shape[0] for t, _ in dataset], dtype=float)
    prob = lengths / lengths.sum()
    starts = [np.flatnonzero((t[:, 0] == tokenizer.TYPE_BAR) | (t[:, 0] == tokenizer.TYPE_BOS))
              for t, _ in dataset]
    ranges = [pitch_range(t, tokenizer) for t, _ in dataset]
    nf, nc = dataset[0][0].shape[1], dataset[0][1].shape[1]
    while True:
        xb = np.zeros((batch_size, seq_len, nf), dtype=np.int64)
        cb = np.zeros((batch_size, seq_len, nc), dtype=np.int64)
        mb = np.zeros((batch_size, seq_len), dtype=bool)
        for b in range(batch_size):
            i = int(rng.choice(len(dataset), p=prob))
            t, c = dataset[i]
            st = starts[i]
            s = int(st[rng.integers(0, st.size)]) if st.size else 0
            t, c = t[s:s + seq_len], c[s:s + seq_len]
            if transpose:
                k = int(rng.integers(-max_shift, max_shift))
                lo, hi = ranges[i]
                if lo + k < 0 or hi + k > 127:
                    k = 0
                t, c = transpose_tokens(t, c, k, tokenizer)
            n = t.shape[0]
            xb[b, :n], cb[b, :n], mb[b, :n] = t, c, True
        yield xb, cb, mb


# ------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """``python -m videobgm.train.data [--root DIR] [--cache DIR] [--rebuild] --stats``."""
    ap = argparse.ArgumentParser(prog="python -m videobgm.train.data", description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=None, help="POP909 folder (default: $VIDEOBGM_POP909 or ../shared)")
    ap.add_argument("--cache", default=None, help="cache folder (default: $VIDEOBGM_CACHE or ~/.cache/videobgm)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cache")
    ap.add_argument("--stats", action="store_true", help="print statistics as JSON")
    args = ap.parse_args(argv)
    try:
        data = load_cache(args.root, cache_dir=args.cache, rebuild=args.rebuild, progress=True)
    except InputError as exc:
        print(f"videobgm: error: {exc}", file=sys.stderr)
        return 2
    print(f"cache: {data['cache_path']}", file=sys.stderr)
    if args.stats:
        print(json.dumps(data["stats"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
