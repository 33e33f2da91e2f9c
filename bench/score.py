"""Benchmark: score a video end to end, with a per-stage breakdown.

Cases: a synthetic 60 s 720p30 clip (target: <= 20 s on 2 cores) and a 10-minute clip
(target: peak RSS < 2.5 GB). Each case runs in its own process so peak RSS is per case.

    python bench/score.py [--minutes 10] [--untrained] [--out docs/results/score.md]

``--long``: flat memory with length (issue 13 part 5). A synthetic clip of ``--hours`` (2) at
64x36, ``--fps`` (2) frames per second, is scored stage by stage in one child process, with an RSS
sampler thread giving the peak of every stage (target: <= 1 GB in all). Composition runs on the
first ``--compose-minutes`` (10) of the plan's bars (the sampler's cost is per bar; its rate and
the estimate for the whole length are printed; ``--compose-minutes 0`` composes everything) and
the composed bars are repeated to the full length for MIDI, render (streamed), WAV and mux.
Writes docs/results/score_long.md.

    python bench/score.py --long [--hours 2] [--fps 2] [--compose-minutes 10]
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
    res = pipe.run(video, out)
    timings = {"load_model": load_s, **res.timings_s}
    print(json.dumps({"timings": timings, "n_bars": res.plan.n_bars, "notes": len(res.score.notes)}))
    _util.print_peak_rss()


class _RssSampler:
    """Peak RSS (MiB) per named stage, from /proc/self/statm every 20 ms."""

    def __init__(self) -> None:
        import os
        import threading

        self.page = os.sysconf("SC_PAGE_SIZE") / 2**20
        self.stage, self.peaks, self.stop = "start", {}, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _rss(self) -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def _run(self) -> None:
        while not self.stop.wait(0.02):
            self.note()

    def note(self) -> None:
        r = self._rss()
        self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), r)

    def enter(self, stage: str) -> None:
        self.note()
        self.stage = stage
        self.note()


def _tile(score, n_bars_done: int):  # noqa: ANN001, ANN202
    """``score``'s first ``n_bars_done`` bars repeated to its full length."""
    import dataclasses

    spb = score.steps_per_bar
    period, end = n_bars_done * spb, score.n_steps
    base = [n for n in score.notes if n.onset_16th < period]
    notes = []
    for off in range(0, end, period):
        for n in base:
            on = n.onset_16th + off
            if on < end:
                notes.append(dataclasses.replace(n, onset_16th=on, duration_16th=max(1, min(n.duration_16th, end - on))))
    return dataclasses.replace(score, notes=sorted(notes))


def long_child(video: str, compose_minutes: float, untrained: bool, compose_only: bool = False) -> None:
    import resource
    import time

    rss = _RssSampler()
    t_import = time.perf_counter()
    from videobgm.audio import mux as mux_mod
    from videobgm.audio import render as render_mod
    from videobgm.config import PipelineConfig
    from videobgm.music import midi as midi_mod
    from videobgm.pipeline import Pipeline
    from videobgm.plan.planner import plan_render_config
    from videobgm.types import Score

    rows, extra = {}, {}
    out = Path(video).parent
    cfg = PipelineConfig.preset("small")

    def stage(name: str, fn):  # noqa: ANN001, ANN202
        rss.enter(name)
        t0 = time.perf_counter()
        value = fn()
        rss.note()
        rows[name] = time.perf_counter() - t0
        return value

    rss.enter("imports")
    rows["imports"] = time.perf_counter() - t_import
    pipe = Pipeline(cfg, untrained=untrained)
    stage("load_model", pipe.load_model)
    feats = stage("features", lambda: pipe.analyze(video))
    plan = stage("plan", lambda: pipe.plan(feats, description=pipe.describe(feats)))
    total_bars = plan.n_bars
    k = total_bars if compose_minutes <= 0 else max(1, min(total_bars, int(round(
        compose_minutes * 60 / plan.duration_s * total_bars))))

    def compose():  # noqa: ANN202
        if k >= total_bars:
            return pipe.compose(plan)
        empty = Score(notes=[], n_bars=plan.n_bars, beats_per_bar=plan.controls.beats_per_bar,
                      tempo_bpm=plan.tempo_bpm)
        return pipe.compose(plan, keep=empty, regenerate_bars=(0, k))

    score = stage("compose", compose)
    c_s = rows["compose"]
    extra.update(bars_total=total_bars, bars_composed=k, compose_bars_per_s=k / c_s,
                 compose_notes_per_s=sum(n.onset_16th < k * score.steps_per_bar for n in score.notes) / c_s,
                 compose_full_estimate_s=total_bars / (k / c_s))
    if compose_only:
        rss.stop.set()
        rss.note()
        print(json.dumps({"seconds": rows, "peak_mib": rss.peaks, "duration_s": plan.duration_s, **extra}))
        _util.print_peak_rss()
        return
    if k < total_bars:
        score = stage("tile", lambda: _tile(score, k))
    extra["notes"] = len(score.notes)
    stage("midi", lambda: midi_mod.write_midi(score, out / "long.mid", cfg.midi))
    rcfg = plan_render_config(plan, cfg.render)
    rendered = stage("render", lambda: render_mod.render(score, plan.duration_s, rcfg, plan=plan))
    extra["streamed"] = rendered.info.get("streamed")
    extra["loudness_lufs"] = rendered.info.get("loudness_lufs")
    stage("wav", lambda: render_mod.write_wav(rendered.mix, cfg.render.sample_rate, out / "long.wav"))
    stage("mux", lambda: mux_mod.mux(video, rendered.mix, cfg.render.sample_rate, out / "long.scored.mp4",
                                     cfg.mux, duration_s=plan.duration_s))
    rss.stop.set()
    rss.note()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": rows, "peak_mib": rss.peaks, "ru_maxrss_mib": peak,
                      "duration_s": plan.duration_s, **extra}))
    _util.print_peak_rss()


