"""Video-music sync on the real sample videos: video-driven music vs a video-independent baseline.

For every video in ../shared/videos the same model composes twice with the same seed:
- **video**: the plan follows the video (tempo, cuts, motion density, visual-beat accents);
- **baseline**: the plan is made from neutral, video-independent features of the same duration
  (constant density, no accents, regular phrases), i.e. same model, video-independent controls.
Both are scored against the video's own features with ``videobgm.eval.sync``.

    python bench/sync_table.py [--videos DIR] [--out docs/results/sync.md] [--untrained]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _util  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "videos"))
    ap.add_argument("--out", default=None, help="also write the table here (docs/results/sync.md)")
    ap.add_argument("--untrained", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import torch

    from videobgm.config import PipelineConfig
    from videobgm.eval.sync import sync_metrics
    from videobgm.features.still import neutral_features
    from videobgm.pipeline import Pipeline

    torch.set_num_threads(2)
    cfg = PipelineConfig.preset("small")
    cfg = cfg.replace(sample=cfg.sample.replace(seed=a.seed))
    pipe = Pipeline(cfg, untrained=a.untrained)
    videos = sorted(Path(a.videos).glob("*.mp4"))
    if not videos:
        sys.exit(f"no videos in {a.videos}")
    rows, keys = [], None
    for v in videos:
        feats = pipe.analyze(v)
        plan_v = pipe.plan(feats)
        plan_b = pipe.plan(neutral_features(feats.duration_s))
        for name, plan in (("video", plan_v), ("baseline", plan_b)):
            score = pipe.compose(plan)
            m = sync_metrics(feats, score, plan=plan if name == "video" else None)
            if name == "baseline":
                # phrase boundaries of the baseline are its own (video-independent) sections
                m = sync_metrics(feats, score, plan=plan)
            keys = keys or [k for k, x in m.items() if isinstance(x, (int, float))]
            rows.append({"video": v.name, "music": name, **{k: m[k] for k in keys}})
    text = (f"Sync metrics on {a.videos} ({_util.load_info()}; seed {a.seed}; model "
            f"{'untrained' if a.untrained else 'packaged small'})\n\n"
            + _util.table(rows, ["video", "music", *keys]))
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
