"""Where the chord changes per bar of the video-driven pieces go (issue 18's harmonic rhythm row).

Usage::

    PYTHONPATH=src python bench/harmonic_rhythm.py [--seeds 0,1,2] [--pop909 150] [--no-tilt]

For the pieces of ``bench/musicality.py`` (same videos, seeds and plans; the plan only, no
composing) it prints per piece the tempo, meter, bars, mood/style vocabulary and its ``change``
tilt, and the chord changes per bar counted as ``bench/musicality.py`` counts them on the plan's
chords; then the chord onsets per bar by kind of bar: ``cadence`` (a phrase's last bar, one chord
by construction), ``ending`` (the held final tonic), ``repeat`` (a bar of the motif form that
copies a statement's bar), ``pre`` (the bar before an authentic cadence) and ``free``.
``--pop909 N``: POP909's changes per bar by tempo for the first N train songs in 4/4 (the same
bar masks the harmony model counts). ``--no-tilt``: the same plans with every vocabulary's
``change`` tilt set to 0 (what the tilt costs; a diagnostic, not a setting of the tool).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def _labels(chords: list, n_steps: int) -> list:
    lab = [None] * n_steps
    for ch in sorted(chords, key=lambda x: x.onset_16th):
        for s in range(max(0, ch.onset_16th), n_steps):
            lab[s] = (ch.root, ch.quality)
    return lab


def plan_rows(seeds: list[int], cache: Path, no_tilt: bool) -> list[dict]:
    import musicality as bench

    from videobgm.config import PipelineConfig
    from videobgm.music import motif, styles
    from videobgm.pipeline import Pipeline
    from videobgm.plan.harmony import harmony_layout

    vocab_for = styles.harmony_vocabulary
    if no_tilt:  # this process only: the diagnostic's "what if"
        styles.harmony_vocabulary = lambda *a, **k: dataclasses.replace(vocab_for(*a, **k), change=0.0)
    videos = [bench.SHARED / "videos" / v for v in bench.SHARED_VIDEOS
              if (bench.SHARED / "videos" / v).exists()]
    videos += [bench.synth_video(k, cache / "videos") for k in bench.SYNTH]
    pipe, feats, rows = None, {}, []
    for seed in seeds:
        for v in videos:
            cfg = PipelineConfig()
            cfg = cfg.replace(sample=cfg.sample.replace(seed=seed))
            if pipe is None:
                pipe = Pipeline(cfg)
            else:
                pipe.config = cfg
            if v.name not in feats:
                feats[v.name] = pipe.analyze(v)
            plan = pipe.plan(feats[v.name])
            c = plan.controls
            nb, spb = int(c.n_bars), int(c.steps_per_bar)
            lab = _labels(c.chords, nb * spb)
            changes = sum(1 for s in range(1, nb * spb) if lab[s] != lab[s - 1] and lab[s] is not None)
            _, _, cad = harmony_layout(plan.sections, nb)
            reps = motif.layout(plan.sections, nb, c.melody_bars, c.ending_bar) if "melody" in c.tracks else {}
            per_bar = [sum(1 for s in range(b * spb, (b + 1) * spb)
                           if lab[s] is not None and (s == 0 or lab[s] != lab[s - 1])) for b in range(nb)]
            kinds = []
            for b in range(nb):
                if c.ending_bar is not None and b >= c.ending_bar:
                    kinds.append("ending")
                elif b in cad:
                    kinds.append("cadence")
                elif b in reps:
                    kinds.append("repeat")
                elif cad.get(b + 1) == "authentic":
                    kinds.append("pre")
                else:
                    kinds.append("free")
            voc = styles.harmony_vocabulary(plan.mood, plan.style)
            rows.append(dict(video=v.stem, seed=seed, bpm=float(c.tempo_bpm), bpb=int(c.beats_per_bar),
                             n_bars=nb, vocab=voc.name, tilt=voc.change, rate=changes / nb,
                             per_bar=per_bar, kinds=kinds))
    return rows


def pop909_by_tempo(n: int) -> list[tuple[float, float]]:
    from videobgm.data import pop909
    from videobgm.plan.chord_corpus import bar_masks
    from videobgm.train.harmony import song_from_pop909

    out = []
    for d in pop909.song_dirs(None, "train")[:n]:
        sc, _ = pop909.load_song(d)
        song = song_from_pop909(d, sc)
        masks = [m for m in bar_masks(song) if m >= 0]
        if song.beats_per_bar == 4 and masks:
            out.append((float(sc.tempo_bpm), float(np.mean([bin(m).count("1") for m in masks]))))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--cache", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "videobgm-musicality"))
    ap.add_argument("--pop909", type=int, default=0)
    ap.add_argument("--no-tilt", action="store_true")
    args = ap.parse_args()
    rows = plan_rows([int(s) for s in args.seeds.split(",")], Path(args.cache), args.no_tilt)
    print("| piece | seed | bpm | meter | bars | vocabulary (change tilt) | changes/bar |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['video']} | {r['seed']} | {r['bpm']:.0f} | {r['bpb']}/4 | {r['n_bars']} | "
              f"{r['vocab']} ({r['tilt']:+.2f}) | {r['rate']:.2f} |")
    rate = np.array([r["rate"] for r in rows])
    longer = np.array([r["n_bars"] > 2 for r in rows])
    print(f"\nmean changes/bar {rate.mean():.3f}; without 2-bar pieces {rate[longer].mean():.3f} "
          f"({int(longer.sum())} pieces); tempos {min(r['bpm'] for r in rows):.0f}-"
          f"{max(r['bpm'] for r in rows):.0f} bpm")
    by: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        for k, n in zip(r["kinds"], r["per_bar"]):
            by[k].append(n)
    print("\n| kind of bar | bars | chord onsets per bar |\n|---|---|---|")
    for k in ("free", "repeat", "pre", "cadence", "ending"):
        if by[k]:
            print(f"| {k} | {len(by[k])} | {np.mean(by[k]):.2f} |")
    if args.pop909:
        pts = np.array(pop909_by_tempo(args.pop909))
        print(f"\nPOP909 (first {args.pop909} train songs, {len(pts)} in 4/4): r(tempo, changes/bar) = "
              f"{np.corrcoef(pts[:, 0], pts[:, 1])[0, 1]:.2f}")
        print("| tempo (bpm) | songs | changes/bar |\n|---|---|---|")
        for lo, hi in ((0, 70), (70, 85), (85, 100), (100, 130), (130, 300)):
            k = (pts[:, 0] >= lo) & (pts[:, 0] < hi)
            if k.any():
                print(f"| {lo}-{hi} | {int(k.sum())} | {pts[k, 1].mean():.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