def long_main(a: argparse.Namespace) -> None:
    import os

    tmp = Path(tempfile.mkdtemp(prefix="videobgm-long-"))
    dur = a.hours * 3600
    print(f"writing a {a.hours:g} h 64x36 {a.fps:g} fps clip ...", file=sys.stderr)
    video = _util.moving_clip(tmp / "long.mp4", duration_s=dur, width=64, height=36, fps=a.fps)
    cmd = [_util.PY, __file__, "--long-child", str(video), "--compose-minutes", str(a.compose_minutes)]
    cmd += ["--untrained"] if a.untrained else []
    cmd += ["--compose-only"] if a.compose_only else []
    try:
        wall, peak, stdout = _util.run_with_rss(cmd)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)  # gigabytes of WAV and video
    info = _util.child_json(stdout)
    sec, mib = info.get("seconds", {}), info.get("peak_mib", {})
    order = ["imports", "load_model", "features", "plan", "compose", "tile", "midi", "render", "wav", "mux"]
    rows = [{"stage": s, "seconds": sec[s], "peak RSS MiB": mib.get(s, float("nan"))} for s in order if s in sec]
    rows.append({"stage": "total (ru_maxrss)", "seconds": wall, "peak RSS MiB": peak})
    ok = peak <= 1024
    est = info.get("compose_full_estimate_s", float("nan"))
    text = (f"# videobgm score, {a.hours:g}-hour video: memory by stage\n\n"
            f"`python bench/score.py --long --hours {a.hours:g} --fps {a.fps:g} --compose-minutes "
            f"{a.compose_minutes:g}{' --compose-only' if a.compose_only else ''}` ({_util.load_info()}, {os.cpu_count()} cores, model: "
            f"{'untrained small' if a.untrained else 'packaged small'}).\n\n"
            f"Synthetic {a.hours:g} h clip, 64x36 at {a.fps:g} fps (a square oscillating at 0.8 s, a cut "
            f"every 15 s). Peak RSS per stage from a 20 ms sampler of /proc/self/statm; total from "
            f"getrusage (ru_maxrss).\n\n"
            + _util.table(rows, ["stage", "seconds", "peak RSS MiB"])
            + f"\n\n**Peak RSS {peak:.0f} MiB: {'meets' if ok else 'misses'} the <= 1 GB (1024 MiB) target.**\n\n"
            f"- Composition: {info.get('bars_composed')} of {info.get('bars_total')} bars composed "
            f"({info.get('compose_bars_per_s', float('nan')):.2f} bars/s, "
            f"{info.get('compose_notes_per_s', float('nan')):.1f} notes/s); the whole length would take "
            f"about {est / 60:.0f} min at that rate"
            + (" (composed in full here)." if info.get("bars_composed") == info.get("bars_total") else
               "; the composed bars are repeated to the full length for MIDI, render and mux.")
            + (f"\n- Render streamed (chunks on disk): {info.get('streamed')}; loudness "
               f"{info.get('loudness_lufs')} LUFS; notes rendered: {info.get('notes')}.\n"
               if not a.compose_only else "\n- Stopped after composition (--compose-only).\n"))
    print(text)
    out = Path(a.out or "docs/results/score_long.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the long clip")
    ap.add_argument("--untrained", action="store_true", help="untrained small model (no checkpoint)")
    ap.add_argument("--out", default=None, help="also write the table to this Markdown file (docs/results/score.md)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--long", action="store_true", help="the flat-memory case: a long low-resolution clip")
    ap.add_argument("--hours", type=float, default=2.0, help="--long: clip length in hours")
    ap.add_argument("--fps", type=float, default=2.0, help="--long: frame rate of the clip")
    ap.add_argument("--compose-minutes", type=float, default=10.0,
                    help="--long: compose this many minutes of bars (0: all), repeated to the length")
    ap.add_argument("--compose-only", action="store_true", help="--long: stop after composition")
    ap.add_argument("--long-child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.long_child:
        long_child(a.long_child, a.compose_minutes, a.untrained, a.compose_only)
        return
    if a.long:
        long_main(a)
        return
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
