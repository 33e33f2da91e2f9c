"""session.py: the page's controls parsed from widget values, and the description planned from an
edited text with the controls on top (pure, no Gradio)."""

from __future__ import annotations

import pytest

from videobgm.apps.ui.session import MusicControls, edited_description
from videobgm.config import PipelineConfig
from videobgm.errors import OptionError
from videobgm.types import Description


def test_music_controls_parse_widget_values() -> None:
    c = MusicControls.from_inputs("auto", "", 0, "auto", None, [], 1.5, 4)
    assert (c.mood, c.style, c.tempo_bpm, c.key, c.mode, c.instruments) == (None,) * 6
    assert c.density_scale == 1.5 and c.seed == 4
    c = MusicControls.from_inputs("calm", "ambient", 90, "F#", "minor", ["piano", "strings"], 1, 0)
    cfg = c.apply(PipelineConfig.preset("tiny"))
    assert (cfg.plan.mood, cfg.plan.tempo_bpm, cfg.plan.key, cfg.plan.mode) == ("calm", 90.0, "F#", "minor")
    assert cfg.plan.instruments == ("piano", "strings") and cfg.sample.seed == 0
    for bad in ({"tempo": 500}, {"density": 0}, {"seed": -1}):
        with pytest.raises(OptionError):
            MusicControls.from_inputs(**bad)


def test_unchanged_controls_become_auto() -> None:
    proposed = MusicControls(mood="calm", style="ambient", tempo_bpm=90.0, key="F", mode="major")
    edited = MusicControls(mood="Calm", style="rock", tempo_bpm=90.02, key="F", mode="minor", seed=3)
    c = edited.unchanged_as_auto(proposed)
    assert (c.mood, c.style, c.tempo_bpm, c.key, c.mode, c.seed) == (None, "rock", None, None, "minor", 3)


def test_edited_description_keeps_the_base_or_lays_controls_over_it() -> None:
    base = Description(text="calm piano", mood="calm", source="video")
    assert edited_description(None, "  ", MusicControls()) is None  # nothing to plan from
    assert edited_description(base, " calm piano ", MusicControls()) is base  # the text is unchanged
    d = edited_description(base, "calm piano", MusicControls(tempo_bpm=80.0, key="D"))
    assert (d.text, d.mood, d.tempo_bpm, d.key, d.source) == ("calm piano", "calm", 80.0, "D", "video")
