"""compose/arrange.py: the rule-based bass and drum parts and the form's notes (known answers)."""

from __future__ import annotations

import numpy as np

from videobgm.compose import arrange as A
from videobgm.types import Chord, Controls, Note


def controls(density=(1, 24), **kw) -> Controls:
    """Two 4/4 bars in D minor: Dm from step 0, G from step 24 (bar 1, beat 3)."""
    n_bars = len(density)
    base = dict(n_bars=n_bars, beats_per_bar=4, density_per_bar=np.array(density),
                strength_per_beat=np.zeros(4 * n_bars, dtype=int),
                accent_steps=np.zeros(16 * n_bars, dtype=bool),
                chords=[Chord(0, 2, "min"), Chord(24, 7, "maj")], key_tonic=2, mode="minor",
                tracks=("melody", "piano", "bass", "drums"))
    base.update(kw)
    return Controls(**base)


def test_bass_follows_density_and_chord_changes() -> None:
    notes = A.bass_notes(controls())
    assert notes == [
        Note(0, "bass", 38, 16, 88),  # sparse bar: the root (D2) on the downbeat, held
        Note(16, "bass", 38, 4, 88), Note(20, "bass", 38, 4, 88),  # busy bar: every beat
        Note(24, "bass", 43, 4, 88), Note(28, "bass", 43, 4, 88),  # G2 from the chord change
    ]
    assert A.bass_notes(controls(), bars=(1, 2)) == notes[1:]
    assert A.bass_notes(controls(density=(0, 0))) == []  # silent bars stay silent


def test_bass_uses_the_chord_bass_and_reattacks_on_hits() -> None:
    c = controls(density=(10,), chords=[Chord(0, 0, "maj", bass=4)], hits=((6, "accent"),))
    assert A.bass_notes(c) == [  # C/E: the bass plays E; beats 1 and 3, and the hit at step 6
        Note(0, "bass", 40, 6, 88), Note(6, "bass", 40, 2, 112), Note(8, "bass", 40, 8, 88)]


def test_drums_by_density() -> None:
    sparse = [(n.onset_16th, n.pitch, n.velocity) for n in A.drum_notes(controls(density=(1,)))]
    assert sparse == [(0, A.KICK, 100), (0, A.HAT, 78), (4, A.HAT, 78), (8, A.HAT, 78),
                      (12, A.SNARE, 92), (12, A.HAT, 78)]
    busy = A.drum_notes(controls(density=(16,)))
    assert sorted(n.onset_16th for n in busy if n.pitch == A.KICK) == [0, 8]
    assert sorted(n.onset_16th for n in busy if n.pitch == A.SNARE) == [4, 12]  # back beats
    assert sorted(n.onset_16th for n in busy if n.pitch == A.HAT) == list(range(0, 16, 2))  # eighths
    assert A.drum_notes(controls(density=(0,))) == []


def test_drum_hits_fills_and_accents() -> None:
    c = controls(density=(1, 1), hits=((16, "section"), (6, "accent")), fill_bars=(0,),
                 accent_steps=np.eye(1, 32, 8, dtype=bool)[0])
    by_step = {}
    for n in A.drum_notes(c):
        by_step.setdefault(n.onset_16th, {})[n.pitch] = n.velocity
    assert by_step[16][A.CRASH] == 115 and by_step[16][A.KICK] == 110  # the section cut
    assert by_step[6] == {A.KICK: 110, A.SNARE: 104}  # the accent cut
    assert by_step[8] == {A.HAT: 78 + 18}  # a velocity accent raises what plays there
    assert [by_step[s] for s in (12, 13, 14, 15)] == [  # the crescendo fill on the last beat
        {A.SNARE: 74}, {A.SNARE: 85}, {A.SNARE: 96}, {A.LOW_TOM: 107}]


def test_ending_bar_holds_the_tonic() -> None:
    c = controls(density=(8, 0), ending_bar=1)
    end = [n for n in A.rule_notes(c) if n.onset_16th == 16]
    assert Note(16, "bass", 38, 16, 100) in end  # the root to the end
    assert {(n.pitch, n.velocity) for n in end if n.track == "drums"} == {(A.CRASH, 112), (A.KICK, 108)}
    assert sorted(n.pitch for n in end if n.track == "piano") == [62, 65, 69]  # D minor from G3 up
    assert [(n.pitch, n.duration_16th) for n in end if n.track == "melody"] == [(74, 16)]  # D5


