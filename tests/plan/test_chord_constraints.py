"""plan/chord_constraints.py: the constraints a progression must meet, on known layouts."""

from __future__ import annotations

import numpy as np
import pytest

from videobgm.errors import OptionError
from videobgm.plan.chord_constraints import (
    allowed_sets,
    cadence_bars,
    check_arguments,
    fixed_symbols,
    forced_changes,
    relative_symbol,
    repeat_mask,
    section_roles,
    valid_repeats,
)
from videobgm.plan.chord_corpus import V, symbol
from videobgm.plan.chord_model import DOMINANT_QUALITIES, TONIC_QUALITIES, degree_set
from videobgm.types import Chord, Section


def test_sections_and_symbols() -> None:
    assert section_roles(None, 8) == [(0, 8, "verse")]
    sec = Section(start_bar=0, end_bar=4, label="intro", start_s=0.0, end_s=8.0, energy=0.2, reason="")
    assert section_roles([sec, (4, 8, "chorus")], 8) == [(0, 4, "intro"), (4, 8, "chorus")]
    with pytest.raises(OptionError, match="outside the piece's 8 bars"):
        section_roles([(4, 9, "verse")], 8)
    assert relative_symbol(Chord(0, 2, "min"), 2) == symbol(0, "min")  # D minor in D: i
    assert relative_symbol((7, "maj"), 0) == symbol(7, "maj")
    with pytest.raises(OptionError, match="needs a root 0..11"):
        relative_symbol((12, "maj"), 0)
    assert fixed_symbols({3: (9, "min")}, 9, 4) == {3: symbol(0, "min")}
    with pytest.raises(OptionError, match="fixed bar 4 outside"):
        fixed_symbols({4: (0, "maj")}, 0, 4)
    with pytest.raises(OptionError, match="max_changes must be >= 1"):
        check_arguments(4, 4, "major", 0)


def test_cadence_bars_default_and_overrides() -> None:
    secs, phrases = [(0, 8, "verse")], [(0, 4), (4, 8)]
    assert cadence_bars(secs, phrases, None, 8) == {3: "half", 7: "authentic"}
    assert cadence_bars(secs, phrases, {3: None, 5: "half"}, 8) == {7: "authentic", 5: "half"}
    with pytest.raises(OptionError, match="unknown cadence 'plagal'"):
        cadence_bars(secs, phrases, {3: "plagal"}, 8)


def test_forced_changes_leave_out_cadence_fixed_and_crowded_beats() -> None:
    notes: list[str] = []
    # bar 0 already changes on beat 1: +beat 3 = mask 0b101; bar 1 beats 2 and 4 = 0b1010
    got = forced_changes({1: (1, 3), 2: 0, 0: 2}, 4, 4, {2: 0}, {}, 2, notes)
    assert got == {0: 0b101, 1: 0b1010}
    assert notes == ["no chord change on beat 1 of bar 2: a cadence or fixed bar"]
    notes = []
    assert forced_changes({1: (1, 3), 0: 2}, 4, 4, {}, {}, 1, notes) == {1: 0b10}
    assert notes == ["no chord change on beat 3 of bar 0: at most 1 changes per bar",
                     "no chord change on beat 4 of bar 1: at most 1 changes per bar"]
    # bar 6 on a fixed bar 2, bar 3 on a later bar, bar 5 on bar 1: only the last is kept
    assert valid_repeats({6: 2, 3: 7, 5: 1}, 8, {2: 0}, {}) == {5: 1}
    # a cadence bar is repeated by a bar inside a phrase (6 -> cadence 2) but never repeats
    # (cadence 7 keeps its own); a hit-change bar (4, 1) may do both
    assert valid_repeats({4: 0, 5: 1, 6: 2, 7: 3}, 8, {}, {2: "half", 7: "authentic"}) == {4: 0, 5: 1, 6: 2}
    # ... except a cadence of its own kind (a phrase of the same role restating its ending)
    assert valid_repeats({7: 3, 6: 2}, 8, {}, {3: "authentic", 2: "half", 6: "authentic", 7: "authentic"}) == {7: 3}


def test_repeat_mask_keeps_the_statements_rhythm_and_adds_the_hit() -> None:
    # the statement changes on beats 1 and 3 (0b101); a hit on beat 2 adds its change
    assert repeat_mask(0b101, False, 3, 0b10, 3) == 0b111
    assert repeat_mask(0b101, False, 3, 0b10, 2) is None  # three changes: over the limit
    # a run's start restates the held chord on the downbeat (statement bar 3 changes on beat 3 only)
    assert repeat_mask(0b100, True, 3, 0, 2) == 0b101
    assert repeat_mask(0b100, False, 3, 0, 2) == 0b100  # inside a run the chord is held on
    assert repeat_mask(0b100, True, 0, 0, 2) == 0b100  # bar 0 holds nothing before it


def test_allowed_sets_of_cadences() -> None:
    dom, ton = degree_set(7, DOMINANT_QUALITIES), degree_set(0, TONIC_QUALITIES["major"])
    events = [(0, 0), (1, 0), (2, 0), (3, 0)]
    notes: list[str] = []
    al = allowed_sets(events, {}, {1: "half", 3: "authentic"}, "major", [], notes)
    assert al[0].all() and (al[1] == dom).all() and (al[2] == dom).all() and (al[3] == ton).all()
    assert notes == []
    # a fixed non-tonic chord on the authentic cadence's bar: that cadence is left out
    vi = symbol(9, "min")
    al = allowed_sets(events, {3: vi}, {3: "authentic"}, "major", [], notes)
    assert np.flatnonzero(al[3]).tolist() == [vi] and al[2].sum() == V
    assert notes == ["authentic cadence in bar 3 left out: the bar is fixed to a non-tonic chord"]
