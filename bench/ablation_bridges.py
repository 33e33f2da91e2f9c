"""Ablation of the bridges on the real sample videos: none / text / music / both.

For every video in ../shared/videos the same model composes four times with the same seed:

Every condition is composed with seeds 0..N-1 (``--seeds``, default 3) and the metrics averaged.

* **none** - ``plan.make_plan(features)``: the plan follows the video only;
* **text** - plus the video's own description (``describe.describe``; text bridge);
* **music** - plus the top-3 phrases retrieved from the shipped index with that description
  (``retrieve.search``; music bridge), but without the description itself;
* **both** - description and references.

Each result is scored with the music-only metrics of ``videobgm.eval.symbolic`` (structureness
skipped for time) and the sync metrics of ``videobgm.eval.sync`` against the video's features.

    python bench/ablation_bridges.py [--videos DIR] [--features-dir DIR] [--untrained] [--seeds 3]

``--features-dir`` reuses ``NAME.features.json`` files (from ``videobgm analyze -o``) instead of
analysing the videos again.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from videobgm.schema import read_features

QUALITY = ("pitch_class_entropy", "scale_consistency", "pitch_in_scale_rate", "empty_beat_rate",
           "grooving_similarity", "polyphony")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "videos"))
    ap.add_argument("--features-dir", default=None)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--untrained", action="store_true")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per video and condition")
    args = ap.parse_args(argv)

    import torch

    from videobgm.bridges.describe import describe
    from videobgm.bridges.retrieve import load_index, search
    from videobgm.config import PipelineConfig
    from videobgm.eval.symbolic import compute_all
    from videobgm.eval.sync import sync_metrics
    from videobgm.pipeline import Pipeline

    torch.set_num_threads(1)
    cfg = PipelineConfig.preset("small")
    pipe = Pipeline(cfg, checkpoint=args.checkpoint, untrained=args.untrained)
    pipe.load_model()
    index = load_index(None)
    videos = sorted(Path(args.videos).glob("*.mp4"))
    if not videos:
        print(f"no videos in {args.videos}", file=sys.stderr)
        return 2
    rows: list[dict] = []
    sync_keys: list[str] = []
    for v in videos:
        cached = Path(args.features_dir) / f"{v.stem}.features.json" if args.features_dir else None
        if cached is not None and cached.is_file():
            feats = read_features(json.loads(cached.read_text()))
        else:
            feats = pipe.analyze(v)
        desc = describe(feats)
        refs = search(desc, k=3, index=index)
        for cond, d, r in (("none", None, None), ("text", desc, None), ("music", None, refs),
                           ("both", desc, refs)):
            plan = pipe.plan(feats, description=d, references=r)
            per_seed = []
            for seed in range(args.seeds):
                score = pipe.compose(plan, seed=seed)
                q = compute_all(score, structure=False)
                s = sync_metrics(feats, score, plan=plan)
                sync_keys = sync_keys or [k for k, x in s.items() if isinstance(x, (int, float))]
                per_seed.append({**{k: q[k] for k in QUALITY}, **{k: s[k] for k in sync_keys}})
            mean = {k: float(np.nanmean([float(p[k]) for p in per_seed])) for k in per_seed[0]}
            rows.append({"video": v.stem, "bridge": cond, "mood": plan.mood, "tempo": plan.tempo_bpm, **mean})
            print(f"{v.stem} {cond}: {plan.mood} {plan.tempo_bpm:.0f} bpm, refs "
                  f"{[x.id for x in (r or [])]}", file=sys.stderr)
    cols = ["tempo", *QUALITY, *sync_keys]
    meta = pipe._model_meta
    ck = meta.get("checkpoint"), meta.get("provenance", {}).get("steps"), meta.get("untrained", False)
    print(f"model checkpoint={ck[0]} steps={ck[1]} untrained={ck[2]}; seeds 0..{args.seeds - 1} "
          f"(metrics averaged per video); {len(videos)} videos; loadavg {os.getloadavg()[0]:.1f}\n")
    print("Mean over videos:\n")
    print("| bridge | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))
    for cond in ("none", "text", "music", "both"):
        sel = [r for r in rows if r["bridge"] == cond]
        vals = [float(np.nanmean(x)) if np.isfinite(x := np.array([float(r[c]) for r in sel])).any()
                else float("nan") for c in cols]
        print(f"| {cond} | " + " | ".join(f"{x:.3f}" for x in vals) + " |")
    print("\nPer video:\n")
    print("| video | bridge | mood | " + " | ".join(cols) + " |\n|---|---|---|" + "---|" * len(cols))
    for r in rows:
        print(f"| {r['video']} | {r['bridge']} | {r['mood']} | "
              + " | ".join(f"{float(r[c]):.3f}" for c in cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
