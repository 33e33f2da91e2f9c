"""Issue 16: one musical mind -- the description drives every score, and what is read is what plays.

The matrix: 4 synthetic videos x {no options, --mood, --tempo, --instruments, an edited
description JSON, free text}. For each cell the description that ``videobgm describe`` prints
(and writes with ``-o``) for the same inputs, the plan the score path makes, and the description
``plan.json`` stores agree on mood, style, key, mode, instruments and tempo (+-3 %).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from videobgm.config import PipelineConfig
from videobgm.music import lexicon, theory
from videobgm.schema import read_features

W, H, FPS = 160, 120, 15.0

# the option columns of the matrix: CLI arguments (the same for describe and score)
OPTIONS = {
    "none": [],
    "mood": ["--mood", "tense"],
    "tempo": ["--tempo", "97"],
    "instruments": ["--instruments", "cello,flute,drums"],
    "edited": None,  # --description edited.json (made from describe -o, then edited)
    "text": ["--description", "happy folk guitar, 126 bpm, E major"],
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Four short low-resolution videos with different answers (pulse, cuts, pan, brightening)."""
    from videobgm.testing import synthetic_videos as synth
    d = tmp_path_factory.mktemp("onemind")
    kw = {"width": W, "height": H}
    return {
        "square": synth.write_video(d / "square.mp4", synth.oscillating_square(period_s=1.0, **kw),
                                    duration_s=6.0, fps=FPS, **kw),
        "cuts": synth.write_video(d / "cuts.mp4", synth.hard_cut(cut_times_s=[2.0, 4.0], **kw),
                                  duration_s=6.0, fps=FPS, **kw),
        "pan": synth.write_video(d / "pan.mp4", synth.smooth_pan(speed_px_per_s=40.0, **kw),
                                 duration_s=6.0, fps=FPS, **kw),
        "ramp": synth.write_video(d / "ramp.mp4", synth.color_ramp(duration_s=6.0, **kw),
                                  duration_s=6.0, fps=FPS, **kw),
    }


