"""Styles and moods that change the music (issue 19): the style tables and each style's idiom check
(the generators: compose/test_textures.py; the idiom measures: eval/test_idioms.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from videobgm.compose import arrange, textures
from videobgm.eval import idioms
from videobgm.music import styles
from videobgm.types import Chord, Controls, Note, Plan, Score

STYLES = tuple(styles.STYLE_IDIOMS)
MOODS = tuple(styles.MOOD_COLOURS)
N_BARS = 8
HITS = ((40, "section"), (70, "accent"), (101, "stab"))


def _controls(style: str = "", mood: str = "", seed: int = 0) -> Controls:
    prog = [(9, "min"), (5, "maj"), (0, "maj"), (7, "maj")] * 2
    chords = [Chord(i * 16, r, q) for i, (r, q) in enumerate(prog)]
    c = Controls(N_BARS, 4, np.full(N_BARS, 12), np.full(N_BARS * 4, 2), np.zeros(N_BARS * 16, bool),
                 chords, key_tonic=9, mode="minor", tracks=("melody", "bridge", "piano", "bass", "drums"),
                 hits=HITS, fill_bars=(3,), ending_bar=7)
    plan = Plan(duration_s=16.0, tempo_bpm=120.0, beats_per_bar=4, beat_times_s=np.arange(33) * 0.5,
                sections=[], controls=c, programs={}, style=style or "pop", mood=mood or "neutral",
                seed=seed)
    return arrange.styled_controls(plan, seed)


def _score(notes: list[Note], n_bars: int = 5) -> Score:
    return Score(notes=sorted(notes), n_bars=n_bars)


def test_tables_cover_the_lexicon() -> None:
    styles.check_tables()
    for s in STYLES:
        for m in MOODS:
            idm = styles.idiom(s, m)
            assert idm.tempo_range_bpm[0] < idm.tempo_range_bpm[1]
            assert idm.texture in styles.TEXTURES and idm.bass in styles.BASS_IDIOMS


def test_idioms_of_the_generated_parts() -> None:
    """Each style's own generator passes its own check; known failures of the others."""
    def score(style: str, mood: str = "neutral") -> Score:
        c = _controls(style, mood)
        return Score(notes=sorted(arrange.rule_notes(c)), n_bars=N_BARS)

    hits = [k for k, _ in HITS]
    assert idioms.check("electronic", score("electronic"))[0]
    assert not idioms.check("electronic", score("pop"))[0]
    assert idioms.check("pop", score("pop"))[0]
    assert idioms.check("acoustic", score("acoustic"))[0]
    assert idioms.check("acoustic", score("acoustic", "calm"))[0]  # fingerpicked
    assert not idioms.check("acoustic", score("ambient"))[0]
    assert idioms.check("ambient", score("ambient"))[0]
    assert not idioms.check("ambient", score("cinematic"))[0]
    assert idioms.check("cinematic", score("cinematic"), hits)[0]
    assert not idioms.check("cinematic", score("pop"), hits)[0]
    assert idioms.clash_rate(score("cinematic", "tense")) >= 0.02


def test_calm_melody_avoids_notes_in_every_style() -> None:
    for style in styles.STYLE_IDIOMS:
        assert styles.idiom(style, "calm").avoid_notes
        assert not any(styles.idiom(style, m).avoid_notes for m in ("neutral", "tense", "happy", "epic"))


def test_named_style_keeps_its_drums() -> None:
    assert styles.has_drums("electronic", "sad", style_named=True)
    assert not styles.has_drums("pop", "sad", style_named=False)
    assert not styles.has_drums("ambient", "epic", style_named=True)
    assert styles.has_drums("cinematic", "epic", style_named=False)
    assert styles.has_drums("cinematic", "sad", style_named=False)  # toms on the hits only


def test_legacy_controls_unchanged() -> None:
    c = _controls()
    legacy = dataclasses.replace(c, style="", arranged=(), tracks=("melody", "piano", "bass", "drums"))
    assert arrange.rule_notes(legacy) == (arrange.bass_notes(legacy) + arrange.drum_notes(legacy)
                                          + arrange.form_notes(legacy))
    assert textures.texture_notes(legacy, styles.idiom("pop")) == []


@pytest.mark.parametrize("style", STYLES)
def test_each_style_passes_its_own_check_in_every_mood(style: str) -> None:
    hits = [k for k, _ in HITS]
    for mood in MOODS:
        s = Score(notes=sorted(arrange.rule_notes(_controls(style, mood))), n_bars=N_BARS)
        ok, what = idioms.check(style, s, hits)
        assert ok, (mood, what)
        others = [c for c in idioms.CHECKS if c != style and not idioms.check(c, s, hits)[0]]
        assert len(others) >= 3, (mood, others)
