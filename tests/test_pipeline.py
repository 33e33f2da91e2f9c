"""End to end: a synthetic video in, a scored video out, with the sync targets of issue 5.

Uses the ``tiny`` preset with an untrained model (controls are enforced by constrained decoding,
so rhythm/density sync must hold even without training) to keep the suite fast; one test uses
the packaged checkpoint when it is present.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from videobgm.config import PipelineConfig
from videobgm.pipeline import Pipeline
from videobgm.testing import synthetic_videos as synth

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


def _audio_stats(path: Path) -> tuple[float, float, float]:
    """(video duration s, audio duration s, audio RMS) of an MP4."""
    import av

    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vdur = float(vs.duration * vs.time_base) if vs.duration else float(c.duration / 1e6)
        chunks, sr = [], None
        for frame in c.decode(audio=0):
            sr = frame.sample_rate
            chunks.append(frame.to_ndarray().reshape(-1, frame.samples))
    x = np.concatenate(chunks, axis=1)
    return vdur, x.shape[1] / sr, float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def _varying_motion(period_s: float, speeds: list[float], seg_s: float):
    """A square oscillating with a fixed period whose amplitude (so speed) changes per segment."""
    w, h, size = 320, 240, 36

    def fn(t: float) -> np.ndarray:
        img = np.full((h, w, 3), 25, np.uint8)
        k = min(len(speeds) - 1, int(t // seg_s))
        amp = speeds[k] * (w / 2 - size)
        x = int(round(w / 2 + amp * math.sin(2 * math.pi * t / period_s) - size / 2))
        img[h // 2 - size // 2:h // 2 + size // 2, max(0, x):x + size] = 230
        return img

    return fn


@pytest.fixture(scope="module")
def tiny_pipe() -> Pipeline:
    return Pipeline(PipelineConfig.preset("tiny"), untrained=True)


@pytest.fixture(scope="module")
def varying_video(synth_dir: Path) -> dict:
    # 16 s, period 1.0 s (turns every 0.5 s), motion amplitude changing every 2 s, cut at 8 s
    speeds = [0.15, 0.8, 0.35, 0.95, 0.1, 0.6, 0.25, 0.85]
    motion = _varying_motion(1.0, speeds, 2.0)
    cut_fn = synth.hard_cut(cut_times_s=[8.0])

    def fn(t: float) -> np.ndarray:
        img = motion(t)
        if t >= 8.0:  # after the cut: different background colour and texture
            bg = cut_fn(t)
            mask = img > 100
            img = np.where(mask, img, bg)
        return img

    path = synth.write_video(synth_dir / "varying.mp4", fn, duration_s=16.0, fps=30.0,
                             audio_tone_hz=330.0)
    return {"path": path, "duration_s": 16.0, "cut_times_s": [8.0]}


def test_score_end_to_end(tiny_pipe: Pipeline, varying_video: dict, tmp_path: Path) -> None:
    out = tmp_path / "scored.mp4"
    res = tiny_pipe.run(varying_video["path"], out, midi=tmp_path / "m.mid",
                          wav=tmp_path / "m.wav", plan_json=tmp_path / "plan.json")
    vdur, adur, rms = _audio_stats(out)
    assert abs(vdur - varying_video["duration_s"]) < 0.05
    assert abs(adur - vdur) < 0.05
    assert rms > 1e-3  # audible music
    assert (tmp_path / "m.mid").stat().st_size > 100
    assert (tmp_path / "plan.json").read_text().lstrip().startswith("{")
    rec = json.loads((tmp_path / "plan.json").read_text())["render"]  # which bank, how mastered
    assert rec["bank"] in ("FluidR3_GM", "MuseScore General", "TimGM6mb") and rec["style"] == res.plan.style
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mid", "m.wav", "plan.json", "scored.mp4"]
    assert set(res.timings_s) >= {"features", "plan", "compose", "render", "mux"}


def test_sync_targets(tiny_pipe: Pipeline, varying_video: dict, tmp_path: Path) -> None:
    import wave

    from videobgm.eval.sync import sync_metrics

    wav = tmp_path / "m.wav"
    res = tiny_pipe.run(varying_video["path"], None, wav=wav)
    with wave.open(str(wav)) as w:
        audio_s = w.getnframes() / w.getframerate()
    m = sync_metrics(res.features, res.score, plan=res.plan, audio_duration_s=audio_s)
    assert len(res.features.cut_times_s) == 1 and abs(res.features.cut_times_s[0] - 8.0) < 0.05
    # issue 17: the cut gets a hit point (an accented onset) within 70 ms, not necessarily a section
    steps = res.score.step_times()
    rec = res.plan.cuts[0]
    assert rec["role"] in ("hit", "section") and abs(steps[rec["step"]] - 8.0) <= 0.07, rec
    acc = {n.onset_16th for n in res.score.notes if n.velocity >= 100}
    assert rec["step"] in acc
    # strong visual beats are velocity accents on the nearest 16th at the description's tempo
    # (93 bpm here: "no periodic motion"); the square's 0.27 s / 0.73 s turning pattern fits no
    # 16th grid within +-10 % of it, so fewer land within 70 ms than at the 120 bpm the planner
    # chose before issue 17 (1.0 then)
    assert m["hit_rate"] >= 0.6, m
    # density follows motion in every bar but the last (the held final tonic, rule notes only)
    from videobgm.eval.sync import spearman

    bars = res.plan.bar_times_s()[: res.plan.controls.ending_bar + 1]
    ft, sp = res.features.frame_times_s, res.features.motion_speed
    motion = [sp[(ft >= a) & (ft < b)].mean() for a, b in zip(bars[:-1], bars[1:])]
    spb = res.score.steps_per_bar
    onsets = np.bincount([n.onset_16th // spb for n in res.score.notes if n.track != "drums"],
                         minlength=res.plan.n_bars)[: len(motion)]
    rho = spearman(np.array(motion), onsets.astype(float))
    assert rho >= 0.7, (rho, m)
    assert m["duration_error_s"] <= 0.05, m
    # the untrained tiny model: chord-tone accompaniment and the rule bass alone give about 0.7
    assert m["plan_chord_accuracy"] >= 0.6, m


def test_same_seed_same_midi_bytes(tiny_pipe: Pipeline, square_video: dict, tmp_path: Path) -> None:
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    tiny_pipe.run(square_video["path"], None, midi=a)
    Pipeline(PipelineConfig.preset("tiny"), untrained=True).run(square_video["path"], None, midi=b)
    assert a.read_bytes() == b.read_bytes()
    cfg = PipelineConfig.preset("tiny")
    c = tmp_path / "c.mid"
    Pipeline(cfg.replace(sample=cfg.sample.replace(seed=7)), untrained=True).run(
        square_video["path"], None, midi=c)
    assert c.read_bytes() != a.read_bytes()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "videobgm", "-q", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("extra, needle", [
    (["--tempo", "-10"], "tempo"),
    (["--key", "H"], "key"),
    (["--instruments", "kazoo9000"], "instrument"),
    (["--density-scale", "0"], "density"),
])
def test_bad_options_one_line_exit_2(square_video: dict, tmp_path: Path, extra, needle) -> None:
    out = tmp_path / "o.mp4"
    r = _cli("score", str(square_video["path"]), "-o", str(out), "--preset", "tiny", "--untrained", *extra)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0].lower() and "Traceback" not in r.stderr
    assert not out.exists()


def test_output_equal_to_input_refused(square_video: dict, tmp_path: Path) -> None:
    src = tmp_path / "in.mp4"
    src.write_bytes(Path(square_video["path"]).read_bytes())
    before = src.read_bytes()
    r = _cli("score", str(src), "-o", str(src), "--preset", "tiny", "--untrained")
    assert r.returncode == 2 and "input" in r.stderr
    assert src.read_bytes() == before


def test_unwritable_output_dir(square_video: dict, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where a directory is expected: cannot be created, even as root
    r = _cli("score", str(square_video["path"]), "-o", str(blocker / "sub" / "o.mp4"), "--preset", "tiny",
             "--untrained")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_packaged_checkpoint_scores(square_video: dict, tmp_path: Path) -> None:
    from videobgm.compose import checkpoint
    try:
        checkpoint.load_checkpoint(None)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no packaged checkpoint: {exc}")
    pipe = Pipeline(PipelineConfig.preset("small"))
    res = pipe.run(square_video["path"], tmp_path / "o.mp4")
    _, adur, rms = _audio_stats(tmp_path / "o.mp4")
    assert rms > 1e-3 and abs(adur - square_video["duration_s"]) < 0.05
    assert len(res.score.notes) > 0


def test_bad_output_fails_before_analysis(square_video: dict, tmp_path: Path, monkeypatch) -> None:
    from videobgm.errors import OptionError

    def boom(*a, **k):  # noqa: ANN002, ANN003
        raise AssertionError("analysis must not start when an output cannot be written")

    pipe = Pipeline(PipelineConfig.preset("tiny"), untrained=True)
    monkeypatch.setattr(pipe, "analyze", boom)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OptionError, match="is a file"):
        pipe.run(square_video["path"], blocker / "o.mp4")
    with pytest.raises(OptionError, match="is a directory"):
        pipe.run(square_video["path"], None, wav=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_flute_bridge_plays_one_note_at_a_time(tiny_pipe: Pipeline) -> None:
    """The acoustic style's bridge is a flute: one note at a time (the untrained model stacks
    notes), ending by the next; the other bridge instruments keep their chords."""
    from videobgm.bridges.resolve import parse_description

    def bridge(prompt: str):
        res = tiny_pipe.compose_from_description(parse_description(prompt), 16.0)
        notes = sorted((n.onset_16th, n.onset_16th + n.duration_16th) for n in res.score.notes if n.track == "bridge")
        stacked = len(notes) - len({a for a, _ in notes})
        overlaps = sum(1 for (a, e), (b, _) in zip(notes, notes[1:]) if b > a and e > b)
        return res.plan.instruments.get("bridge"), len(notes), stacked, overlaps

    inst, n, stacked, overlaps = bridge("calm acoustic folk")
    assert inst == "flute" and n >= 8 and stacked == 0 and overlaps == 0
    inst, n, stacked, _ = bridge("calm acoustic folk with guitar, piano and strings")
    assert inst == "strings" and stacked > 0
