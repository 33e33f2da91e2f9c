"""compose/hit_marks.py (+ dynamics.shape(hits=)): the pre-hit break and the hit's contrast."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np

from tests.music.test_styles import _controls
from videobgm.compose import arrange
from videobgm.compose.dynamics import shape
from videobgm.compose.hit_marks import clear_before_hits, clear_score, marked_hits
from videobgm.config import SampleConfig
from videobgm.types import Note, Score

HIT = 20  # one crash hit point on beat 2 of bar 1 (step 20)


def test_marked_hits_are_the_cuts_not_the_accents() -> None:
    assert marked_hits([(20, "crash"), (40, "section+chord"), (50, "accent"), (60, "stab")]) == [20, 40, 60]


def test_notes_sounding_into_the_hit_are_released_before_it() -> None:
    notes = [Note(16, "bass", 45, 8, 90),     # 16..24 across the hit: ends at 18 (gap 2)
             Note(12, "bridge", 76, 16, 70),  # 12..28: ends at 18
             Note(18, "piano", 69, 2, 80),    # starts in the gap: the accompaniment rests there
             Note(19, "piano", 72, 3, 104),   # in the gap but on a strong visual beat: kept, ends at 20
             Note(18, "bridge", 79, 1, 70),   # the counter-melody rests in the gap too
             Note(19, "melody", 81, 4, 90),   # the melody keeps its note, ended at the hit
             Note(18, "melody", 83, 4, 90),   # ... released a 16th before the hit where it can
             Note(14, "melody", 79, 2, 90),   # ends before the gap: untouched
             Note(18, "drums", 36, 2, 108),   # drums: their own idiom decides
             Note(20, "piano", 69, 2, 110), Note(20, "bass", 45, 2, 112),  # the hit itself
             Note(21, "piano", 72, 8, 80)]    # after the hit: untouched
    out = clear_before_hits(notes, [(HIT, "crash"), (40, "accent")], gap=2, keep={19})
    by = {(n.onset_16th, n.track, n.pitch): n.duration_16th for n in out}
    assert by[(16, "bass", 45)] == 2 and by[(12, "bridge", 76)] == 6
    assert (18, "piano", 69) not in by and (18, "bridge", 79) not in by
    assert by[(19, "piano", 72)] == 1 and by[(19, "melody", 81)] == 1 and by[(18, "melody", 83)] == 1
    assert by[(14, "melody", 79)] == 2 and by[(18, "drums", 36)] == 2
    assert by[(20, "piano", 69)] == 2 and by[(20, "bass", 45)] == 2 and by[(21, "piano", 72)] == 8
    # nothing pitched sounds in the gap but the kept accent and the melody's note
    ringing = [n for n in out if n.track != "drums" and n.onset_16th < HIT and n.onset_16th + n.duration_16th > HIT - 2]
    assert {(n.onset_16th, n.track) for n in ringing} == {(19, "piano"), (19, "melody"), (18, "melody")}
    assert not [n for n in out if n.track != "drums" and n.onset_16th < HIT - 1 and n.onset_16th + n.duration_16th > HIT - 1]
    # an "accent" hit (a cut close to a crash) and the held ending are left alone
    assert clear_before_hits(notes, [(HIT, "accent")], gap=2) == notes
    assert clear_before_hits(notes, [(HIT, "crash")], gap=2, ending_step=16) == notes
    # only notes starting in the regenerated range change
    kept = clear_before_hits(notes, [(HIT, "crash")], gap=2, steps=(17, 64))
    assert Note(16, "bass", 45, 8, 90) in kept and Note(12, "bridge", 76, 16, 70) in kept


def test_styled_plan_with_one_hit_clears_and_accents_it() -> None:
    """Electronic (four-on-the-floor) rule parts with one crash: after the break and the shaping,
    no accompaniment note sounds into the hit, and the hit's notes are the loudest of their beat."""
    c = dataclasses.replace(_controls("electronic", "playful"), hits=((HIT, "crash"),))
    # the rule parts + what the model might write: a counter-melody held across the hit, a
    # counter-melody note in the 8th before it
    notes = arrange.rule_notes(c) + [Note(16, "bridge", 76, 8, 70), Note(19, "bridge", 79, 1, 70)]
    pitched = [n for n in notes if n.track != "drums"]
    assert any(n.onset_16th < HIT < n.onset_16th + n.duration_16th for n in pitched)
    score = clear_score(Score(notes=sorted(notes), n_bars=c.n_bars), c.hits, gap=2, ending_bar=c.ending_bar)
    secs = [SimpleNamespace(start_bar=0, end_bar=c.n_bars, energy=0.6)]
    flat = shape(score, secs, np.asarray(c.accent_steps), cfg=SampleConfig())
    out = shape(score, secs, np.asarray(c.accent_steps), cfg=SampleConfig(), hits=c.hits)
    p = [n for n in out.notes if n.track != "drums"]
    assert not [n for n in p if n.onset_16th < HIT and n.onset_16th + n.duration_16th > HIT - 2]
    at = [n.velocity for n in p if n.onset_16th == HIT]
    beat = [n.velocity for n in p if HIT < n.onset_16th < HIT + 4 or HIT - 4 <= n.onset_16th < HIT]
    assert at and min(at) >= 110 and min(at) > max(beat)
    # the beat before the hit is softer than without the hit contrast; elsewhere nothing changes
    v0 = {(n.onset_16th, n.track, n.pitch): n.velocity for n in flat.notes}
    before = [(v0[(n.onset_16th, n.track, n.pitch)], n.velocity) for n in out.notes
              if HIT - 4 <= n.onset_16th < HIT and n.track != "drums"]
    assert before and all(v < v_flat for v_flat, v in before)
    assert all(v0[(n.onset_16th, n.track, n.pitch)] == n.velocity for n in out.notes
               if not HIT - 4 <= n.onset_16th <= HIT)
    # the drums mark it above the floor: crash and kick louder than the four-on-the-floor kick
    kit = {n.pitch: n.velocity for n in notes if n.track == "drums" and n.onset_16th == HIT}
    floor = max(n.velocity for n in notes if n.track == "drums" and n.pitch == 36 and n.onset_16th != HIT)
    assert kit[49] > floor and kit[36] > floor


