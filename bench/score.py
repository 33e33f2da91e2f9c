"""Benchmark: score a video end to end, with a per-stage breakdown.

Cases: a synthetic 60 s 720p30 clip (target: <= 20 s on 2 cores) and a 10-minute clip
(target: peak RSS < 2.5 GB). Each case runs in its own process so peak RSS is per case.

    python bench/score.py [--minutes 10] [--untrained] [--out docs/bench_score.md]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _util  # noqa: E402


def child(video: str, untrained: bool) -> None:
    import time

    from videobgm.config import PipelineConfig
    from videobgm.pipeline import Pipeline

    t0 = time.perf_counter()
    pipe = Pipeline(PipelineConfig.preset("small"), untrained=untrained)
    pipe.load_model()
    load_s = time.perf_counter() - t0
    out = Path(video).with_suffix(".scored.mp4")
    res = pipe.score(video, out)
    timings = {"load_model": load_s, **res.timings_s}
    print(json.dumps({"timings": timings, "n_bars": res.plan.n_bars, "notes": len(res.score.notes)}))
    _util.print_peak_rss()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the long clip")
    ap.add_argument("--untrained", action="store_true", help="untrained small model (no checkpoint)")
    ap.add_argument("--out", default=None, help="also write the table to this Markdown file")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.untrained)
        return
    tmp = Path(tempfile.mkdtemp(prefix="videobgm-bench-"))
    cases = [
        ("60 s 720p30", _util.moving_clip(tmp / "c60.mp4", duration_s=60, width=1280, height=720)),
        (f"{a.minutes:g} min 360p30", _util.moving_clip(tmp / "long.mp4", duration_s=a.minutes * 60,
                                                         width=640, height=360)),
    ]
    rows = []
    for name, path in cases:
        cmd = [_util.PY, __file__, "--child", str(path)] + (["--untrained"] if a.untrained else [])
        wall, rss, stdout = _util.run_with_rss(cmd)
        info = _util.child_json(stdout)
        t = info.get("timings", {})
        dur = 60.0 if name.startswith("60") else a.minutes * 60
        row = {"case": name, "wall s": wall, "x realtime": dur / wall, "peak RSS MiB": rss,
               "bars": info.get("n_bars"), "notes": info.get("notes")}
        row.update({k: v for k, v in t.items()})
        rows.append(row)
    cols = ["case", "wall s", "x realtime", "peak RSS MiB", "bars", "notes"]
    stages = [k for k in ("load_model", "probe", "features", "describe", "retrieve", "plan",
                          "compose", "midi", "render", "mux") if any(k in r for r in rows)]
    text = (f"videobgm score benchmark ({_util.load_info()}, model: "
            f"{'untrained small' if a.untrained else 'packaged small'})\n\n"
            + _util.table(rows, cols + stages))
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
