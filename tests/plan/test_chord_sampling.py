"""plan/chord_sampling.py: the sampler's steps on the shipped model (the model itself, and the
constrained sampling through it, are tested in test_chord_model.py)."""

from __future__ import annotations

import pytest

from videobgm.music.styles import harmony_vocabulary
from videobgm.plan.chord_model import load
from videobgm.plan.chord_sampling import repeat_pairs, sample_progression
from videobgm.types import Chord


@pytest.fixture(scope="module")
def shipped():
    return load()


def test_repeat_pairs_restate_a_held_chord_at_a_runs_start():
    events = [(0, 0), (0, 2), (1, 2), (2, 0), (2, 2), (3, 2)]
    # bar 2 repeats bar 0 beat by beat; bar 3 repeats bar 1, which holds bar 0's second chord
    # on its downbeat: bar 3 has no downbeat event (inside the run the chord is held on)
    assert repeat_pairs(events, {2: 0, 3: 1}) == [(3, 0), (4, 1), (5, 2)]
    # a run starting at bar 2 on bar 1 restates the chord bar 1 holds (event 1) on its downbeat
    assert repeat_pairs(events, {2: 1}) == [(3, 1), (4, 2)]
    # a hit on bar 2's downbeat: its chord there is its own, the rest restates bar 1
    assert repeat_pairs(events, {2: 1}, {2: 0b1}) == [(4, 2)]


def test_hit_changes_and_repeats_are_kept_or_named(shipped) -> None:
    # a hit change on beat 3 of bar 1 (bar 5 repeats it, the change included); bar 4 repeats
    # bar 0; the fixed last bar cannot change on a hit
    p = sample_progression(shipped, 8, change_beats={1: 2, 7: 1}, repeats={5: 1, 4: 0},
                           fixed={7: Chord(0, 0, "maj")}, seed=3)
    assert any(c.onset_16th == 16 + 8 for c in p.chords)  # bar 1, beat 3 (16th step 24)
    assert p.notes == ["no chord change on beat 2 of bar 7: a cadence or fixed bar"]
    bar = {b: [(c.onset_16th - 16 * b, c.root, c.quality, bs) for c, bs in zip(p.chords, p.bass)
               if c.onset_16th // 16 == b] for b in range(8)}
    assert bar[4] == bar[0]  # rhythm, chords and basses
    assert p.chords[-1].onset_16th == 7 * 16 and (p.chords[-1].root, p.chords[-1].quality) == (0, "maj")
    assert "changes asked on 1 hit beat(s)" in p.reason and "1 fixed bars" in p.reason


def test_a_hit_change_bar_repeats_and_is_repeated(shipped) -> None:
    # bar 5 repeats bar 1, whose hit changes on beat 3: bar 5 restates its rhythm and chords,
    # the hit's change included; bar 6 repeats bar 2 and has a hit of its own on beat 2: its
    # other chords are bar 2's, a change on beat 2 is added (12 bars: half cadences in bars 3
    # and 7, so that bars 5 and 6 are free of cadences)
    for seed in range(4):
        p = sample_progression(shipped, 12, change_beats={1: 2, 6: 1}, repeats={5: 1, 6: 2}, seed=seed)
        bar = {b: [(c.onset_16th - 16 * b, c.root, c.quality) for c in p.chords if c.onset_16th // 16 == b]
               for b in range(12)}
        on = {b: [c.onset_16th - 16 * b for c in p.chords if c.onset_16th // 16 == b] for b in range(12)}
        assert 8 in on[1] and 4 in on[6]
        assert bar[5] == bar[1] or bar[5][1:] == bar[1]  # (a downbeat restating the chord held before)
        if len(set(on[2]) | {4}) <= 2:  # at most 2 changes per bar: else bar 6 has its own rhythm
            assert [c for c in bar[6] if c[0] != 4] == [c for c in bar[2] if c[0] != 4] or \
                [c for c in bar[6] if c[0] not in (0, 4)] == [c for c in bar[2] if c[0] not in (0, 4)]
        assert not [n for n in p.notes if "left free" in n]


def test_tonic_pedal_of_a_vocabulary(shipped) -> None:
    # phrases [0, 4), [4, 8): cadences in bars 3 (half) and 7 (authentic, V in bar 6); the pedal
    # holds C under bars 0-2 and 4-5
    p = sample_progression(shipped, 8, mode="minor", vocabulary=harmony_vocabulary("tense", "pop"), seed=1)
    pedal = [bs for c, bs in zip(p.chords, p.bass) if c.onset_16th // 16 in (0, 1, 2, 4, 5)]
    assert pedal and all(bs == 0 for bs in pedal)
    assert "; tonic pedal under 7 chords;" in p.reason  # the learned basses of 7 of them were not C
    assert p.bass[5] == 7  # bar 3 (the half cadence) keeps its learned bass


def test_a_repeat_before_an_authentic_cadence_takes_the_dominant_on_its_middle_beat(shipped) -> None:
    # bars 4-6 repeat bars 0-2 (phrases 0-3 and 4-7: a half cadence in bar 3, an authentic one
    # in bar 7 with V before it); bar 2 led to the half cadence, so a plain repeat of it in bar 6
    # cannot give V before bar 7's I. Bar 6 keeps bar 2's chords and adds V on its middle beat
    # (after bar 2's last change): before, the repeat was left out on these seeds.
    for seed in (0, 1, 5, 6, 8):
        p = sample_progression(shipped, 8, repeats={4: 0, 5: 1, 6: 2}, seed=seed)
        bar = {b: [(c.onset_16th - 16 * b, c.root, c.quality) for c in p.chords if c.onset_16th // 16 == b]
               for b in range(8)}
        assert not [n for n in p.notes if "left free" in n]
        assert bar[6][:-1] == bar[2] and bar[6][-1][:2] in ((8, 7), (12, 7))
        assert bar[4] == bar[0] or bar[4][1:] == bar[0]
    # where the statement bar already changes on the middle beat (2 changes per bar at most),
    # the repeat is left out as before (seed 2)
    p = sample_progression(shipped, 8, repeats={4: 0, 5: 1, 6: 2}, seed=2)
    assert [n for n in p.notes if "left free" in n]
