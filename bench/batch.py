"""Batch throughput: videos per minute, serial (in-process) vs Ray workers, and the scaling.

    .venv/bin/python bench/batch.py [--videos 8] [--seconds 10] [--workers 2] [--preset small]

Makes N synthetic clips (moving square + texture + cuts, 320x240 @ 30 fps), then scores them
with ``videobgm.apps.batch.runner.run_batch`` once serially (``workers=0``, this process, default threads) and
once with Ray actors (one CPU thread each), alternating ``--repeats`` times (scaling is computed
from the per-mode medians; the serial baseline is the first mode). Prints wall time, start-up time (Ray start + model
loads), videos/minute end to end and excluding start-up, and the scaling factor. The machine's
load average is printed beside the numbers: on a shared machine they are pessimistic.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import moving_clip  # noqa: E402


def _spin(seconds: float) -> float:
    t, w = time.process_time(), time.time()
    while time.time() - w < seconds:
        pass
    return time.process_time() - t


def free_cores(n: int, seconds: float = 1.5) -> float:
    """Control experiment without videobgm or Ray: CPU seconds that ``n`` busy processes get in
    ``seconds`` of wall time, divided by ``seconds``: the parallel speed-up this machine can give
    right now (``n`` on an idle machine, less when other jobs hold cores)."""
    import multiprocessing as mp

    with mp.get_context("fork").Pool(n) as pool:
        return sum(pool.map(_spin, [seconds] * n)) / seconds


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--workers", type=int, nargs="+", default=[2])
    p.add_argument("--preset", default="small", choices=["tiny", "small"])
    p.add_argument("--untrained", action="store_true", help="random model (no packaged checkpoint)")
    p.add_argument("--serial-threads", type=int, default=None,
                   help="torch/OpenCV threads of the serial run (default: library default)")
    p.add_argument("--repeats", type=int, default=2, help="alternate serial / Ray runs this many times")
    p.add_argument("--keep", default=None, help="keep clips and outputs in this folder")
    a = p.parse_args(argv)

    from videobgm.apps.batch.ray import limit_threads
    from videobgm.apps.batch.runner import run_batch
    from videobgm.config import PipelineConfig

    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bench_batch_"))
    clips = root / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for i in range(a.videos):
        moving_clip(clips / f"clip{i:02d}.mp4", duration_s=a.seconds, width=320, height=240)
    print(f"{a.videos} clips of {a.seconds:g} s made in {time.perf_counter() - t0:.1f} s; "
          f"cpus={os.cpu_count()}; load before: {load()}")
    spec = {"config": PipelineConfig.preset(a.preset), "untrained": a.untrained}

    rows, details = [], []
    if a.serial_threads:
        limit_threads(a.serial_threads)
    runs = [("serial", 0)] + [(f"ray x{w}", w) for w in a.workers]
    for label, w in runs * a.repeats:  # alternate modes so that load changes hit both
        out = root / f"out_{w}"
        shutil.rmtree(out, ignore_errors=True)
        ceiling = free_cores(max(1, w))
        la = load()
        s = run_batch(clips, out, spec=spec, workers=w)
        if s.failed:
            print(f"{label}: {len(s.failed)} failed, e.g. {next(iter(s.failed.values()))}")
        n = len(s.ok)
        recs = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
        per_video = sum(r["timings_s"]["total"] for r in recs) / max(1, len(recs))
        cores = sum(r["timings_s"].get("cpu", 0) for r in recs) / max(1e-9, sum(r["timings_s"]["total"] for r in recs))
        details.append((label, per_video, cores, ceiling))
        rows.append((label, w, n, s.wall_s, s.startup_s, s.scoring_s, la, load()))
    import statistics

    def vpm(r: tuple, steady: bool = False) -> float:
        return r[2] / max(1e-9, r[5] if steady else r[3]) * 60

    base_vpm = statistics.median(vpm(r) for r in rows if r[1] == 0)
    base_vpm_ss = statistics.median(vpm(r, True) for r in rows if r[1] == 0)
    print()
    print("| mode | workers | videos ok | wall s | start-up s | scoring s | videos/min (wall) "
          "| videos/min (scoring) | scaling (wall) | scaling (scoring) | load avg before -> after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        label, w, n, wall, start, scoring, la, lb = r
        print(f"| {label} | {w} | {n} | {wall:.1f} | {start:.1f} | {scoring:.1f} | {vpm(r):.2f} "
              f"| {vpm(r, True):.2f} | {vpm(r) / base_vpm:.2f}x | {vpm(r, True) / base_vpm_ss:.2f}x "
              f"| {la} -> {lb} |")
    for label, w in runs:
        mine = [r for r in rows if r[1] == w]
        m, m_ss = statistics.median(vpm(r) for r in mine), statistics.median(vpm(r, True) for r in mine)
        print(f"| **{label} median** | {w} | | | | | {m:.2f} | {m_ss:.2f} | {m / base_vpm:.2f}x "
              f"| {m_ss / base_vpm_ss:.2f}x | |")
    print("\n| run | mean wall s per video (in its worker) | CPU cores used while scoring a video "
          "| control: cores that max(1, workers) busy processes got just before the run |")
    print("|---|---|---|---|")
    for label, per_video, cores, ceiling in details:
        print(f"| {label} | {per_video:.2f} | {cores:.2f} | {ceiling:.2f} |")
    print("\nwall = start-up (Ray start, model load, warm-up) + scoring (first dispatch to last result)"
          " + shutdown; 'scoring' is the steady-state rate that matters for large batches.")
    print(f"\npreset={a.preset} untrained={a.untrained} videos={a.videos} x {a.seconds:g} s; "
          f"time {time.strftime('%H:%M UTC', time.gmtime())}")
    if not a.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
