"""Cross-check of the symbolic metrics on POP909 against muspy's conventions.

Usage::

    python bench/metrics_pop909.py [--root POP909] [--split all|train|val|test] [--limit N]

For every song it computes scale consistency (SC), pitch entropy (PE) and pitch-class entropy
(PCE) three ways and prints the means as a table:

* ``muspy (raw MIDI)``: muspy's definitions on the notes exactly as stored in the MIDI file
  (every non-drum note, exact duplicates included), which is what ``muspy.read_midi`` +
  ``muspy.scale_consistency`` etc. see (without needing muspy installed);
* ``ours (quantised)``: :mod:`videobgm.eval.symbolic` on the Score from
  :func:`videobgm.train.data.load_song` (16th grid, duplicates merged);
* the same with ``convention="muspy"`` for the empty-beat rate and groove consistency, for
  completeness;
* with ``--with-muspy`` (needs ``muspy`` importable, e.g. ``pip install --target DIR muspy`` and
  ``PYTHONPATH=DIR``; it is not a dependency of videobgm): the muspy 0.5 library itself on the
  MIDI files (resolution = the files' ticks per beat, groove consistency over 4-beat measures),
  beside our muspy-convention values on the files' own tempo grid (``midi.read_midi``).

Also prints the note survival rate of the quantisation. Reports load (``os.getloadavg``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from videobgm.eval import symbolic as S
from videobgm.midi import load_pretty_midi
from videobgm.train import data as D


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def raw_metrics(pitches: np.ndarray) -> dict[str, float]:
    """muspy's SC/PE/PCE on raw (non-drum) MIDI pitches."""
    pcs = np.bincount(pitches % 12, minlength=12)
    best = max(pcs[np.roll(sc, t)].sum() for sc in (S.MAJOR_SCALE, S.MINOR_SCALE) for t in range(12))
    return {"scale_consistency": best / pitches.size, "pitch_entropy": _entropy(np.bincount(pitches, minlength=128)),
            "pitch_class_entropy": _entropy(pcs)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=None)
    ap.add_argument("--split", default="all", choices=["all", "train", "val", "test"])
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--with-muspy", action="store_true", help="also run the muspy library (if importable)")
    args = ap.parse_args()
    dirs = D.song_dirs(args.root, None if args.split == "all" else args.split)
    if args.limit:
        dirs = dirs[: args.limit]
    t0 = time.perf_counter()
    raw, ours, musp = [], [], []
    kept = total = 0
    for d in dirs:
        pm = load_pretty_midi(d / f"{d.name}.mid")
        pitches = np.array([n.pitch for i in pm.instruments if not i.is_drum for n in i.notes], dtype=np.int64)
        raw.append(raw_metrics(pitches))
        score, info = D.load_song(d)
        kept += info.notes_kept
        total += info.notes_in_midi
        ours.append(S.compute_all(score, structure=False))
        musp.append(S.compute_all(score, convention="muspy", structure=False))
    dt = time.perf_counter() - t0
    keys = ("scale_consistency", "pitch_entropy", "pitch_class_entropy", "empty_beat_rate", "grooving_similarity")
    print(f"POP909 {args.split}: {len(dirs)} songs, {dt:.0f} s, load {os.getloadavg()[0]:.1f}")
    print(f"note survival (distinct notes kept on the 16th grid): {kept / total:.4%}")
    print()
    print("| metric | muspy (raw MIDI) | ours (quantised, muspy convention) | ours (quantised, default) |")
    print("|---|---|---|---|")
    for k in keys:
        r = np.nanmean([m[k] for m in raw]) if k in raw[0] else float("nan")
        a = np.nanmean([m[k] for m in musp])
        b = np.nanmean([m[k] for m in ours])
        rs = f"{r:.4f}" if np.isfinite(r) else "-"
        print(f"| {k} | {rs} | {a:.4f} | {b:.4f} |")
    if args.with_muspy:
        library_cross_check(dirs)
    return 0


def library_cross_check(dirs: list) -> None:
    """muspy 0.5 itself vs our muspy convention on each file's own MIDI grid."""
    import muspy

    from videobgm.midi import read_midi

    names = {"scale_consistency": "scale_consistency", "pitch_entropy": "pitch_entropy",
             "pitch_class_entropy": "pitch_class_entropy", "empty_beat_rate": "empty_beat_rate",
             "polyphony": "polyphony", "groove_consistency": "grooving_similarity"}
    lib: dict[str, list[float]] = {k: [] for k in names}
    ours: dict[str, list[float]] = {k: [] for k in names}
    for d in dirs:
        path = d / f"{d.name}.mid"
        m = muspy.read_midi(path)
        for k in names:
            fn = getattr(muspy, k)
            lib[k].append(fn(m, 4 * m.resolution) if k == "groove_consistency" else fn(m))
        s = read_midi(path, beats_per_bar=4)
        o = S.compute_all(s, convention="muspy", structure=False)
        for k, ok in names.items():
            ours[k].append(o[ok])
    print()
    print(f"muspy {muspy.__version__} library vs ours (muspy convention, the files' own MIDI grid), "
          f"{len(dirs)} songs:")
    print()
    print("| metric | muspy library | ours | max abs difference per song |")
    print("|---|---|---|---|")
    for k in names:
        a, b = np.array(lib[k], float), np.array(ours[k], float)
        print(f"| {k} | {np.nanmean(a):.4f} | {np.nanmean(b):.4f} | {np.nanmax(np.abs(a - b)):.4f} |")


if __name__ == "__main__":
    sys.exit(main())
