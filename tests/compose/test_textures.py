"""compose/textures.py: the style x mood pattern generators (through arrange.rule_notes on styled controls)."""

from __future__ import annotations

import pytest

from tests.music.test_styles import HITS, MOODS, STYLES, _controls  # noqa: F401 (shared with test_styles.py)
from videobgm.compose import arrange


@pytest.mark.parametrize("style", STYLES)
def test_generators_seeded_and_deterministic(style: str) -> None:
    for mood in ("calm", "tense", "happy"):
        a = arrange.rule_notes(_controls(style, mood, seed=3))
        b = arrange.rule_notes(_controls(style, mood, seed=3))
        assert a == b and a
    if style != "pop":  # the texture's variations are drawn from the seed
        runs = {tuple(arrange.rule_notes(_controls(style, "neutral", seed=s))) for s in range(6)}
        assert len(runs) > 1


@pytest.mark.parametrize("style", STYLES)
def test_hit_points_fall_on_accents(style: str) -> None:
    c = _controls(style, "neutral")
    notes = arrange.rule_notes(c)
    for step, _ in HITS:
        at = [n for n in notes if n.onset_16th == step]
        assert at, f"{style}: nothing at hit {step}"
        assert max(n.velocity for n in at) >= 110, f"{style}: hit {step} not accented"


@pytest.mark.parametrize("style", STYLES)
def test_stems_one_per_track(style: str) -> None:
    c = _controls(style, "tense")
    notes = arrange.rule_notes(c)
    assert {n.track for n in notes} <= set(c.tracks) | set(c.arranged)
    keys = [(n.onset_16th, n.track, n.pitch) for n in notes]
    assert len(keys) == len(set(keys))  # no doubled note inside one track
    if style == "pop":
        assert c.arranged == () and "piano" in c.tracks  # pop keeps the model's POP909 piano
    else:
        assert "piano" in c.arranged and "piano" not in c.tracks


def test_styles_and_moods_give_different_notes() -> None:
    by_style = {s: tuple(arrange.rule_notes(_controls(s, "neutral"))) for s in STYLES}
    assert len(set(by_style.values())) == len(STYLES)
    for s in STYLES:
        by_mood = {m: tuple((n.onset_16th, n.track, n.pitch) for n in arrange.rule_notes(_controls(s, m)))
                   for m in MOODS}
        assert len(set(by_mood.values())) == len(MOODS), s
