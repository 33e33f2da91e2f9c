"""Production sound, before and after (issue #20): 3 moods x 2 shared videos, rendered by the base
commit's renderer (TimGM6mb, one gain + peak limit) and by the current one (best bank,
performance, pedalboard mastering). Writes docs/results/audio.md.

    PYTHONPATH=src python bench/audio.py [--videos car-detection bottle-detection]
        [--moods calm happy epic] [--base f3ea7b7] [--out docs/results/audio.md]

Columns: integrated loudness (pyloudnorm) and its distance to the version's target, true peak
(4x oversampled), DC (largest channel mean), stereo width (side/mid energy), melody minus
accompaniment level in the melody's band while it plays (from the stems), energy share per
octave band (63 Hz .. 16 kHz) and render time against the music's length (mix + stems; and the
mix alone with FluidR3_GM, the acceptance's 10x realtime, after the bank is loaded).
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "videos"

_BEFORE = r"""
import pickle, sys, numpy as np
from videobgm.config import RenderConfig
from videobgm.audio.render import render_audio, write_stem_wavs, read_wav
job = pickle.load(open(sys.argv[1], "rb"))
cfg = RenderConfig()
mix = render_audio(job["score"], job["duration_s"], cfg)
paths = write_stem_wavs(job["score"], sys.argv[2], job["duration_s"], cfg)
stems = {p.stem: read_wav(p)[0] for p in paths}
np.savez(sys.argv[3], mix=mix, **{"stem_" + k: v for k, v in stems.items()})
"""


def compose_jobs(videos: list[str], moods: list[str], work: Path) -> list[Path]:
    from videobgm.config import PipelineConfig
    from videobgm.pipeline import Pipeline

    jobs = []
    base = Pipeline(PipelineConfig())
    for v in videos:
        path = VIDEOS / f"{v}.mp4"
        features = None if all((work / f"{v}-{m}.pkl").is_file() for m in moods) else base.analyze(path)
        for mood in moods:
            job = work / f"{v}-{mood}.pkl"
            if job.is_file():  # composed by an earlier run with the same --work
                jobs.append(job)
                continue
            cfg = PipelineConfig()
            cfg = cfg.replace(plan=cfg.plan.replace(mood=mood))
            pipe = Pipeline(cfg)
            if base.model_bundle is not None:
                pipe.use_model(*base.model_bundle)
            plan = pipe.plan(features)
            score = pipe.compose(plan)
            if base.model_bundle is None:
                base.use_model(*pipe.model_bundle)
            with open(job, "wb") as f:
                pickle.dump({"video": v, "mood": mood, "score": score, "plan": plan,
                             "duration_s": plan.duration_s}, f)
            print(f"composed {v} {mood}: {plan.style}, {len(score.notes)} notes, {plan.duration_s:.1f} s",
                  file=sys.stderr)
            jobs.append(job)
    return jobs


def measure(mix: np.ndarray, stems: dict[str, np.ndarray], sr: int, melody_pitches: list[int]) -> dict:
    from videobgm.audio.meters import (
        loudness_lufs,
        melody_band_hz,
        melody_over_accompaniment_db,
        octave_band_shares,
        side_mid_ratio,
        true_peak_dbtp,
    )

    total = sum(x.astype(np.float64) for x in stems.values())
    e_mix = float(np.sum(mix.astype(np.float64) ** 2))
    return {
        "sum_db": 10 * np.log10(float(np.sum(total ** 2)) / e_mix),
        "resid_db": 10 * np.log10(float(np.sum((total - mix) ** 2)) / e_mix + 1e-30),
        "lufs": loudness_lufs(mix, sr),
        "tp": true_peak_dbtp(mix, sr),
        "dc": float(np.abs(mix.astype(np.float64).mean(axis=0)).max()),
        "width": side_mid_ratio(mix),
        "mel_acc": melody_over_accompaniment_db(stems, sr, melody_band_hz(melody_pitches)),
        "bands": octave_band_shares(mix, sr),
        "stems": sorted(stems),
    }


def run_before(job: Path, base_src: Path, work: Path) -> dict:
    out = work / f"{job.stem}-before.npz"
    stems_dir = work / f"{job.stem}-before-stems"
    env = {**os.environ, "PYTHONPATH": str(base_src)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", _BEFORE, str(job), str(stems_dir), str(out)], check=True, env=env)
    wall = time.perf_counter() - t0  # includes the interpreter start and the stem renders
    d = np.load(out)
    return {"mix": d["mix"], "stems": {k[5:]: d[k] for k in d.files if k.startswith("stem_")}, "wall": wall}


def bank_velocity_check() -> list[str]:
    """Peak level (dBFS) of a GM piano C4 at velocities 40 / 90 / 127 in each installed bank
    (tinysoundfont): a bank whose velocity layers play wrongly shows it here."""
    import tinysoundfont

    from videobgm.audio.soundfont import BANKS, installed_soundfont

    lines = []
    for name, label, _ in BANKS + (("timgm6mb", "TimGM6mb", ()),):
        path = installed_soundfont(name)
        if path is None:
            continue
        synth = tinysoundfont.Synth(samplerate=44100)
        sfid = synth.sfload(str(path))
        synth.program_select(0, sfid, 0, 0)
        peaks = []
        for vel in (40, 90, 127):
            synth.sounds_off()
            synth.generate_simple(4410)
            synth.noteon(0, 60, vel)
            x = np.frombuffer(synth.generate_simple(22050), dtype=np.float32)
            peaks.append(20 * np.log10(float(np.abs(x).max()) + 1e-12))
            synth.noteoff(0, 60)
        lines.append(f"| {label} | {path.name} | " + " | ".join(f"{p:.0f}" for p in peaks) + " |")
    return lines


def fmt_bands(b: dict) -> str:
    return " ".join(f"{round(100 * v):d}" for v in b.values())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", nargs="+", default=["car-detection", "bottle-detection"])
    p.add_argument("--moods", nargs="+", default=["calm", "happy", "epic"])
    p.add_argument("--base", default="f3ea7b7", help="commit whose renderer is 'before'")
    p.add_argument("--out", default=str(ROOT / "docs" / "results" / "audio.md"))
    p.add_argument("--work", default=None, help="work folder (default: a new temporary one); "
                   "pieces composed there by an earlier run are reused")
    a = p.parse_args(argv)
    missing = [v for v in a.videos if not (VIDEOS / f"{v}.mp4").is_file()]
    if missing:
        print(f"bench/audio: videos not found in {VIDEOS}: {', '.join(missing)}", file=sys.stderr)
        return 2
    from videobgm.audio.render import render
    from videobgm.audio.soundfont import choose_soundfont, loaded_synth
    from videobgm.config import RenderConfig

    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="videobgm-audio-"))
    work.mkdir(parents=True, exist_ok=True)
    base_src = Path(tempfile.mkdtemp(prefix="base-", dir=work))
    subprocess.run(f"git -C {ROOT} archive {a.base} src | tar -x -C {base_src}", shell=True, check=True)
    base_src = base_src / "src"
    jobs = compose_jobs(a.videos, a.moods, work)
    cfg = RenderConfig()
    bank = choose_soundfont(cfg)
    rows = []
    for job in jobs:
        d = pickle.load(open(job, "rb"))
        score, plan, dur = d["score"], d["plan"], d["duration_s"]
        music_s = min(dur, float(score.beat_times()[-1]))
        pitches = [n.pitch for n in score.notes if n.track == "melody"]
        before = run_before(job, base_src, work)
        mb = measure(before["mix"], before["stems"], cfg.sample_rate, pitches)
        loaded_synth.cache_clear()
        t0 = time.perf_counter()
        r = render(score, dur, cfg, plan=plan, stems=True)
        t_after = time.perf_counter() - t0
        ma = measure(r.mix, r.stems, cfg.sample_rate, pitches)
        fl = RenderConfig(soundfont="fluidr3")
        render(score, 1.0, fl, plan=plan)  # load the bank once (as a server or batch worker does)
        load1 = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        render(score, dur, fl, plan=plan)
        t_fluid, c_fluid = time.perf_counter() - t0, time.process_time() - c0
        rows.append({"job": d, "before": mb, "after": ma, "t_before": before["wall"], "t_after": t_after,
                     "t_fluid": t_fluid, "c_fluid": c_fluid, "load": load1, "music_s": music_s, "style": plan.style,
                     "gains": r.info.get("gains_db"), "limiter": r.info.get("limiter_max_db"),
                     "comp": r.info.get("compressor_max_db")})
        print(f"{job.stem}: before {mb['lufs']:.2f} LUFS, after {ma['lufs']:.2f} LUFS, "
              f"mel/acc {mb['mel_acc']:.1f} -> {ma['mel_acc']:.1f} dB, FluidR3 mix {dur / t_fluid:.1f}x realtime "
              f"(load {load1:.1f})", file=sys.stderr)
    write_report(Path(a.out), rows, bank.label, cfg, bank_velocity_check())
    print(f"wrote {a.out}")
    return 0


def write_report(path: Path, rows: list[dict], bank: str, cfg, banks: list[str]) -> None:  # noqa: ANN001
    lines = [
        "# Production sound: before and after (issue #20)",
        "",
        "`PYTHONPATH=src python bench/audio.py` (small packaged model, seed 0; 2 shared videos x 3 moods).",
        f"Before: the base commit's renderer (TimGM6mb, target -16 LUFS by one gain, peak <= -1 dBFS). "
        f"After: {bank} (the best bank installed here), per-style performance, pedalboard mastering, "
        f"target {cfg.target_lufs:g} LUFS, true peak <= {cfg.true_peak_dbtp:g} dBTP.",
        "Machine: 2 cores shared by six engineers; the load average (1 min) is given with each timing.",
        "Stems: before, the 16-bit stem WAVs of `write_stem_wavs`; after, the float stems of "
        "`render(..., stems=True)` (what `--stems` writes, before 16-bit rounding).",
        "",
        "| video | mood / style | version | LUFS (target) | true peak dBTP | DC | side/mid | melody - accomp. dB | stems sum - mix dB (residual) | octave shares % (63 Hz .. 16 kHz) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        j = r["job"]
        for ver, m, target in (("before", r["before"], -16.0), ("after", r["after"], cfg.target_lufs)):
            lines.append(
                f"| {j['video']} | {j['mood']} / {r['style']} | {ver} | {m['lufs']:.2f} ({target:+.1f}: "
                f"{m['lufs'] - target:+.2f}) | {m['tp']:.2f} | {m['dc']:.1e} | {m['width']:.3f} | "
                f"{m['mel_acc']:.1f} | {m['sum_db']:+.2f} ({m['resid_db']:.0f}) | {fmt_bands(m['bands'])} |")
    lines += [
        "",
        "Render time (music length / seconds; the machine's 1-min load average during the FluidR3 run;",
        "CPU = this process's CPU seconds, what an idle 2-core machine would take):",
        "",
        "| video | mood | music s | before: mix + stems (new process, TimGM6mb) | after: mix + stems, "
        f"{bank} incl. loading | after: mix only, FluidR3_GM loaded: wall (CPU) | load avg | gains dB | compressor / limiter max dB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        j = r["job"]
        d = j["duration_s"]
        lines.append(
            f"| {j['video']} | {j['mood']} | {d:.1f} | {r['t_before']:.1f} s ({d / r['t_before']:.1f}x) | "
            f"{r['t_after']:.1f} s ({d / r['t_after']:.1f}x) | {r['t_fluid']:.2f} s ({d / r['t_fluid']:.1f}x; "
            f"CPU {r['c_fluid']:.2f} s, {d / r['c_fluid']:.1f}x) | "
            f"{r['load']:.1f} | {r['gains']} | {abs(r['comp']):.1f} / {abs(r['limiter']):.1f} |")
    lines += [
        "",
        "Why FluidR3_GM comes before MuseScore General with tinysoundfont: peak level (dBFS) of the",
        "GM piano (program 0), C4, 0.5 s, at three velocities (louder must mean higher velocity):",
        "",
        "| bank | file | velocity 40 | 90 | 127 |",
        "|---|---|---|---|---|",
        *banks,
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
