"""Benchmark ``videobgm analyze``: wall time, realtime factor and peak RSS per clip.

Synthesises the clips into a temporary folder (not timed), then analyses each one in its own
subprocess so that peak RSS (``ru_maxrss`` of the child) belongs to that case alone.

    .venv/bin/python bench/analyze.py            # 60 s 720p30, 60 s 360p30, 600 s 360p30
    .venv/bin/python bench/analyze.py --quick    # 10 s 720p30 only

The clips have a grainy textured background that pans, plus a square swinging with a 1 s period,
so the decoder sees a realistic bitrate (several Mbit/s at 720p) and the flow has work to do.

"CPU s" counts every thread of the child (FFmpeg decoder threads included); "main-thread CPU s" is
the analysis thread alone. On an idle 2-core machine the wall time is at least
max(main-thread CPU, CPU / 2): the "idle 2-core lower bound" column (for when the
shared machine is loaded and wall times mean little).
The 10-minute clip is 640x360 to keep synthesis time reasonable; the 60 s 360p row gives the
same-resolution reference for the linearity check.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def bench_clip(width: int, height: int, *, seed: int = 0):  # noqa: ANN201
    """Frame function: grainy textured pan plus a square swinging with a 1 s period."""
    rng = np.random.default_rng(seed)
    big_w = width * 3
    yy, xx = np.mgrid[0:height, 0:big_w].astype(np.float32)
    tex = 110 + 50 * np.sin(xx / 37.0) * np.cos(yy / 29.0) + 40 * np.sin((xx + 2 * yy) / 71.0)
    base = np.stack([tex * 1.1, tex * 0.9 + 20, 220 - tex * 0.6], -1).clip(0, 255).astype(np.uint8)
    grain = [rng.integers(-4, 5, size=(height, width, 3), dtype=np.int16) for _ in range(7)]
    size = max(8, height // 6)

    def fn(t: float) -> np.ndarray:
        x0 = int(40 * t) % (big_w - width)
        img = (base[:, x0:x0 + width].astype(np.int16) + grain[int(t * 30) % 7]).clip(0, 255).astype(np.uint8)
        cx = int(width / 2 + 0.35 * width * math.sin(2 * math.pi * t) - size / 2)
        y = height // 2 - size // 2
        img[y:y + size, max(0, cx):cx + size] = (250, 240, 60)
        return img

    return fn


def make(path: Path, duration_s: float, width: int, height: int, fps: float = 30.0) -> Path:
    from videobgm.testing import synthetic_videos as synth
    if not path.exists():
        synth.write_video(path, bench_clip(width, height), duration_s=duration_s, fps=fps,
                          width=width, height=height)
    return path


def _child(path: str) -> None:
    from videobgm.features.analyze import extract_features
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = ru0.ru_utime + ru0.ru_stime
    main0 = time.thread_time()
    t0 = time.perf_counter()
    f = extract_features(path)
    wall = time.perf_counter() - t0
    main_cpu = time.thread_time() - main0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    rss_mb = ru.ru_maxrss / 1024.0
    cpu = ru.ru_utime + ru.ru_stime - cpu0
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "main_cpu_s": main_cpu, "rss_mb": rss_mb, "duration_s": f.duration_s,
                      "frames": int(f.frame_times_s.size), "tempo_bpm": f.tempo_bpm,
                      "size": f.meta["analysis_size"]}))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one 10 s 720p clip")
    p.add_argument("--dir", default=None, help="keep the clips here (default: a temporary folder)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        _child(a.child)
        return 0
    cases = [("10 s 1280x720 30 fps", 10, 1280, 720)] if a.quick else [
        ("60 s 1280x720 30 fps", 60, 1280, 720),
        ("60 s 640x360 30 fps", 60, 640, 360),
        ("600 s 640x360 30 fps", 600, 640, 360),
    ]
    tmp = tempfile.TemporaryDirectory() if a.dir is None else None
    folder = Path(a.dir or tmp.name)  # type: ignore[union-attr]
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for label, dur, w, h in cases:
        clip = make(folder / f"bench_{dur}s_{w}x{h}.mp4", dur, w, h)
        out = subprocess.run([sys.executable, __file__, "--child", str(clip)], check=True,
                             capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        mbit = clip.stat().st_size * 8 / dur / 1e6
        idle = max(r["main_cpu_s"], r["cpu_s"] / 2)
        rows.append((label, f"{mbit:.1f}", f"{r['wall_s']:.2f}", f"{r['cpu_s']:.2f}",
                     f"{r['main_cpu_s']:.2f}", f"{idle:.2f}",
                     f"{dur / r['wall_s']:.1f}x", f"{r['wall_s'] / dur * 60:.2f}", f"{r['rss_mb']:.0f}"))
    load = os.getloadavg()
    head = ("clip", "Mbit/s", "wall s", "CPU s", "main-thread CPU s", "idle 2-core lower bound s",
            "realtime", "wall s per min", "peak RSS MB")
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda r: "| " + " | ".join(str(x).ljust(n) for x, n in zip(r, widths)) + " |"  # noqa: E731
    print(line(head))
    print("|" + "|".join("-" * (n + 2) for n in widths) + "|")
    for r in rows:
        print(line(r))
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
