"""Real POP909 under the papers' convention, beside V-MusProd's Table 4 ("Real (POP909)").

Usage::

    nice python bench/metrics_pop909.py [--root POP909] [--split all|train|val|test] [--limit N]
        [--procs 2] [--md docs/results/pop909_papers.md]

For every song it computes, and prints as a Markdown table (means over songs):

* ``ours, papers``: ``videobgm eval --convention papers`` (:mod:`videobgm.eval.symbolic`) on the
  Score that eval reads from a POP909 folder (:func:`videobgm.data.dataset.load_song`: the annotated
  beat grid, 16th steps, notes merged on (step, track, pitch));
* ``muspy + mgeval, files as stored``: the muspy 0.5 library on ``muspy.read_midi`` of the file
  (its own resolution, 480 ticks per beat) and mgeval's ``avg_IOI`` on ``pretty_midi`` of it;
* ``muspy + mgeval, files at 4 ticks per beat``: the same after ``muspy.adjust_resolution(m, 4)``
  (muspy's own rounding to 16ths; groove consistency needs a coarse grid: at 480 ticks per beat
  it is ~0.997 for any music);
* ``ours, default``: our own variants (empty beats = beats where nothing sounds;
  ``ioi_unique_onsets_s``; MusDr grooving similarity) for contrast;
* a second table of pitch-class-entropy variants (to look for V-MusProd's PCE).

``--procs`` worker processes (at most 2 on the shared machine; run the script under ``nice``).
Reports the wall time and load (``os.getloadavg``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from videobgm.data import pop909

VMUSPROD = {"scale_consistency": 0.965, "pitch_entropy": 4.455, "pitch_class_entropy": 2.774,
            "empty_beat_rate": 0.005, "avg_ioi_s": 0.125}
COLS = ("scale_consistency", "pitch_entropy", "pitch_class_entropy", "empty_beat_rate", "avg_ioi_s",
        "groove_consistency")
HEAD = ("SC", "PE", "PCE", "EBR", "IOI (s)", "groove consistency")


def _entropy(counts: np.ndarray) -> float:
    counts = np.asarray(counts, dtype=float)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _muspy_row(m, beats_per_bar: int) -> dict[str, float]:  # noqa: ANN001
    import muspy

    return {"scale_consistency": muspy.scale_consistency(m), "pitch_entropy": muspy.pitch_entropy(m),
            "pitch_class_entropy": muspy.pitch_class_entropy(m), "empty_beat_rate": muspy.empty_beat_rate(m),
            "groove_consistency": muspy.groove_consistency(m, m.resolution * beats_per_bar)}


def song_metrics(d: Path) -> dict[str, dict[str, float]]:
    """All rows of the table for one POP909 song folder."""
    import muspy
    import pretty_midi

    from videobgm.eval import symbolic as S
    path = d / f"{d.name}.mid"
    score, info = pop909.load_song(d)
    papers = S.compute_all(score, convention="papers", structure=False)
    default = S.compute_all(score, structure=False)
    m = muspy.read_midi(str(path))
    pm = pretty_midi.PrettyMIDI(str(path))
    onsets = pm.get_onsets()
    avg_ioi = float(np.mean(np.diff(onsets)))  # mgeval avg_IOI
    stored = {**_muspy_row(m, 4), "avg_ioi_s": avg_ioi}
    at4 = {**_muspy_row(muspy.adjust_resolution(m, 4), 4), "avg_ioi_s": avg_ioi}
    notes = [n for i in pm.instruments if not i.is_drum for n in i.notes]
    pcs = np.array([n.pitch % 12 for n in notes])
    dur = np.bincount(pcs, weights=[n.end - n.start for n in notes], minlength=12)
    melody = [n.pitch % 12 for i in pm.instruments if i.name.upper() == "MELODY" for n in i.notes]
    variants = {"all notes (muspy)": _entropy(np.bincount(pcs, minlength=12)),
                "duration-weighted": _entropy(dur),
                "melody track only": _entropy(np.bincount(melody, minlength=12)) if melody else float("nan"),
                "1-bar windows (MusDr H1)": default["pitch_class_entropy_1bar"],
                "4-bar windows (MusDr H4)": default["pitch_class_entropy_4bar"]}
    return {"papers": papers, "stored": stored, "at4": at4,
            "default": {**default, "avg_ioi_s": default["ioi_unique_onsets_s"],
                        "groove_consistency": default["grooving_similarity"]},
            "pce": variants,
            "count": {"notes_kept": info.notes_kept, "notes_in_midi": info.notes_in_midi,
                      "stored_notes": len(onsets), "unique_onsets": len(np.unique(onsets))}}


def _nice() -> None:
    os.nice(10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=None)
    ap.add_argument("--split", default="all", choices=["all", "train", "val", "test"])
    ap.add_argument("--limit", type=int, default=0, help="first N songs only (0: all)")
    ap.add_argument("--procs", type=int, default=2, help="worker processes (default 2, the most allowed)")
    ap.add_argument("--md", default=None, help="also write the tables here (e.g. docs/results/pop909_papers.md)")
    args = ap.parse_args()
    import multiprocessing as mp

    import muspy

    dirs = pop909.song_dirs(args.root, None if args.split == "all" else args.split)
    if args.limit:
        dirs = dirs[: args.limit]
    t0 = time.perf_counter()
    procs = max(1, min(args.procs, 2))
    if procs == 1:
        res = [song_metrics(d) for d in dirs]
    else:
        with mp.get_context("fork").Pool(procs, initializer=_nice) as pool:
            res = pool.map(song_metrics, dirs, chunksize=8)
    wall = time.perf_counter() - t0
    text = render(res, dirs, args.split, wall, procs, muspy.__version__)
    print(text)
    if args.md:
        from videobgm.io import atomic_path

        cmd = "nice python bench/metrics_pop909.py " + " ".join(sys.argv[1:])
        head = ("# Real POP909 under the papers' convention\n\n"
                f"Written by `{cmd}` ({time.strftime('%Y-%m-%d', time.gmtime())}). What each row means and why "
                "the rows differ from V-MusProd's: [docs/metrics.md](../metrics.md#real-pop909-beside-published-tables)."
                "\n\n")
        with atomic_path(args.md) as tmp:
            Path(tmp).write_text(head + text + "\n", encoding="utf-8")
        print(f"wrote {args.md}", file=sys.stderr)
    return 0


def _mean(res: list[dict], row: str, k: str) -> tuple[float, float]:
    v = np.array([r[row].get(k, np.nan) for r in res], dtype=float)
    return float(np.nanmean(v)), float(np.nanstd(v))


def render(res: list[dict], dirs: list[Path], split: str, wall: float, procs: int, muspy_version: str) -> str:
    rows = [("ours, papers convention (`videobgm eval --convention papers`: annotated beat grid, 16th steps)", "papers"),
            (f"muspy {muspy_version} + mgeval, files as stored (480 ticks per beat)", "stored"),
            (f"muspy {muspy_version} + mgeval, files at 4 ticks per beat (`muspy.adjust_resolution`)", "at4"),
            ("ours, default convention (EBR: nothing sounds; IOI: `ioi_unique_onsets_s`; "
             "groove: MusDr `grooving_similarity`)", "default")]
    n = len(res)
    cnt = {k: sum(r["count"][k] for r in res) for k in res[0]["count"]}
    out = [f"POP909 ({split}): {n} songs, {wall:.0f} s with {procs} processes, "
           f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores. "
           "Means over songs (± standard deviation for ours).", ""]
    out += ["| row | " + " | ".join(HEAD) + " |", "|" + "---|" * (len(HEAD) + 1)]
    out.append("| V-MusProd Table 4, \"Real (POP909)\" | " +
               " | ".join(f"{VMUSPROD[k]:.3f}" if k in VMUSPROD else "-" for k in COLS) + " |")
    for label, key in rows:
        cells = []
        for k in COLS:
            mu, sd = _mean(res, key, k)
            cells.append(f"{mu:.3f} ± {sd:.3f}" if key == "papers" else f"{mu:.3f}")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out += ["", "Pitch-class entropy variants (files as stored, or our Score for the windows), to set "
            "beside V-MusProd's 2.774:", "", "| variant | PCE |", "|---|---|"]
    for k in res[0]["pce"]:
        out.append(f"| {k} | {_mean(res, 'pce', k)[0]:.3f} |")
    out += ["", f"Notes: {cnt['stored_notes']} stored in the files ({cnt['unique_onsets']} distinct onset "
            f"times per song summed); {cnt['notes_kept']} of {cnt['notes_in_midi']} distinct notes kept on "
            "the 16th grid of our Scores."]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