def test_stabs_and_pickups_without_drums() -> None:
    c = controls(density=(4, 4), tracks=("melody", "piano"), hits=((16, "stab"),), fill_bars=(0,))
    notes = A.form_notes(c)
    assert [(n.onset_16th, n.pitch) for n in notes if n.duration_16th == 2] == [
        (16, 62), (16, 65), (16, 69)]  # the stab: the chord at the hit
    assert [(n.onset_16th, n.pitch, n.velocity) for n in notes if n.duration_16th == 1] == [
        (12, 74, 70), (13, 77, 80), (14, 81, 90), (15, 86, 100)]  # rising chord tones into bar 1
    assert A.form_notes(controls(density=(4, 4), hits=((16, "stab"),))) == []  # drums play it


def test_remaining_targets_subtract_the_pitched_rule_notes() -> None:
    c = controls(density=(1, 24), strength_per_beat=np.ones(8, dtype=int))
    rule = A.rule_notes(c)
    dens, stren = A.remaining_targets(c, rule)
    assert dens.tolist() == [0, 20]  # bass: 1 note in bar 0, 4 in bar 1; drums do not count
    assert stren.tolist() == [0, 1, 1, 1, 0, 0, 0, 0]


def test_pure_and_style_free() -> None:
    c = controls()
    assert A.rule_notes(c) == A.rule_notes(controls())
    assert A.rule_notes(c) == A.bass_notes(c) + A.drum_notes(c) + A.form_notes(c)


def test_the_button_restrikes_the_held_final_chord() -> None:
    # an accent 6 16ths into the held final bar (the picture's last strong hit): chord, bass and
    # kit strike again there, louder; the melody holds its tonic over it
    acc = np.zeros(32, dtype=bool)
    acc[22] = True
    c = controls(density=(8, 0), ending_bar=1, accent_steps=acc)
    assert c.ending_accents() == [22] and c.ending_spans() == [(16, 6), (22, 10)]
    notes = A.rule_notes(c)
    piano = sorted((n.onset_16th, n.pitch, n.duration_16th, n.velocity) for n in notes
                   if n.track == "piano" and n.onset_16th >= 16)
    assert piano == [(16, 62, 6, 92), (16, 65, 6, 92), (16, 69, 6, 92),
                     (22, 62, 10, A.BUTTON_VELOCITY), (22, 65, 10, A.BUTTON_VELOCITY),
                     (22, 69, 10, A.BUTTON_VELOCITY)]
    assert [n for n in notes if n.track == "bass" and n.onset_16th >= 16] == [
        Note(16, "bass", 38, 6, 100), Note(22, "bass", 38, 10, A.BUTTON_VELOCITY)]
    assert {n.pitch for n in notes if n.track == "drums" and n.onset_16th == 22} == {A.CRASH, A.KICK}
    assert [(n.onset_16th, n.duration_16th) for n in notes if n.track == "melody"] == [(16, 16)]
    # the lexicon styles' bass and kit (textures) strike it too
    from videobgm.compose import textures
    from videobgm.music import styles
    for style in ("pop", "cinematic", "electronic"):
        idm = styles.idiom(style, "neutral")
        bass = [n for n in textures.bass_line(c, idm) if n.onset_16th >= 16]
        assert [(n.onset_16th, n.duration_16th) for n in bass] == [(16, 6), (22, 10)], style
        kit = {n.pitch for n in textures.drum_part(c, idm, "neutral") if n.onset_16th == 22}
        assert textures.CRASH in kit, style
    # without the accent the chord is struck once, as before
    assert c.__class__(**{**c.__dict__, "accent_steps": np.zeros(32, dtype=bool)}).ending_spans() == [(16, 16)]


def test_the_model_is_not_forced_into_the_held_final_bar() -> None:
    from videobgm.compose.constraints import bar_targets
    from videobgm.config import SampleConfig

    acc = np.zeros(32, dtype=bool)
    acc[[5, 22]] = True
    bars = bar_targets(controls(density=(8, 0), ending_bar=1, accent_steps=acc), SampleConfig())
    assert bars[0].forced[5] and not bars[1].forced.any() and bars[1].hi == 0