@pytest.fixture(scope="module")
def features_json(videos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each video analysed once (``videobgm analyze -o``); describe reads the same features."""
    from videobgm.apps.cli.main import main

    d = tmp_path_factory.mktemp("onemind_feats")
    out = {}
    for name, v in videos.items():
        out[name] = d / f"{name}.features.json"
        assert main(["-q", "analyze", str(v), "-o", str(out[name]), "--preset", "tiny"]) == 0
    return out


def _edited(features: Path, tmp: Path) -> Path:
    """``describe -o`` then a person's edit: another mood, key, tempo and instruments."""
    from videobgm.apps.cli.main import main

    raw = tmp / f"{features.stem}.desc.json"
    assert main(["-q", "describe", str(features), "-o", str(raw), "--preset", "tiny"]) == 0
    d = json.loads(raw.read_text())
    d.update(mood="sad", key="F#", mode="minor", tempo_bpm=68.0, style="cinematic",
             instruments=["strings", "piano", "cello"])
    edited = tmp / f"{features.stem}.edited.json"
    edited.write_text(json.dumps(d))
    return edited


def _args(col: str, features: Path, tmp: Path) -> list[str]:
    return ["--description", str(_edited(features, tmp))] if col == "edited" else list(OPTIONS[col])


def _described(features: Path, args: list[str], out: Path) -> dict:
    from videobgm.apps.cli.main import main

    assert main(["-q", "describe", str(features), "-o", str(out), "--preset", "tiny", *args]) == 0
    return json.loads(out.read_text())


def _planned(features: Path, args: list[str], plan_json: Path):
    """The score path up to the plan (analysis -> description -> plan) and its plan.json record."""
    import argparse

    from videobgm.apps.cli.options import config_from_args
    from videobgm.bridges.resolve import parse_description
    from videobgm.io import write_json
    from videobgm.pipeline import Pipeline
    from videobgm.schema import load_json
    from videobgm.types import Result

    ns = argparse.Namespace(preset="tiny", description=None, tempo=None, key=None, mode=None,
                            mood=None, style=None, instruments=None)
    it = iter(args)
    for a in it:
        setattr(ns, a.lstrip("-").replace("-", "_"), next(it))
    ns.tempo = float(ns.tempo) if ns.tempo is not None else None
    pipe = Pipeline(config_from_args(ns))
    feats = read_features(load_json(features, "features"))
    edit = parse_description(ns.description) if ns.description else None
    desc = pipe.describe(feats, edit)
    plan = pipe.plan(feats, description=desc, resolved=True)
    write_json(plan_json, pipe.plan_record(Result(features=feats, plan=plan, score=None,
                                                   description=plan.description)))
    return plan


def _agree(desc: dict, plan, stored: dict, where: str) -> None:
    from videobgm.plan.plan_json import load_plan

    names = lexicon.track_instruments(plan.instruments)
    for d, what in ((desc, "describe"), (stored, "plan.json")):
        assert d["mood"] == plan.mood, (where, what, d["mood"], plan.mood)
        assert d["style"] == plan.style, (where, what)
        assert theory.parse_key(d["key"]) == plan.controls.key_tonic, (where, what)
        assert d["mode"] == plan.controls.mode, (where, what)
        assert set(d["instruments"]) == set(names), (where, what, d["instruments"], names)
        assert abs(plan.tempo_bpm / d["tempo_bpm"] - 1) <= 0.03, (where, what, d["tempo_bpm"], plan.tempo_bpm)
    # what plan.json stores is exactly what was played
    assert stored["tempo_bpm"] == pytest.approx(round(plan.tempo_bpm, 1))
    assert sorted(stored["instruments"]) == sorted(names)  # each instrument once, none more
    assert stored["text"].startswith(f"{plan.mood[0].upper()}{plan.mood[1:]} {plan.style} music in")
    assert load_plan(where_json := Path(stored["_path"])).controls.key_tonic == plan.controls.key_tonic, where_json


@pytest.mark.parametrize("col", list(OPTIONS))
def test_matrix_describe_plan_and_plan_json_agree(col: str, features_json: dict[str, Path],
                                                   tmp_path: Path) -> None:
    for name, feats in features_json.items():
        args = _args(col, feats, tmp_path)
        desc = _described(feats, args, tmp_path / f"{name}.{col}.desc.json")
        plan = _planned(feats, args, tmp_path / f"{name}.{col}.plan.json")
        record = json.loads((tmp_path / f"{name}.{col}.plan.json").read_text())
        stored = {**record["description"], "_path": str(tmp_path / f"{name}.{col}.plan.json")}
        _agree(desc, plan, stored, f"{name}/{col}")
        # the column's edit is what plays
        if col == "mood":
            assert plan.mood == "tense" and plan.controls.mode == "minor"
            assert "user option" in record["description"]["reasons"]["mood"]
        elif col == "tempo":
            assert abs(plan.tempo_bpm / 97 - 1) <= 0.03
        elif col == "instruments":
            assert set(plan.instruments.values()) == {"cello", "flute", "drums"}
        elif col == "edited":
            assert (plan.mood, plan.controls.key_tonic, plan.controls.mode) == ("sad", 6, "minor")
            _tempo_kept_or_explained(plan, 68)
        elif col == "text":
            assert (plan.mood, plan.style, plan.controls.key_tonic, plan.controls.mode) == \
                ("happy", "acoustic", 4, "major")
            _tempo_kept_or_explained(plan, 126)
            assert "guitar" in plan.instruments.values()


def _tempo_kept_or_explained(plan, asked: float) -> None:
    """An edited / text tempo is kept (+-3 %) or the description says the planner changed it:
    a 6 s video holds a whole number of bars, so 126 bpm may become 120 (3 bars)."""
    if abs(plan.tempo_bpm / asked - 1) > 0.03:
        assert f"planner: {asked:g} -> {plan.description.tempo_bpm:g} bpm" in plan.description.reasons["tempo"]


def test_videos_get_different_descriptions(features_json: dict[str, Path], tmp_path: Path) -> None:
    """The matrix is not trivially uniform: the four videos are described differently."""
    seen = {(d["mood"], d["key"], d["mode"], round(d["tempo_bpm"]))
            for d in (_described(f, [], tmp_path / f"{n}.json") for n, f in features_json.items())}
    assert len(seen) >= 3, seen


def test_planner_writes_its_tempo_back(features_json: dict[str, Path], tmp_path: Path) -> None:
    """Where the bar grid moves the tempo, the description says the final value and why."""
    plan = _planned(features_json["cuts"], ["--description", "calm piano, 80 bpm"], tmp_path / "p.json")
    d = plan.description
    assert d.tempo_bpm == pytest.approx(round(plan.tempo_bpm, 1))
    if abs(plan.tempo_bpm - 80.0) >= 0.05:
        assert "planner: 80 ->" in d.reasons["tempo"]
    assert f"{d.tempo_bpm:.0f} bpm" in d.text


def test_score_cli_plan_json_is_what_plays(videos: dict[str, Path], tmp_path: Path) -> None:
    """The real ``score`` command (tiny preset, untrained model): plan.json's description equals the
    plan it stores and the MIDI's tempo; ``describe`` with the same option prints the same."""
    pytest.importorskip("torch")
    import torch

    from videobgm.apps.cli.main import main
    from videobgm.music.midi import read_midi
    from videobgm.plan.plan_json import load_plan

    torch.set_num_threads(1)
    v = videos["cuts"]
    plan_json, mid = tmp_path / "plan.json", tmp_path / "music.mid"
    assert main(["-q", "score", str(v), "-o", str(tmp_path / "out.mp4"), "--midi", str(mid),
                 "--plan", str(plan_json), "--mood", "epic", "--preset", "tiny", "--untrained"]) == 0
    plan = load_plan(plan_json)
    desc = _described_video(v, ["--mood", "epic"], tmp_path / "d.json")
    _agree(desc, plan, {**plan.description.to_dict(), "_path": str(plan_json)}, "score-cli")
    assert read_midi(mid).tempo_bpm == pytest.approx(plan.tempo_bpm, rel=0.03)


def _described_video(video: Path, args: list[str], out: Path) -> dict:
    from videobgm.apps.cli.main import main

    assert main(["-q", "describe", str(video), "-o", str(out), "--preset", "tiny", *args]) == 0
    return json.loads(out.read_text())


def test_plan_round_trip_and_regeneration_record(features_json: dict[str, Path], tmp_path: Path) -> None:
    from videobgm.plan.plan_json import load_plan, plan_from_dict, plan_to_dict

    plan = _planned(features_json["square"], [], tmp_path / "plan.json")
    back = plan_from_dict(plan_to_dict(plan))
    assert plan_to_dict(back) == plan_to_dict(plan)
    assert np.array_equal(back.controls.accent_steps, plan.controls.accent_steps)
    loaded = load_plan(tmp_path / "plan.json")
    assert plan_to_dict(loaded) == plan_to_dict(plan)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"plan": {"tempo_bpm": 90}}))
    from videobgm.errors import InputError

    with pytest.raises(InputError, match="not a plan.json"):
        load_plan(bad)


