"""bridges/resolve.py: an edited description / free text read and laid over the video's (known answers)."""

from __future__ import annotations

import json

import pytest

from tests.bridges.test_describe import make_features
from videobgm.bridges.describe import describe
from videobgm.bridges.resolve import parse_description, resolve_description
from videobgm.config import PlanConfig
from videobgm.errors import InputError


def test_parse_json_roundtrip_and_edit(tmp_path):
    d = describe(make_features(speed_px_s=20.0, brightness=0.7, warmth=0.3))
    p = tmp_path / "desc.json"
    data = d.to_dict()
    data.update(mood="melancholic", instruments=["Violin", "Rhodes"], key="Bb", tempo_bpm=90)
    p.write_text(json.dumps(data))
    e = parse_description(p)
    assert e.source == "edited" and e.mood == "sad" and e.key == "A#" and e.tempo_bpm == 90.0
    assert e.instruments == ["violin", "electric_piano"]
    assert parse_description(str(p)).mood == "sad"  # a path given as a string
    data["instruments"] = ["Violin", "kazoo"]  # the CLI refuses kazoo: so does a description
    p.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"description.instruments\[1\]: unknown instrument \"kazoo\""):
        parse_description(p)
    data["instruments"] = ["violin"]
    data["mode"] = "lydian"
    p.write_text(json.dumps(data))
    with pytest.raises(InputError, match="description.mode: .*major, minor"):
        parse_description(p)
    p.write_text("{not json")
    with pytest.raises(InputError):
        parse_description(p)
    with pytest.raises(InputError, match="not found"):
        parse_description(str(tmp_path / "missing.json"))  # not silently read as a prompt


def test_options_and_edits_are_laid_over_with_their_origin():
    video = describe(make_features(speed_px_s=20.0, brightness=0.7, warmth=0.3))
    d = resolve_description(make_features(speed_px_s=20.0, brightness=0.7, warmth=0.3),
                            PlanConfig(tempo_bpm=97.0, mood="tense"))
    assert d.tempo_bpm == 97.0 and d.origin("tempo_bpm") == "user option"
    assert d.mood == "tense" and d.origin("mood") == "user option"
    assert d.origin("key") == "video" and d.key == video.key  # not asked: the video's
