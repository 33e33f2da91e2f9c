"""Helpers shared by the benchmarks: synthetic clips, subprocess runs with peak RSS, tables."""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def moving_clip(path: Path, *, duration_s: float, width: int, height: int, fps: float = 30.0) -> Path:
    """A textured background with a square oscillating at 0.8 s period and a cut every 15 s."""
    from videobgm.testing import synthetic_videos as synth
    if path.exists():
        return path
    yy, xx = np.mgrid[0:height, 0:width]
    size = max(16, height // 8)

    def fn(t: float) -> np.ndarray:
        k = int(t // 15.0)
        base = ((xx // 32 + yy // 32 + k) % 2) * 40 + 40 + 30 * (k % 3)
        img = np.repeat(base[..., None], 3, axis=2).astype(np.uint8)
        amp = (0.2 + 0.25 * (1 + math.sin(t / 7.0))) * (width / 2 - size)
        x = int(width / 2 + amp * math.sin(2 * math.pi * t / 0.8) - size / 2)
        y = height // 2 - size // 2
        img[y:y + size, max(0, x):x + size] = (230, 200, 90)
        return img

    return synth.write_video(path, fn, duration_s=duration_s, fps=fps, width=width, height=height)


def run_with_rss(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run ``cmd``; return (wall seconds, peak RSS MiB of that child, stdout)."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()[-500:]}")
    return wall, _child_peak_rss_mib(r.stdout), r.stdout


def _child_peak_rss_mib(stdout: str) -> float:
    for line in stdout.splitlines()[::-1]:
        if line.startswith("PEAK_RSS_MIB "):
            return float(line.split()[1])
    return float("nan")


def print_peak_rss() -> None:
    """Print this process's peak RSS (call at the end of a child process)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"PEAK_RSS_MIB {kib / 1024:.1f}")


def table(rows: list[dict], cols: list[str]) -> str:
    """A Markdown table of ``rows`` (dicts) with columns ``cols``."""
    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(out)


def load_info() -> str:
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def child_json(stdout: str) -> dict:
    for line in stdout.splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    return {}


PY = sys.executable


def emit(text: str, data: object, md: str | None, json_path: str | None) -> None:
    """Print a bench's Markdown ``text`` and write it (``md``) and its numbers (``json_path``) where asked."""
    print(text)
    if md:
        Path(md).write_text(text + "\n", encoding="utf-8")
    if json_path:
        Path(json_path).write_text(json.dumps(data, indent=1), encoding="utf-8")
