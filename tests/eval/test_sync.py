"""eval/sync.py on hand-built features and scores with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from videobgm.eval.sync import accented_onset_times, format_table, spearman, sync_metrics
from videobgm.types import Features, Note, Score, Section, VideoInfo


def feats(duration: float, *, beats=(), strength=None, cuts=(), speed=None, fps: float = 10.0) -> Features:
    t = np.arange(0, duration, 1 / fps)
    sp = np.full_like(t, 5.0) if speed is None else speed(t)
    b = np.asarray(beats, float)
    return Features(
        video=VideoInfo(path="v.mp4", duration_s=duration, fps=30.0, width=64, height=64),
        frame_times_s=t, motion_speed=sp, saliency=np.zeros_like(t), visual_beat_times_s=b,
        visual_beat_strength=np.ones(b.size) if strength is None else np.asarray(strength, float),
        tempo_bpm=float("nan"), tempo_confidence=0.0, cut_times_s=np.asarray(cuts, float),
        brightness=np.zeros_like(t), saturation=np.zeros_like(t), warmth=np.zeros_like(t),
        hue_hist=np.zeros((t.size, 12)),
    )


def score_with_accents(n_bars: int, accent_steps: list[int], *, per_bar_onsets=None) -> Score:
    """120 bpm 4/4 (16th = 0.125 s): soft notes on every beat, loud notes on ``accent_steps``."""
    notes = {}
    for st in range(0, n_bars * 16, 4):
        notes[(st, "piano")] = Note(st, "piano", 48, 2, 60)
    for st in accent_steps:
        notes[(st, "melody")] = Note(st, "melody", 72, 2, 110)
    if per_bar_onsets is not None:
        for b, k in enumerate(per_bar_onsets):
            for i in range(k):
                notes[(b * 16 + i, "bridge")] = Note(b * 16 + i, "bridge", 60, 1, 60)
    return Score(notes=sorted(notes.values()), n_bars=n_bars, tempo_bpm=120.0)


def test_accent_definition() -> None:
    s = score_with_accents(2, [2, 10, 18])
    assert np.allclose(accented_onset_times(s), [0.25, 1.25, 2.25])
    flat = Score(notes=[Note(i, "melody", 60, 1, 110) for i in range(16)], n_bars=1)
    assert accented_onset_times(flat).size == 0  # one constant velocity: nothing stands out
    drums = Score(notes=[Note(0, "piano", 60, 1, 50), Note(4, "piano", 60, 1, 50),
                         Note(4, "drums", 36, 1, 127)], n_bars=1)
    assert accented_onset_times(drums).size == 0  # drums excluded


def test_perfect_and_shifted_alignment() -> None:
    acc = [2 + 8 * k for k in range(8)]  # every 1.0 s from 0.25 s
    s = score_with_accents(4, acc)
    beats = 0.25 + np.arange(8) * 1.0
    m = sync_metrics(feats(8.0, beats=beats), s)
    assert m["beat_alignment"] == pytest.approx(1.0)
    assert m["hit_rate"] == 1.0 and m["accent_precision"] == 1.0
    assert m["duration_error_s"] == pytest.approx(0.0)
    shifted = sync_metrics(feats(8.0, beats=beats + 0.1), s)
    assert shifted["beat_alignment"] == pytest.approx(math.exp(-2.0), rel=1e-6)  # d = 2 sigma
    assert shifted["hit_rate"] == 0.0
    near = sync_metrics(feats(8.0, beats=beats + 0.06), s)
    assert near["hit_rate"] == 1.0  # within 70 ms


def test_hit_rate_counts_only_strong_beats() -> None:
    s = score_with_accents(4, [2, 10])  # accents at 0.25 s and 1.25 s
    beats = [0.25, 1.25, 3.0, 5.0]
    m = sync_metrics(feats(8.0, beats=beats, strength=[1.0, 0.9, 0.1, 0.2]), s)
    assert m["n_strong_beats"] == 2 and m["hit_rate"] == 1.0
    assert m["beat_alignment"] == pytest.approx(0.5, abs=1e-6)  # all beats count in the BAS
    none = sync_metrics(feats(8.0, beats=beats), score_with_accents(4, []))
    assert none["hit_rate"] == 0.0 and none["beat_alignment"] == 0.0
    assert math.isnan(none["accent_precision"])
    assert math.isnan(sync_metrics(feats(8.0), s)["hit_rate"])


def test_density_motion_spearman() -> None:
    onsets = [1, 3, 5, 7, 9, 11]
    s = score_with_accents(6, [], per_bar_onsets=onsets)
    up = feats(12.0, speed=lambda t: 1.0 + t)
    down = feats(12.0, speed=lambda t: 20.0 - t)
    assert sync_metrics(up, s)["density_motion_spearman"] == pytest.approx(1.0)
    assert sync_metrics(down, s)["density_motion_spearman"] == pytest.approx(-1.0)
    assert math.isnan(sync_metrics(feats(12.0), s)["density_motion_spearman"])  # constant motion
    assert spearman(np.array([1, 2, 3, 4]), np.array([10, 20, 20, 40])) == pytest.approx(0.9486833)


def test_cut_phrase_alignment_with_and_without_plan() -> None:
    s = score_with_accents(8, [])  # 8 bars of 2 s
    f = feats(16.0, cuts=[2.0, 5.1, 7.6])

    class P:  # a plan needs only its sections here
        sections = [Section(0, 1, "a", 0.0, 2.0), Section(1, 3, "b", 2.0, 6.0), Section(3, 8, "c", 6.0, 16.0)]

    m = sync_metrics(f, s, plan=P())
    assert m["cut_phrase_alignment"] == pytest.approx(1 / 3)  # only 2.0; 5.1 is 0.9 s > a beat off
    assert m["phrase_source"] == "plan sections"
    d = {"sections": [{"start_s": 0.0}, {"start_s": 5.5}]}
    assert sync_metrics(f, s, plan=d)["cut_phrase_alignment"] == pytest.approx(1 / 3)
    m2 = sync_metrics(f, s)  # phrases every 4 bars: 8 s only -> 7.6 s is within a beat
    assert m2["cut_phrase_alignment"] == pytest.approx(1 / 3)
    assert math.isnan(sync_metrics(feats(16.0), s)["cut_phrase_alignment"])


def test_duration_error_and_midi_input(tmp_path) -> None:  # noqa: ANN001
    from videobgm.music.midi import write_midi

    s = score_with_accents(4, [2, 10, 18, 26])
    f = feats(8.03, beats=[0.25, 1.25, 2.25, 3.25])
    m = sync_metrics(f, s)
    assert m["duration_error_s"] == pytest.approx(0.03)
    assert sync_metrics(f, s, audio_duration_s=8.03)["duration_error_s"] == pytest.approx(0.0)
    path = tmp_path / "m.mid"
    write_midi(s, path)
    m2 = sync_metrics(f, path)
    for k in ("beat_alignment", "hit_rate", "accent_precision"):
        assert m2[k] == pytest.approx(m[k], abs=1e-6)
    table = format_table({"video": m, "baseline": m2})
    assert "| hit_rate (higher is better) | 1.000 | 1.000 |" in table


def test_dense_accents_are_still_measured() -> None:
    # 3 of every 4 beats accented: the accents are above the lower quartile of velocities
    acc = [4 * k for k in range(16) if k % 4 != 3]
    s = score_with_accents(4, acc)
    s.notes = [n for n in s.notes if n.track != "piano" or n.onset_16th % 16 == 12]
    assert accented_onset_times(s).size == len(acc)


def test_cli_eval_video(tmp_path, capsys) -> None:  # noqa: ANN001
    import json

    from videobgm.apps.cli.main import main
    from videobgm.music.midi import write_midi

    s = score_with_accents(4, [2, 10, 18, 26])
    f = feats(8.0, beats=[0.25, 1.25, 2.25, 3.25], cuts=[4.0])
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")  # --features given: the video is only named, not decoded
    (tmp_path / "f.json").write_text(json.dumps(f.to_dict()))
    from videobgm.config import PlanConfig
    from videobgm.plan.plan_json import plan_to_dict
    from videobgm.plan.planner import make_plan

    plan = make_plan(f, PlanConfig(tempo_bpm=120.0))  # a real plan.json (issue 16: load_plan)
    from videobgm.types import Section

    plan.sections = [Section(0, 2, "verse", 0.0, 4.0), Section(2, 4, "chorus", 4.0, 8.0)]
    assert np.allclose(plan.beat_times_s, s.beat_times())
    (tmp_path / "plan.json").write_text(json.dumps({"plan": plan_to_dict(plan)}))
    write_midi(s, tmp_path / "m.mid")
    rc = main(["eval", str(tmp_path / "m.mid"), "--video", str(video), "--features",
               str(tmp_path / "f.json"), "--plan", str(tmp_path / "plan.json"),
               "--json", str(tmp_path / "out.json")])
    out = capsys.readouterr().out
    assert rc == 0 and "hit_rate" in out
    m = json.loads((tmp_path / "out.json").read_text())
    assert m["hit_rate"] == 1.0 and m["cut_phrase_alignment"] == 1.0
    (tmp_path / "bad.json").write_text("{}")
    assert main(["eval", str(tmp_path / "m.mid"), "--video", str(video), "--plan",
                 str(tmp_path / "bad.json")]) == 2
    assert "not a plan.json" in capsys.readouterr().err


def test_plan_chord_accuracy() -> None:
    """Bar 0 plays C major, bar 1 G major (root in the bass): a plan asking for C then G is
    followed on every beat, one asking for G then C on none; without a plan the value is NaN."""
    notes = [Note(b * 16 + 4 * k, "piano", p, 4, 70) for b, chord in enumerate(((48, 64, 67), (43, 62, 71)))
             for k in range(4) for p in chord]
    s = Score(notes=sorted(notes), n_bars=2, tempo_bpm=120.0)

    def plan(roots):  # noqa: ANN001, ANN202
        return {"sections": [{"start_s": 0.0}], "controls": {"chords": [
            {"onset_16th": 16 * i, "root": r, "quality": "maj"} for i, r in enumerate(roots)]}}

    f = feats(4.0, beats=[0.5, 1.5])
    assert sync_metrics(f, s, plan=plan([0, 7]))["plan_chord_accuracy"] == 1.0
    assert sync_metrics(f, s, plan=plan([7, 0]))["plan_chord_accuracy"] == 0.0
    assert math.isnan(sync_metrics(f, s)["plan_chord_accuracy"])
    assert math.isnan(sync_metrics(f, s, plan={"sections": [{"start_s": 0.0}]})["plan_chord_accuracy"])
