"""plan/plan_json.py: the plan.json form of a plan (write, read back, load a file)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.plan.test_planner import make_features
from videobgm.config import PlanConfig
from videobgm.errors import InputError
from videobgm.music.theory import chord_name
from videobgm.plan.plan_json import load_plan, plan_from_dict, plan_to_dict
from videobgm.plan.planner import make_plan


def _plan():
    return make_plan(make_features(8.0, beats_s=np.arange(0.5, 8.0, 1.0)), PlanConfig(tempo_bpm=120.0))


def test_plan_to_dict_stores_set_steps_and_named_chords() -> None:
    plan = _plan()
    d = plan_to_dict(plan)
    c = plan.controls
    assert d["n_bars"] == 4 and d["beats_per_bar"] == 4 and len(d["beat_times_s"]) == 17
    assert d["controls"]["accent_steps"] == np.flatnonzero(c.accent_steps).tolist()
    assert d["controls"]["density_per_bar"] == c.density_per_bar.tolist()
    ch = d["controls"]["chords"][0]
    assert ch["onset_16th"] == 0 and ch["name"] == chord_name(ch["root"], ch["quality"])
    assert json.loads(json.dumps(d)) == d  # JSON-ready
    # the melody's register target per bar, in MIDI pitches around the tessitura
    assert len(d["controls"]["register_per_bar"]) == 4
    assert all(60 <= x <= 90 for x in d["controls"]["register_per_bar"])
    assert "register" in plan.reasons


def test_round_trip_and_load_of_a_score_record(tmp_path: Path) -> None:
    plan = _plan()
    d = plan_to_dict(plan)
    assert plan_to_dict(plan_from_dict(d)) == d
    # score --plan's record: {"plan": ..., "description": ...}; the outer description fills in
    inner = {k: v for k, v in d.items() if k != "description"}
    (tmp_path / "p.json").write_text(json.dumps({"plan": inner, "description": d["description"]}))
    assert plan_to_dict(load_plan(tmp_path / "p.json")) == d


def test_bad_plans_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="a plan must be a JSON object, got list"):
        plan_from_dict([])
    with pytest.raises(InputError, match="plan is missing the field 'beats_per_bar'"):
        plan_from_dict({"n_bars": 1})
    d = plan_to_dict(_plan())
    d["controls"]["register_per_bar"] = [74.0, 200.0, 74.0, 74.0]
    with pytest.raises(InputError, match=r"register_per_bar must be 4 MIDI pitches \(21..108\)"):
        plan_from_dict(d)
    d["controls"]["register_per_bar"] = [74.0]
    with pytest.raises(InputError, match="register_per_bar must be 4 MIDI pitches"):
        plan_from_dict(d)
    (tmp_path / "x.json").write_text(json.dumps({"features": {}}))
    with pytest.raises(InputError, match="is not a plan.json"):
        load_plan(tmp_path / "x.json")
