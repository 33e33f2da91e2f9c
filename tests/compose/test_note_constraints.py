"""compose/note_constraints.py: a NOTE's track, pitch, duration and velocity masks and biases."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from videobgm.compose.constraints import chord_tone_mask  # noqa: E402
from videobgm.compose.note_constraints import (  # noqa: E402
    avoid_note_bias,
    duration_mask,
    melody_line_bias,
    note_pitch,
    pitch_mask,
    register_bias,
    track_mask,
    velocity_mask,
)
from videobgm.config import SampleConfig  # noqa: E402
from videobgm.types import TRACKS, Note  # noqa: E402

MEL, PIANO, BRIDGE = (1 + TRACKS.index(t) for t in ("melody", "piano", "bridge"))
C_MAJOR = chord_tone_mask(2, None)  # chord value 2 = C major


def _durations(dm):
    return [int(v) for v in np.flatnonzero(dm)]


def test_pitch_mask_orders_notes_and_keeps_accompaniment_on_chord_tones(decoding, make_controls):
    ctx, st = decoding(make_controls(), SampleConfig(chord_bias=1.0, chord_tones_only_on_beats=True,
                                                     chord_tones_everywhere=False))
    st.bar, st.step, st.last_track, st.last_pitch = 0, 4, PIANO, 1 + 60
    pm, bias = pitch_mask(ctx, st, PIANO, C_MAJOR)
    assert np.flatnonzero(pm)[:3].tolist() == [1 + 64, 1 + 67, 1 + 72]  # above C4, chord tones only
    assert bias[1 + 62] == 0 and bias[1 + 40] == 1.0
    st.step = 5  # off the beat: any pitch above, chord tones favoured
    assert np.flatnonzero(pitch_mask(ctx, st, PIANO, C_MAJOR)[0])[0] == 1 + 61
    pm, bias = pitch_mask(ctx, st, MEL, C_MAJOR)  # another track: from the range's bottom, no bias
    assert np.flatnonzero(pm)[[0, -1]].tolist() == [1 + 21, 1 + 108] and bias is None


def test_track_mask_melody_bars_cadence_and_motif(decoding, make_controls):
    c = make_controls(tracks=("melody", "bridge", "piano"), melody_bars=np.array([False, True]))
    ctx, st = decoding(c)
    st.bar, st.step = 0, 0
    tm, bias = track_mask(ctx, st, C_MAJOR)
    assert np.flatnonzero(tm).tolist() == [BRIDGE, PIANO] and bias is None  # a bar without melody
    st.bar = 1  # a melody bar the melody has not entered yet: pulled in
    tm, bias = track_mask(ctx, st, C_MAJOR)
    assert tm[MEL] and bias[MEL] == SampleConfig().melody_presence_bias and bias[PIANO] == 0
    st.last_track = BRIDGE  # (track, pitch) increase inside a step
    assert np.flatnonzero(track_mask(ctx, st, C_MAJOR)[0]).tolist() == [BRIDGE, PIANO]
    st.last_track, st.cadence_done, st.melody_in_bar = 0, True, 1
    assert not track_mask(ctx, st, C_MAJOR)[0][MEL]  # the phrase has ended
    st.cadence_done, st.motif = False, {0: (1 + 72, 4)}
    tm, bias = track_mask(ctx, st, C_MAJOR)
    assert np.flatnonzero(tm).tolist() == [MEL] and bias is None  # the motif's onset
    st.step = 2
    assert not track_mask(ctx, st, C_MAJOR)[0][MEL]  # not a motif onset: no melody


def test_note_pitch_motif_and_melody_line(decoding, make_controls):
    ctx, st = decoding(make_controls(), SampleConfig(melody_step_bias=1.0, melody_resolve_bias=1.5,
                                                     melody_voicing_bias=0.0))
    st.bar, st.step, st.motif = 0, 0, {0: (1 + 74, 4)}
    pm, _, planned = note_pitch(ctx, st, MEL, C_MAJOR)
    assert np.flatnonzero(pm).tolist() == [1 + 74] and planned == (1 + 74, 4)
    st.melody_pitch, st.melody_nct = 65, True  # F4, not a tone of C major
    bias = melody_line_bias(ctx, st, C_MAJOR, 129)
    assert {p - 1: float(bias[p]) for p in np.flatnonzero(bias)} == {64: 2.5, 67: 2.5}  # steps that resolve
    st.melody_nct = False
    assert {p - 1: float(bias) for p, bias in enumerate(melody_line_bias(ctx, st, C_MAJOR, 129)) if bias} == \
        {64: 1.0, 67: 1.0}  # scale steps 1-2 semitones away (E, G; not Eb, F#)


def test_calm_melody_avoids_a_semitone_from_the_bass(decoding, make_controls):
    # a C major bar over a held C2 in the bass: in calm mood the major seventh (B) and the minor
    # ninth (C#) over the bass lose melody_avoid_bias logits; the soft colour tones (the 9th D,
    # the 6th A), the 4th F and the chord tones keep theirs. Neutral mood: no change
    bass = [Note(0, "bass", 36, 16, 80)]
    cfg = SampleConfig(melody_avoid_bias=3.0, melody_voicing_bias=0.0)
    ctx, st = decoding(make_controls(style="pop", mood="calm"), cfg, bass=bass)
    st.bar, st.step = 0, 0
    bias = avoid_note_bias(ctx, st, 129)
    assert {p - 1 for p in np.flatnonzero(bias) if 60 <= p - 1 < 72} == {61, 71}  # C#4, B4
    assert bias[1 + 71] == bias[1 + 83] == -3.0 and bias[1 + 74] == bias[1 + 69] == bias[1 + 65] == 0.0
    _, pbias, _ = note_pitch(ctx, st, MEL, C_MAJOR)
    assert pbias[1 + 71] < pbias[1 + 74]  # the maj7 over the root below the 9th
    st.bar = 1  # bar 1 has no bass note: nothing to avoid
    assert avoid_note_bias(ctx, st, 129) is None
    for mood in ("neutral", "tense"):  # other moods: off
        ctx, st = decoding(make_controls(style="pop", mood=mood), cfg, bass=bass)
        st.bar, st.step = 0, 0
        assert ctx.avoid_bias == 0.0 and avoid_note_bias(ctx, st, 129) is None
        assert note_pitch(ctx, st, MEL, C_MAJOR)[1] is None
    ctx, st = decoding(make_controls(style="pop", mood="calm"), cfg.replace(melody_avoid_bias=0.0), bass=bass)
    assert ctx.avoid_bias == 0.0  # switched off


def test_duration_mask_chord_change_breath_cadence_and_motif(decoding, make_controls):
    c = make_controls(tracks=("melody", "piano"))
    ctx, st = decoding(c, SampleConfig(release_at_chord_change=True), phrase_ends=(0,), breath_bars=(1,))
    st.bar, st.step = 0, 12  # the chord changes at step 16
    dm, cadence = duration_mask(ctx, st, PIANO, None)
    assert _durations(dm) == [1, 2, 3, 4] and not cadence  # value v lasts v steps up to 16
    dm, cadence = duration_mask(ctx, st, MEL, None)  # the phrase's last melody note: 4 steps, to the bar line
    assert _durations(dm) == [4] and cadence
    st.cadence_done = True
    assert _durations(duration_mask(ctx, st, MEL, None)[0])[-1] == 15  # bar 1 breathes from step 27: 15 steps on
    dm, cadence = duration_mask(ctx, st, MEL, (1 + 72, 2))
    assert _durations(dm) == [2] and not cadence


def test_velocity_mask_on_accents(decoding, make_controls):
    c = make_controls()
    c.accent_steps[3] = True
    ctx, st = decoding(c, SampleConfig(accent_velocity_bin=6))
    st.bar, st.step = 0, 3
    assert np.flatnonzero(velocity_mask(ctx, st)).tolist() == [6, 7, 8]
    st.step = 2
    assert np.flatnonzero(velocity_mask(ctx, st)).tolist() == list(range(1, 9))


def test_register_bias_pulls_the_line_toward_the_bar_target(decoding, make_controls):
    cfg = SampleConfig(melody_register_bias=6.0, melody_register_band=3.0)
    ctx, st = decoding(make_controls(register_per_bar=np.array([74.0, 62.0])), cfg)
    st.bar = 0  # the first melody note: a window beyond the band, 6 logits an octave
    b = register_bias(ctx, st, 129)
    assert b[1 + 74] == b[1 + 77] == b[1 + 71] == 0.0
    assert b[1 + 89] == pytest.approx(-6.0) and b[1 + 83] == pytest.approx(-3.0)
    st.melody_pitch, st.melody_recent = 88, [86, 90, 88]  # the line sits 14 above: down favoured
    b = register_bias(ctx, st, 129)
    assert b[1 + 86] == pytest.approx(1.0) and b[1 + 90] == pytest.approx(-1.0) and b[1 + 88] == 0.0
    assert b[1 + 76] == pytest.approx(6.0)  # an octave down: the full tilt
    st.melody_recent = [74, 76]  # inside the band: no pull
    assert register_bias(ctx, st, 129) is None
    st.bar, st.melody_pitch, st.melody_recent = 1, 70, [70]  # bar 1's target is 62: 8 off, 5 past the band
    b = register_bias(ctx, st, 129)
    assert b[1 + 58] == pytest.approx(5.0) and b[1 + 82] == pytest.approx(-5.0)
    ctx, st = decoding(make_controls(), cfg)  # no target: no bias
    assert register_bias(ctx, st, 129) is None


def test_duration_mask_of_a_restated_ending_note(decoding, make_controls):
    # a restating unit's last bar at a phrase end: its planned note from the third beat on (the
    # statement's ending note) takes the cadence's durations (to the bar line), its pitch stays
    from videobgm.music.motif import Layout

    lay = Layout()
    lay.heads[1] = 0
    c = make_controls(tracks=("melody", "piano"))
    ctx, st = decoding(c, phrase_ends=(1,), motif=lay)
    st.bar, st.step = 1, 8
    dm, cadence = duration_mask(ctx, st, MEL, (1 + 72, 2))
    assert _durations(dm) == [4, 5, 6, 7, 8] and cadence  # a quarter or more, by the bar line
    st.step = 4  # the first half: the statement's duration
    dm, cadence = duration_mask(ctx, st, MEL, (1 + 72, 2))
    assert _durations(dm) == [2] and not cadence
    st.step, st.bar = 8, 0  # bar 0 is no phrase end: the statement's duration
    assert _durations(duration_mask(ctx, st, MEL, (1 + 72, 2))[0]) == [2]