def test_regeneration_is_recorded_in_plan_json(videos: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import torch

    from videobgm.pipeline import Pipeline
    from videobgm.plan.plan_json import load_plan

    torch.set_num_threads(1)
    pipe = Pipeline(PipelineConfig.preset("tiny"), untrained=True)
    res = pipe.run(videos["pan"], None, midi=tmp_path / "a.mid")
    pipe.regenerate(res, bars=(0, 1), seed=7, midi=tmp_path / "b.mid", plan_json=tmp_path / "p.json")
    assert load_plan(tmp_path / "p.json").regenerations == [{"bars": [0, 1], "seed": 7}]


def test_one_tempo_range_and_one_scale_range() -> None:
    """The CLI, the planner and the prompt refuse the same values with the lexicon's ranges."""
    import argparse

    from videobgm.apps.cli.options import config_from_args
    from videobgm.bridges.prompt import parse_prompt
    from videobgm.config import PlanConfig
    from videobgm.errors import OptionError
    from videobgm.plan.planner import validate_config

    lo, hi = lexicon.TEMPO_LIMITS_BPM
    base = {"preset": "tiny"}
    for bad in (lo - 1, hi + 1):
        with pytest.raises(OptionError, match=f"between {lo:g} and {hi:g}"):
            config_from_args(argparse.Namespace(**base, tempo=bad))
        with pytest.raises(OptionError, match=f"between {lo:g} and {hi:g}"):
            validate_config(PlanConfig(tempo_bpm=bad))
    with pytest.raises(OptionError, match=f"{lo:g}..{hi:g}"):
        parse_prompt(f"calm piano {hi + 10:g} bpm", use_embeddings=False)
    top = lexicon.SCALE_RANGE[1]
    config_from_args(argparse.Namespace(**base, density_scale=top))  # the top is accepted by both
    validate_config(PlanConfig(density_scale=top))
    for check in (lambda: config_from_args(argparse.Namespace(**base, density_scale=top + 1)),
                  lambda: validate_config(PlanConfig(density_scale=top + 1))):
        with pytest.raises(OptionError, match=f"\\(0, {top:g}\\]"):
            check()


def test_each_table_is_defined_in_one_module() -> None:
    """``grep``: each lexicon table and each tempo range literal lives in music/lexicon.py only."""
    import re

    src = Path(__file__).resolve().parents[1] / "src" / "videobgm"
    patterns = {  # what -> (pattern, the modules that may hold it)
        "mood table": (r'Mood\("calm"', ["music/lexicon.py"]),
        "style table": (r'Style\("pop"', ["music/lexicon.py"]),
        "instrument table": (r'"electric_piano": \(4,', ["music/lexicon.py"]),
        "a second GM program table": (r'"electric_piano": 4\b', []),
        "a second mood -> style table": (r'"calm": "ambient"', []),
        "a second mood -> mode table": (r'"calm": "major"', []),
        "tempo limits": (r"\(20\.0, 300\.0\)|\(30\.0, 300\.0\)|20\.0 <= tempo|30\.0 <= tempo", ["music/lexicon.py"]),
        "video tempo range": (r"\(70\.0, 140\.0\)", ["music/lexicon.py"]),
        "label hints": (r'"beach": \("happy"', ["music/lexicon.py"]),
        "density scale range": (r"<= 10\.0\)|0 < v <= 4", []),
    }
    for what, (pat, allowed) in patterns.items():
        where = sorted(str(p.relative_to(src)) for p in src.rglob("*.py")
                       if re.search(pat, p.read_text(encoding="utf-8")))
        assert where == allowed, (what, where)
