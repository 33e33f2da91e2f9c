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


def test_bass_onsets_count_against_the_texture_share() -> None:
    """One onset budget: a bar's bass notes (``taken``) thin the texture that plays the rest of
    the bar's share; with nothing taken it is the texture of before."""
    import dataclasses

    import numpy as np

    from videobgm.compose import textures
    from videobgm.music import styles

    c = _controls("acoustic", "calm")
    c = dataclasses.replace(c, density_per_bar=np.full(c.n_bars, 24), hits=())
    idm = styles.idiom("acoustic", "calm")
    assert idm.texture == "arpeggio" and idm.model_share == 0.4 and idm.step_16th == 4
    free = textures.texture_notes(c, idm, (1, 2), seed=0)
    assert textures.texture_notes(c, idm, (1, 2), seed=0, taken={}) == free
    thin = textures.texture_notes(c, idm, (1, 2), seed=0, taken={1: 8})
    other_bar = textures.texture_notes(c, idm, (1, 2), seed=0, taken={2: 8})
    assert other_bar == free  # only the bar's own bass counts
    # share 0.6 * 24 = 14.4 notes: 8ths (its fastest pulse, 8 onsets) + 6 dyad tones under the 4
    # beat onsets = 12; with 8 taken, 6.4 are left: 8ths (8 onsets, closer than quarters' 4), no dyads
    assert len(free) == 12 and len(thin) == 8


def test_accent_catches_thin_to_the_budget() -> None:
    from videobgm.compose import textures

    assert textures.catch_voicing([53, 57, 60, 65], 9.0) == [53, 57, 60, 65]  # fits: the chord
    assert textures.catch_voicing([53, 57, 60, 65], 2.4) == [53, 57]  # a dyad, from the bass up
    assert textures.catch_voicing([53, 57, 60, 65], -3.0) == [53]  # spent: the root still strikes


def test_model_floor_counts_forced_beats_and_accents() -> None:
    import dataclasses

    import numpy as np

    c = _controls("acoustic", "neutral")
    stren = np.zeros(c.n_bars * 4, dtype=np.int64)
    stren[:4] = [5, 0, 2, 1]  # bar 0: ceil(0.4 * 5) = 2, 0 (no accent), 1, 1
    acc = np.zeros(c.n_bars * 16, dtype=bool)
    acc[[4, 6, 17]] = True  # bar 0: beat 2 (strength 0, now forced: 1) and an off-beat; bar 1: off-beat
    c = dataclasses.replace(c, strength_per_beat=stren, accent_steps=acc)
    floor = arrange.model_floor(c, 0.4)
    assert floor[:3].tolist() == [2 + 1 + 1 + 1 + 1, 1, 0]
