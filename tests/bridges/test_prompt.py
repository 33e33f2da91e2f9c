"""bridges/prompt.py: free text -> Description, rule by rule (known answers, no text embedding)."""

from __future__ import annotations

import pytest

from videobgm.bridges.prompt import parse_prompt, stated_energy
from videobgm.errors import OptionError


def parse(text: str, **kw):
    return parse_prompt(text, use_embeddings=False, **kw)


def test_calm_piano_80_bpm_d_minor_parses_to_its_fields() -> None:
    d = parse("calm piano, 80 bpm, D minor")
    assert (d.mood, d.tempo_bpm, d.key, d.mode, d.instruments, d.source) == (
        "calm", 80.0, "D", "minor", ["piano"], "text")
    assert d.style == "ambient" and d.reasons["style"].endswith("(default for mood calm)")
    assert d.reasons["tempo"] == "'80 bpm' -> 80 bpm"
    assert d.reasons["key"] == "'D minor' -> D minor"
    assert d.energy_curve == [0.255, 0.3, 0.255]  # calm's energy 0.3 as an arch (x 0.85 at the ends)


@pytest.mark.parametrize("text,tempo", [
    ("happy, 120 beats per minute", 120.0),
    ("tempo of 95, piano", 95.0),
    ("very slow sad strings", 62.0),  # the longest tempo phrase wins over "slow" (72)
    ("slow sad strings", 72.0),
])
def test_tempo_numbers_and_words(text: str, tempo: float) -> None:
    assert parse(text).tempo_bpm == tempo


@pytest.mark.parametrize("text,key,mode", [
    ("key of G", "G", None),
    ("Bb maj organ", "A#", "major"),  # flats are named by their sharp
    ("a minor", "A", "minor"),  # lower case counts with the full mode word
    ("e min", None, None),  # ... but not with an abbreviation
    ("something in minor", None, "minor"),  # a bare mode word sets only the mode
])
def test_key_and_mode(text: str, key: str | None, mode: str | None) -> None:
    d = parse(text)
    assert (d.key, d.mode) == (key, mode)


def test_mood_defaults_fill_what_is_missing_and_nothing_else() -> None:
    d = parse("very slow sad strings")
    assert (d.mood, d.mode, d.style, d.instruments) == ("sad", "minor", "cinematic", ["strings"])
    assert d.reasons["mode"] == "no mode named -> minor (default for mood sad)"
    d = parse("piano")  # no mood: no defaults, no energy curve
    assert (d.mood, d.tempo_bpm, d.key, d.mode, d.style, d.energy_curve) == (
        None, None, None, None, None, [])


def test_mood_votes_and_ties() -> None:
    d = parse("happy but sad, sad")
    assert d.mood == "sad" and "outvoted: happy" in d.reasons["mood"]
    assert parse("happy sad").mood == "happy"  # a tie without embeddings: the first named


def test_energy_level_and_shape() -> None:
    assert parse("high energy").energy_curve == [0.68, 0.8, 0.68]
    assert parse("fading").energy_curve == [0.7, 0.5, 0.25]
    assert stated_energy("low energy") == (0.0, 0.35)
    assert stated_energy("just piano") is None


def test_bad_prompts_are_refused() -> None:
    with pytest.raises(OptionError, match="empty"):
        parse(" \n ")
    with pytest.raises(OptionError, match="11 characters long; the limit is 10"):
        parse("calm piano!", max_chars=10)
    with pytest.raises(OptionError, match="outside 20..300 bpm"):
        parse("piano at 900 bpm")


def test_prompt_parser_keeps_its_answers_at_any_length() -> None:
    """Linear-time word lookup: the answer for a long prompt is the same as for its words."""
    from videobgm.bridges.prompt import parse_prompt

    short = parse_prompt("calm piano, 80 bpm, D minor", use_embeddings=False)
    long = parse_prompt("calm piano, 80 bpm, D minor, " + "calm " * 1500, use_embeddings=False)
    assert (short.mood, short.tempo_bpm, short.key, short.mode, short.instruments) == (
        long.mood, long.tempo_bpm, long.key, long.mode, long.instruments) == (
        "calm", 80.0, "D", "minor", ["piano"])
    assert long.reasons["mood"].startswith("'calm', 'calm'")