def test_sustained_bass_re_attacks_on_the_hit() -> None:
    """Cinematic (tonic pedal, held over the bar): the pedal sounding into a hit
    (beat 2 and a half) is released a 16th before it and the hit re-strikes the root."""
    c = dataclasses.replace(_controls("cinematic", "neutral"), hits=((22, "crash"),))
    notes = arrange.rule_notes(c)
    held = [n for n in notes if n.track == "bass" and n.onset_16th < 22 < n.onset_16th + n.duration_16th]
    assert held  # before: the pedal rings through the hit
    out = clear_before_hits(notes, c.hits, gap=1)
    assert not [n for n in out if n.track != "drums" and n.onset_16th < 22 and n.onset_16th + n.duration_16th > 21]
    assert [n for n in out if n.track == "bass" and n.onset_16th == 22]


def test_melody_on_the_weak_16th_before_a_hit_lands_on_it() -> None:
    """A melody 16th on 21 before a crash on 22 (the off-beat 8th of beat 2) moves onto 22, its
    length kept up to the next melody note; before a hit off the 8th grid (23) the note on 22 (an
    8th-grid onset) stays, ended at the hit; an accent step keeps its note; a melody note already
    on the hit wins; and on the hit's step nothing of it remains in the gap."""
    notes = [Note(21, "melody", 79, 3, 80), Note(24, "melody", 81, 4, 80), Note(16, "piano", 69, 4, 80)]
    out = clear_before_hits(notes, [(22, "crash")], gap=2)
    assert Note(22, "melody", 79, 2, 80) in out and not [n for n in out if n.onset_16th == 21]
    assert not [n for n in out if n.track != "drums" and n.onset_16th < 22 and n.onset_16th + n.duration_16th > 20]
    off = clear_before_hits([Note(22, "melody", 79, 2, 80)], [(23, "crash")], gap=2)
    assert off == [Note(22, "melody", 79, 1, 80)]
    assert clear_before_hits([Note(21, "melody", 79, 1, 80)], [(22, "crash")], gap=2, keep={21}) == [Note(21, "melody", 79, 1, 80)]
    both = clear_before_hits([Note(21, "melody", 79, 1, 80), Note(22, "melody", 83, 2, 90)], [(22, "crash")], gap=2)
    assert both == [Note(22, "melody", 83, 2, 90)]
    # with a one-16th gap (styles without a four-on-the-floor) the same 16th lands on the hit
    assert clear_before_hits([Note(19, "melody", 76, 1, 70)], [(20, "stab")], gap=1) == [Note(20, "melody", 76, 1, 70)]
