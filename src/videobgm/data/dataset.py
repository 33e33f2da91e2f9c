"""POP909 dataset for training: encoded segments, transposition augmentation, cache, batches.

Reading the songs (beat grid, chords, keys, split, segments) lives in
:mod:`videobgm.data.pop909`; its public names are re-exported here.

Cache: one ``.npz`` per (tokenizer vocabulary, data version, POP909 path) under ``cache_dir``
(default ``$VIDEOBGM_CACHE`` or ``~/.cache/videobgm``) holding all segments' tokens and
conditioning as uint8 rows with offsets. ``python -m videobgm.data.dataset --stats`` builds it and
prints statistics.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.compose.token_codes import CHORD_TYPES
from videobgm.compose.tokens import Tokenizer
from videobgm.data.pop909 import (
    SPLITS,
    SongInfo,
    default_root,
    load_song_segments,
    song_dirs,
    split_of,
)
from videobgm.errors import InputError
from videobgm.types import Score

DATA_VERSION = 4


def default_cache_dir() -> Path:
    """``$VIDEOBGM_CACHE`` or ``~/.cache/videobgm``."""
    return Path(os.environ.get("VIDEOBGM_CACHE") or Path.home() / ".cache" / "videobgm")


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
    from videobgm.io import atomic_path

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
    """``python -m videobgm.data.dataset [--root DIR] [--cache DIR] [--rebuild] --stats``."""
    ap = argparse.ArgumentParser(prog="python -m videobgm.data.dataset", description=__doc__.split("\n")[0])
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
