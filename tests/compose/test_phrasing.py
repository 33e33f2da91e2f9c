"""compose/phrasing.py: breaths, the phrase end's cadence, rests that ring, the motif plan."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("torch")

from videobgm.compose.phrasing import (  # noqa: E402
    breath_mask,
    breath_steps,
    breathe,
    cadence_durations,
    motif_plan,
    one_voice,
    ring_into_rest,
    solo_tracks,
)
from videobgm.compose.token_codes import TYPE_BAR, TYPE_BOS, TYPE_NOTE, TYPE_POS  # noqa: E402
from videobgm.config import SampleConfig  # noqa: E402
from videobgm.types import TRACKS, Note  # noqa: E402

MEL, PIANO = 1 + TRACKS.index("melody"), 1 + TRACKS.index("piano")


def _row(t, pos=0, chord=0, track=0, pitch=0, dur=0, vel=0):
    return np.array([t, pos, chord, track, pitch, dur, vel], dtype=np.int64)


def test_breath_bars_inside_the_span_without_accent_or_fill(make_controls):
    c = make_controls(n_bars=4, fill_bars=(2,))
    c.accent_steps[16 + 14] = True  # bar 1's last beat has an accent
    assert np.flatnonzero(breath_mask(c, SampleConfig(), (0, 4), (0, 1, 2, 3))).tolist() == [0, 3]
    assert np.flatnonzero(breath_mask(c, SampleConfig(), (1, 3), (0, 3))).tolist() == []
    assert not breath_mask(c, SampleConfig(constrained=False), (0, 4), (0,)).any()


def test_breath_steps_and_breathe(make_controls):
    breath = np.array([True, False])
    to_breath, in_breath = breath_steps(breath, 16)
    assert to_breath[[0, 11, 12, 31]].tolist() == [11, 0, 10**6, 10**6]
    assert np.flatnonzero(in_breath).tolist() == [11, 12, 13, 14, 15]
    c = make_controls(strength=1)
    rule = [Note(8, "bass", 36, 8, 80), Note(12, "bass", 36, 4, 80), Note(16, "bass", 40, 4, 80)]
    out, kept = breathe(c, rule, breath, to_breath, in_breath)
    assert out.strength_per_beat.tolist() == [1, 1, 1, 0, 1, 1, 1, 1]
    assert [(n.onset_16th, n.duration_16th) for n in kept] == [(8, 3), (16, 4)]  # released a 16th early
    assert breathe(c, rule, np.zeros(2, bool), to_breath, in_breath) == (c, rule)


def test_cadence_is_long_and_ends_by_the_bar_line(decoding, make_controls):
    ctx, st = decoding(make_controls())
    st.bar, st.step = 0, 9
    dm = np.ones(24, dtype=bool)
    dm[0] = False
    assert np.flatnonzero(cadence_durations(ctx, st, dm)).tolist() == [4, 5, 6, 7]  # value v: v steps
    st.step = 14
    assert np.flatnonzero(cadence_durations(ctx, st, dm)).tolist() == [2]  # as long as the bar allows


def test_last_notes_ring_into_a_bar_without_onsets(decoding, make_controls):
    ctx, st = decoding(make_controls(n_bars=3, density=[4, 0, 4], chords=((0, "maj"),)))
    st.rows = [_row(TYPE_BOS), _row(TYPE_BAR), _row(TYPE_POS, 1, 2), _row(TYPE_NOTE, 0, 0, PIANO, 61, 2, 5),
               _row(TYPE_POS, 13, 2), _row(TYPE_NOTE, 0, 0, PIANO, 65, 2, 5)]
    st.bar = 0
    st.voicing.add(12, 64, 2)
    ring_into_rest(ctx, st, 1)
    assert ctx.dur_steps[st.rows[5][5]] == 20 and st.rows[3][5] == 2  # from step 12 to 32 (the next onsets)
    assert st.voicing.first_silent_beat(16, 32) is None  # bar 1 sounds
    st.rows[5][5] = 2
    ring_into_rest(ctx, st, 2)  # bar 2 has onsets: nothing rings
    assert st.rows[5][5] == 2


def test_motif_plan_restates_the_statement_bar(decoding, make_controls):
    ctx, st = decoding(make_controls(n_bars=2, density=3, chords=((0, "maj"), (9, "min"))), motif={1: 0})
    st.rows = [_row(TYPE_BOS), _row(TYPE_BAR), _row(TYPE_POS, 1, 2), _row(TYPE_NOTE, 0, 0, MEL, 1 + 64, 4, 5),
               _row(TYPE_NOTE, 0, 0, PIANO, 1 + 48, 4, 5), _row(TYPE_POS, 7, 2), _row(TYPE_NOTE, 0, 0, MEL, 1 + 67, 2, 5),
               _row(TYPE_BAR)]
    st.bar = 1
    plan = motif_plan(ctx, st, 1)
    assert sorted(plan) == [0, 6] and [d for _, d in plan.values()] == [4, 2]
    pitches = [p - 1 for p, _ in plan.values()]
    # E G over C restated over A minor: a fourth up (A C) keeps the motif's third and fits the
    # chord (a sequence; note by note it would be E A: E kept, G to the nearest tone A)
    assert pitches == [69, 72]
    assert np.flatnonzero(ctx.bars[1].forced).tolist() == [0, 6]  # the motif's onsets are forced
    assert motif_plan(ctx, st, 0) == {}  # bar 0 states, it restates nothing


def test_motif_plan_melody_alone_leaves_accents_the_rule_parts_sound(decoding, make_controls):
    # the melody is the only sampled track (the accompaniment is arranged by rule): an accent the
    # statement's melody does not play is no longer forced where a rule part sounds it (the melody
    # would add a note the statement lacks), but it stays forced where nothing else sounds it
    c = make_controls(n_bars=2, density=3, chords=((0, "maj"), (0, "maj")), tracks=("melody",))
    acc = np.zeros(32, dtype=bool)
    acc[[16 + 9, 16 + 13]] = True
    c = dataclasses.replace(c, accent_steps=acc)
    rule = np.zeros(33, dtype=np.int64)
    rule[16 + 9] = 3  # the arranged piano plays the accent on step 9 of bar 1, not the one on 13
    ctx, st = decoding(c, motif={1: 0}, rule_onsets=rule)
    assert int(ctx.track_ok.sum()) == 1 and ctx.track_ok[MEL]
    st.rows = [_row(TYPE_BOS), _row(TYPE_BAR), _row(TYPE_POS, 1, 2), _row(TYPE_NOTE, 0, 0, MEL, 1 + 64, 4, 5),
               _row(TYPE_POS, 7, 2), _row(TYPE_NOTE, 0, 0, MEL, 1 + 67, 2, 5), _row(TYPE_BAR)]
    st.bar = 1
    plan = motif_plan(ctx, st, 1)
    assert sorted(plan) == [0, 6]
    assert np.flatnonzero(ctx.bars[1].forced).tolist() == [0, 6, 13]
    assert ctx.bars[1].lo <= 3  # it may close with the motif's onsets and the unsounded accent
    st.motif, st.step = plan, 0
    from videobgm.compose.bar_constraints import pos_candidates

    # only the planned onsets and what must still sound may open a step
    assert np.flatnonzero(pos_candidates(ctx, st, free=5)).tolist() == [6]
    st.step = 6
    assert np.flatnonzero(pos_candidates(ctx, st, free=5)).tolist() == [13]


def test_motif_plan_with_an_accompanying_track_keeps_every_accent(decoding, make_controls):
    c = make_controls(n_bars=2, density=3, chords=((0, "maj"), (0, "maj")))
    acc = np.zeros(32, dtype=bool)
    acc[16 + 9] = True
    rule = np.zeros(33, dtype=np.int64)
    rule[16 + 9] = 3
    ctx, st = decoding(dataclasses.replace(c, accent_steps=acc), motif={1: 0}, rule_onsets=rule)
    assert int(ctx.track_ok.sum()) > 1
    st.rows = [_row(TYPE_BOS), _row(TYPE_BAR), _row(TYPE_POS, 1, 2), _row(TYPE_NOTE, 0, 0, MEL, 1 + 64, 4, 5),
               _row(TYPE_BAR)]
    st.bar = 1
    motif_plan(ctx, st, 1)
    assert np.flatnonzero(ctx.bars[1].forced).tolist() == [0, 9]  # another sampled track may play it


def test_motif_plan_continues_a_restated_run(decoding, make_controls):
    # bars 2-3 restate bars 0-1; bar 3's chord (A minor) is not bar 1's (C): on its own its E G
    # would be a sequence a fourth up (A C, see test_motif_plan_restates_the_statement_bar), but
    # bar 2 restated bar 0 as it was, so the run goes on from E (only G moves, to A)
    from videobgm.compose.phrasing import run_shift

    c = make_controls(n_bars=4, density=3, chords=((0, "maj"), (0, "maj"), (0, "maj"), (9, "min")))
    ctx, st = decoding(c, motif={2: 0, 3: 1})
    bar0 = [_row(TYPE_BAR), _row(TYPE_POS, 1, 2), _row(TYPE_NOTE, 0, 0, MEL, 1 + 62, 4, 5),
            _row(TYPE_NOTE, 0, 0, MEL, 1 + 64, 4, 5)]  # the top note (64) is the melody's
    bar1 = [_row(TYPE_BAR), _row(TYPE_POS, 1, 2), _row(TYPE_NOTE, 0, 0, MEL, 1 + 64, 4, 5),
            _row(TYPE_POS, 7, 2), _row(TYPE_NOTE, 0, 0, MEL, 1 + 67, 2, 5)]
    st.rows = [_row(TYPE_BOS)] + bar0 + bar1 + bar0 + [_row(TYPE_BAR)]
    st.bar = 3
    assert run_shift(ctx, st, 3, 1) == 0
    assert run_shift(ctx, st, 2, 0) is None  # bar 1 restates nothing: bar 2 starts the run
    assert [p - 1 for p, _ in motif_plan(ctx, st, 3).values()] == [64, 69]
    # bar 2 a fourth up (A over C): the run's shift is 5, the sequence goes on (A C)
    bar2 = [_row(TYPE_BAR), _row(TYPE_POS, 1, 2), _row(TYPE_NOTE, 0, 0, MEL, 1 + 69, 4, 5)]
    st.rows = [_row(TYPE_BOS)] + bar0 + bar1 + bar2 + [_row(TYPE_BAR)]
    assert run_shift(ctx, st, 3, 1) == 5
    assert [p - 1 for p, _ in motif_plan(ctx, st, 3).values()] == [69, 72]


def test_motif_plan_of_a_restating_units_last_bar(decoding, make_controls):
    # a head bar (the unit's last, its ending free): the statement's first half and the onset
    # of its second half's first note (the ending note, on the statement's beat), not the rest
    from videobgm.music.motif import Layout

    lay = Layout()
    lay.heads[1] = 0
    ctx, st = decoding(make_controls(n_bars=2, density=4, chords=((0, "maj"), (0, "maj"))), motif=lay)
    assert ctx.motif_heads == {1: 0} and ctx.motif_map == {}
    st.rows = [_row(TYPE_BOS), _row(TYPE_BAR)] + [r for s_, p in ((0, 64), (4, 62), (9, 60), (12, 67))
                                                  for r in (_row(TYPE_POS, s_ + 1, 2), _row(TYPE_NOTE, 0, 0, MEL, 1 + p, 2, 5))]
    st.rows.append(_row(TYPE_BAR))
    plan = motif_plan(ctx, st, 1)
    assert {s_: p - 1 for s_, (p, _) in plan.items()} == {0: 64, 4: 62, 9: 60}


def test_one_voice_ends_each_melody_note_by_the_next_melody_onset():
    notes = [Note(0, "melody", 72, 6, 80), Note(0, "piano", 60, 16, 64),   # overlaps the next by 2
             Note(4, "melody", 74, 2, 80),                                 # ends at 6: untouched
             Note(8, "melody", 76, 8, 80), Note(8, "melody", 79, 8, 80),   # a third: both cut to 4
             Note(12, "melody", 76, 1, 90),                                # same pitch re-struck
             Note(13, "bass", 36, 3, 70), Note(14, "melody", 77, 5, 80)]   # the last: as it was
    got = one_voice(notes)
    assert [(n.onset_16th, n.track, n.pitch, n.duration_16th) for n in got] == [
        (0, "melody", 72, 4), (0, "piano", 60, 16), (4, "melody", 74, 2), (8, "melody", 76, 4),
        (8, "melody", 79, 4), (12, "melody", 76, 1), (13, "bass", 36, 3), (14, "melody", 77, 5)]
    # a solo instrument: of the notes struck together the highest stays
    solo = one_voice(notes, single=True)
    assert [(n.onset_16th, n.pitch, n.duration_16th) for n in solo if n.track == "melody"] == [
        (0, 72, 4), (4, 74, 2), (8, 79, 4), (12, 76, 1), (14, 77, 5)]
    # kept notes (by index) stay as they were; a note never drops below one 16th
    assert one_voice(notes, fixed=frozenset({0}))[0].duration_16th == 6
    assert one_voice(notes, single=True, fixed=frozenset({3}))[3:5] == [notes[3], Note(8, "melody", 79, 4, 80)]
    # a solo bass keeps the lowest of notes struck together; the other tracks are left alone
    bass = [Note(0, "bass", 48, 8, 80), Note(0, "bass", 36, 8, 80), Note(4, "bass", 43, 4, 80), Note(0, "piano", 60, 8, 64)]
    assert one_voice(bass, "bass", single=True) == [Note(0, "bass", 36, 4, 80), Note(4, "bass", 43, 4, 80),
                                                    Note(0, "piano", 60, 8, 64)]


def test_solo_tracks_are_the_tracks_of_monophonic_instruments():
    acoustic = {"melody": "guitar", "piano": "acoustic_guitar", "bridge": "flute", "bass": "acoustic_bass"}
    assert solo_tracks(acoustic) == ("bridge",)
    assert solo_tracks({"melody": "piano", "piano": "strings", "bridge": "pad"}) == ()
    assert solo_tracks({"melody": "sax", "piano": "piano", "bass": "cello", "drums": "drums"}) == ("melody", "bass")
