"""Visual beats become heard strokes (issue 14), clashes as a measured colour and tempo inside the
style's range (issue 19): known answers on the arranger, the clash resolver and the description."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.music.test_styles import _controls
from tests.plan.test_planner import make_features
from videobgm.bridges.resolve import resolve_description
from videobgm.compose import arrange, textures
from videobgm.compose.clashes import clash_share, yield_to_foreground
from videobgm.config import PlanConfig
from videobgm.music import styles
from videobgm.plan.planner import make_plan
from videobgm.types import Note, step_times_from_beats

ARRANGED = ("electronic", "acoustic", "ambient", "cinematic")  # pop's texture is the model's


# ------------------------------------------------------------------------- clashes (issue 19)
def test_yield_to_foreground_known_answers() -> None:
    mel = Note(4, "melody", 65, 4, 90)  # F over a held E: a semitone
    pad = Note(0, "piano", 64, 16, 70)  # started before: released where the melody enters
    late = Note(5, "bass", 41, 2, 80)  # F vs F: no clash, kept
    inside = Note(6, "bridge", 76, 2, 80)  # E starting under the melody's F: dropped
    out = yield_to_foreground([mel, pad, late, inside], 16)
    assert Note(0, "piano", 64, 4, 70) in out and mel in out and late in out
    assert all(n.track != "bridge" for n in out)
    assert clash_share(out, 16) == 0.0
    # a tension bar keeps its clash; a protected step keeps its track's only onset there
    assert yield_to_foreground([mel, pad], 16, allowed_bars=[0]) == sorted([mel, pad])
    assert inside in yield_to_foreground([mel, inside], 16, protected_steps=[6])
    # the measure: 4 of the 16 sounding steps have F against E
    assert clash_share([mel, pad], 16) == pytest.approx(4 / 16)


def test_inner_voices_yield_the_outer_voices_stand() -> None:
    """The held pad returns after the melody's clashing note; a note that would be dropped moves
    to the nearest chord tone clear of the melody; the bass (the chord's root) never moves."""
    mel = Note(4, "melody", 65, 4, 90)  # F, steps 4-8
    pad = Note(0, "piano", 64, 16, 70)  # E held through the bar
    out = yield_to_foreground([mel, pad], 16)
    assert Note(0, "piano", 64, 4, 70) in out and Note(8, "piano", 64, 8, 58) in out
    c_major = {0, 4, 7}
    inside = Note(5, "bridge", 64, 2, 80)  # E under the melody's F: to G (3 up) rather than C (4 down)
    out = yield_to_foreground([mel, inside], 16, chord_at=lambda step: c_major)
    assert Note(5, "bridge", 67, 2, 80) in out and clash_share(out, 16) == 0.0
    bass = Note(4, "bass", 40, 4, 80)  # E under F: a minor ninth, but the root stays
    assert yield_to_foreground([mel, bass], 16, chord_at=lambda step: c_major) == sorted([mel, bass])
    # the inner voice also yields to the bass
    low = Note(4, "piano", 53, 4, 60)  # F against the bass's E
    out = yield_to_foreground([bass, low], 16, chord_at=lambda step: c_major)
    assert bass in out and all(not (n.track == "piano" and n.pitch % 12 == 5) for n in out)


@pytest.mark.parametrize("style", ARRANGED)
def test_tense_clashes_only_in_tension_bars_and_a_few_percent(style: str) -> None:
    c = _controls(style, "tense")
    idm = styles.idiom(style, "tense")
    tension = [b for b in range(c.n_bars) if textures.tension_bar(c, idm, b)]
    assert 3 in tension and 0 not in tension  # the fill bar / end of the variation period
    notes = [n for n in arrange.rule_notes(c) if n.track != "drums"]
    spb = c.steps_per_bar
    share = clash_share(notes, c.n_bars * spb)
    assert 0.01 <= share <= 0.15, share  # one tension bar in 7 sounding bars
    for b in range(c.n_bars):  # the colour sits in the tension bars; the others are consonant
        bar = [dataclasses.replace(n, onset_16th=max(n.onset_16th, b * spb) - b * spb,
                                   duration_16th=min(n.onset_16th + n.duration_16th, (b + 1) * spb)
                                   - max(n.onset_16th, b * spb))
               for n in notes if n.onset_16th < (b + 1) * spb and n.onset_16th + n.duration_16th > b * spb]
        if b in tension and b != c.ending_bar:
            assert clash_share(bar, spb) >= 0.1, (style, b)
        elif b not in tension:
            assert clash_share(bar, spb) == 0.0, (style, b)


@pytest.mark.parametrize("style", ARRANGED)
def test_calm_arranged_parts_have_no_clash(style: str) -> None:
    c = _controls(style, "calm")
    notes = [n for n in arrange.rule_notes(c) if n.track != "drums"]
    assert clash_share(notes, c.n_bars * c.steps_per_bar) <= 0.02


# --------------------------------------------------------------- visual beats -> strokes (#14)
@pytest.mark.parametrize("style,key", [("pop", textures.SNARE), ("electronic", textures.CLAP),
                                       ("cinematic", textures.TOM_LOW)])
def test_accent_off_the_groove_gets_a_stroke(style: str, key: int) -> None:
    acc = np.zeros(8 * 16, bool)
    acc[[5, 23, 37, 90]] = True  # 16ths off every groove's kick / snare / clap
    c = dataclasses.replace(_controls(style, "neutral"), accent_steps=acc)
    drums = [n for n in arrange.rule_notes(c) if n.track == "drums"]
    for k in (5, 23, 37, 90):
        assert any(n.onset_16th == k and n.pitch == key for n in drums), (style, k)
    # a hit point owns its moment: nothing on the kit on the 16th before it
    for k, _ in c.hits:  # (cinematic: only its timpani-like roll into the hit)
        assert not any(n.onset_16th == k - 1 and n.pitch != textures.TOM_FLOOR for n in drums), (style, k)


def test_visual_beats_at_chosen_times_are_heard_in_the_midi() -> None:
    """A synthetic video with strong visual beats at chosen (off-grid) times: the plan accents
    the nearest 16th within 70 ms and the drum part strikes there."""
    times = np.array([1.37, 2.61, 4.18, 5.52, 7.03, 8.94, 10.41, 12.77])
    beats = np.sort(np.concatenate([times, times + 0.33]))
    strength = np.where(np.isin(beats, times), 1.0, 0.1)  # the chosen ones are the strong half
    f = make_features(16.0, tempo_bpm=120.0, beats_s=beats, beat_strength=strength)
    plan = make_plan(f, PlanConfig(style="pop", accent_quantile=0.5))
    steps = step_times_from_beats(plan.beat_times_s)
    c = arrange.styled_controls(plan, 0)
    drum_t = np.array(sorted({steps[n.onset_16th] for n in arrange.rule_notes(c) if n.track == "drums"
                              and n.pitch in (textures.KICK, textures.SNARE, textures.CLAP)}))
    acc_t = steps[np.flatnonzero(plan.controls.accent_steps)]
    for t in times:
        assert np.min(np.abs(acc_t - t)) <= 0.07, t
        assert np.min(np.abs(drum_t - t)) <= 0.07, t


# ------------------------------------------------------------------------ tempo (issue 19)
def test_fit_tempo_known_answers() -> None:
    m = styles.FIT_MARGIN  # aimed this far inside the range
    assert styles.fit_tempo(110.0, "pop", "neutral", visual=True) == (110.0, "")  # 88-124
    t, why = styles.fit_tempo(55.0, "pop", "neutral", visual=True)
    assert t == 110.0 and "folded x2" in why
    # 72 bpm electronic/playful (118-132): the nearest octave is 144, moved to the upper bound
    t, why = styles.fit_tempo(72.0, "electronic", "playful", visual=True)
    assert t == pytest.approx(132.0 / (1 + m)) and "moved into" in why
    t, _ = styles.fit_tempo(85.0, "pop", "happy", visual=True)  # 85 / 170 vs 100-128
    assert t == pytest.approx(100.0 * (1 + m))
    # a narrow range: its geometric middle
    lo, hi = styles.idiom("electronic", "calm").tempo_range_bpm
    assert styles.fit_tempo(60.0, "electronic", "calm", visual=False)[0] == pytest.approx((lo * hi) ** 0.5)


def test_the_description_fits_the_video_tempo_to_its_style() -> None:
    f = make_features(24.0, tempo_bpm=120.0)  # reads as ambient (56-90 bpm): 120 -> 60
    desc = resolve_description(f, PlanConfig())
    lo, hi = styles.idiom(desc.style, desc.mood).tempo_range_bpm
    assert lo <= desc.tempo_bpm <= hi and desc.tempo_bpm == 60.0  # folded x0.5
    plan = make_plan(f, PlanConfig())
    assert lo <= plan.tempo_bpm <= hi
    for style in styles.STYLE_IDIOMS:
        d = resolve_description(f, PlanConfig(style=style, mood="happy"))
        lo, hi = styles.idiom(style, "happy").tempo_range_bpm
        assert lo <= d.tempo_bpm <= hi, (style, d.tempo_bpm)
    # a prompt's mood default fits its style; a user tempo wins over the range
    from videobgm.bridges.resolve import parse_description

    d = parse_description("upbeat electronic dance")
    lo, hi = styles.idiom(d.style, d.mood).tempo_range_bpm
    assert lo <= d.tempo_bpm <= hi and parse_description("electronic dance at 100 bpm").tempo_bpm == 100.0
    assert resolve_description(f, PlanConfig(style="ambient", tempo_bpm=150.0)).tempo_bpm == 150.0


def test_named_cinematic_style_keeps_its_percussion() -> None:
    f = make_features(24.0, tempo_bpm=96.0)
    for mood in ("calm", "tense", "epic"):
        d = resolve_description(f, PlanConfig(style="cinematic", mood=mood))
        assert "drums" in d.instruments, (mood, d.instruments)
    assert "drums" not in resolve_description(f, PlanConfig(style="ambient")).instruments


def test_sparse_visual_beats_are_all_accented_and_heard() -> None:
    """Four visual beats in 40 s (rarer than one per SPARSE_BEAT_S): every one is an accent, and
    a drumless arrangement strikes each (texture or bass) where the pattern has no onset."""
    from videobgm.plan.motion_controls import SPARSE_BEAT_S

    times = np.array([5.13, 14.37, 22.61, 31.09])
    assert times.size * SPARSE_BEAT_S < 40.0
    f = make_features(40.0, tempo_bpm=90.0, beats_s=times, beat_strength=np.array([0.2, 0.9, 0.5, 0.7]))
    plan = make_plan(f, PlanConfig(style="acoustic", mood="calm"))
    steps = step_times_from_beats(plan.beat_times_s)
    acc = np.flatnonzero(plan.controls.accent_steps)
    assert all(np.min(np.abs(steps[acc] - t)) <= 0.07 for t in times)
    c = arrange.styled_controls(plan, 0)
    notes = arrange.rule_notes(c)
    piano = {n.onset_16th for n in notes if n.track == "piano"}
    bass = {n.onset_16th for n in notes if n.track == "bass"}
    # calm acoustic is an arpeggio: it keeps its pulse and the bass catches the accents it lacks
    assert set(acc.tolist()) <= piano | bass and set(acc.tolist()) - piano


def test_melody_tail_released_at_its_next_note_where_it_would_clash() -> None:
    """bottle-detection/cinematic/calm: the melody's B (5 16ths) held on under its own resolution
    C (2 16ths later) over the bass's C: the B ends where the C enters; pitches and onsets stay."""
    from videobgm.compose.clashes import release_melody_tails
    bass = Note(0, "bass", 36, 16, 90)
    b, c = Note(0, "melody", 83, 5, 90), Note(2, "melody", 84, 2, 90)
    out = yield_to_foreground([bass, b, c], 16)
    assert Note(0, "melody", 83, 2, 90) in out and c in out and bass in out
    assert clash_share(out, 16) == pytest.approx(2 / 16)  # the appoggiatura itself stays
    # no clash in the tail (E held under G over C): the legato overlap is kept
    e, g = Note(0, "melody", 76, 5, 90), Note(2, "melody", 79, 2, 90)
    assert release_melody_tails([bass, e, g], 16) == [bass, e, g]
    # a tension bar keeps it
    assert release_melody_tails([bass, b, c], 16, allowed_bars=[0]) == [bass, b, c]


def test_revoiced_inner_note_keeps_its_figure() -> None:
    """An ostinato's A (A-E figure) under the melody's G#... moves to a pitch its own bar already
    plays (E, 5 down) before the nearer chord tone it does not play (C#, 4 up)."""
    mel = Note(4, "melody", 68, 4, 90)  # G#
    fig = [Note(0, "piano", 57, 2, 80), Note(2, "piano", 52, 2, 80), Note(4, "piano", 57, 2, 80)]
    a_major = {9, 1, 4}
    out = yield_to_foreground([mel, *fig], 16, chord_at=lambda step: a_major)
    assert Note(4, "piano", 52, 2, 80) in out and {n.pitch % 12 for n in out if n.track == "piano"} == {9, 4}


def test_returning_tone_on_a_protected_step_that_clashes_again() -> None:
    """A held tone returns after one melody note (a new onset of its track) right where a second
    clashing melody note sounds, on a protected step: it is its track's only onset there, so it
    stays (this raised KeyError on the synthetic cut clips, seed 0)."""
    pad = Note(0, "bridge", 64, 16, 70)  # E
    m1 = Note(4, "melody", 65, 2, 90)  # F at 4-6: the E is released at 4, returns at 6
    m2 = Note(6, "melody", 77, 3, 90)  # F at 6-9: the returning E (at 6) starts with it
    out = yield_to_foreground([pad, m1, m2], 16, protected_steps=[6])
    assert Note(0, "bridge", 64, 4, 70) in out
    assert any(n.track == "bridge" and n.onset_16th == 6 for n in out)
    out = yield_to_foreground([pad, m1, m2], 16)  # not protected: dropped
    assert [n for n in out if n.track == "bridge"] == [Note(0, "bridge", 64, 4, 70)]


def test_a_resumed_tone_on_a_protected_step_is_counted() -> None:
    """A held piano C4 yields to a melody C#4 (steps 4-6) and returns at step 6, where a second
    melody C#4 enters on a protected step: the returned tone is the piano's only note there, so
    it is kept (it used to raise KeyError: its onset had not been counted)."""
    mel1, mel2 = Note(4, "melody", 61, 2, 90), Note(6, "melody", 61, 2, 90)
    held = Note(0, "piano", 60, 16, 70)
    out = yield_to_foreground([mel1, mel2, held], 16, protected_steps=(6,))
    piano = sorted((n.onset_16th, n.duration_16th) for n in out if n.track == "piano")
    assert piano[0] == (0, 4)  # released where the melody enters
    assert (6, 10) in piano  # returns (softer) after the clash; the protected step keeps it


def test_accent_stroke_under_a_clash_moves_to_a_chord_tone() -> None:
    """car-detection/cinematic/calm and bottle-detection/electronic/calm: an accent stroke (its
    track's only onset on a protected step) a semitone from the melody or the bass was kept as it
    was; it now moves to the nearest free chord tone like any other inner note (the onset, which
    the cut needs, stays), and stays as it is only when no chord tone is free."""
    mel = Note(4, "melody", 65, 4, 90)  # F
    stroke = Note(4, "piano", 64, 2, 97)  # E on the accent at step 4: a semitone under the F
    c_major = {0, 4, 7}
    out = yield_to_foreground([mel, stroke], 16, protected_steps=[4], chord_at=lambda step: c_major)
    assert out == sorted([mel, Note(4, "piano", 67, 2, 97)])  # G (3 up) before C (4 down)
    assert clash_share(out, 16) == 0.0
    # no chord to move to, or no free chord tone within a fourth: the stroke stays, clash and all
    assert yield_to_foreground([mel, stroke], 16, protected_steps=[4]) == sorted([mel, stroke])
    assert yield_to_foreground([mel, stroke], 16, protected_steps=[4],
                               chord_at=lambda step: {4}) == sorted([mel, stroke])
    # against the bass (the maj7 over the root, an accent stroke of the bridge): to the root
    bass = Note(0, "bass", 38, 16, 80)  # D
    hit = Note(12, "bridge", 85, 4, 97)  # C#, the chord's 7th, a semitone from the root
    d_maj7 = {2, 6, 9, 1}
    out = yield_to_foreground([bass, hit], 16, protected_steps=[12], chord_at=lambda step: d_maj7)
    assert Note(12, "bridge", 86, 4, 97) in out and clash_share(out, 16) == 0.0


def test_tension_bar_keeps_its_clash_on_accents() -> None:
    """A tense idiom's tension bar keeps the semitone, accent strokes included; the same notes a
    bar later (not a tension bar) are re-voiced."""
    mel0, stroke0 = Note(4, "melody", 65, 4, 90), Note(4, "piano", 64, 2, 97)
    mel1, stroke1 = Note(20, "melody", 65, 4, 90), Note(20, "piano", 64, 2, 97)
    out = yield_to_foreground([mel0, stroke0, mel1, stroke1], 16, allowed_bars=[0],
                              protected_steps=[4, 20], chord_at=lambda step: {0, 4, 7})
    assert stroke0 in out and stroke1 not in out and Note(20, "piano", 67, 2, 97) in out
    assert clash_share(out, 32) == pytest.approx(2 / 8)  # steps 4-5 of the 8 sounding


@pytest.mark.parametrize("style", ARRANGED)
def test_arranged_tension_bars_survive_the_resolver(style: str) -> None:
    """The arranged tense parts through the resolver with every beat an accent: the tension
    bars' clashes are all still there (the colour is the point), the other bars stay clean."""
    c = _controls(style, "tense")
    idm = styles.idiom(style, "tense")
    spb = c.steps_per_bar
    tension = [b for b in range(c.n_bars) if textures.tension_bar(c, idm, b)]
    notes = [n for n in arrange.rule_notes(c) if n.track != "drums"]
    roots, ivs = textures.chord_at_steps(c)
    out = yield_to_foreground(notes, spb, allowed_bars=tension, protected_steps=range(0, c.n_bars * spb, 4),
                              chord_at=lambda s: {(int(roots[s]) + i) % 12 for i in ivs[s]})
    for b in tension:
        inside = [n for n in notes if b * spb <= n.onset_16th < (b + 1) * spb]
        assert all(n in out for n in inside), (style, b)
    assert clash_share(out, c.n_bars * spb) >= 0.01


@pytest.mark.parametrize("style", ["pop", "electronic", "acoustic", "cinematic"])
def test_tense_pedal_leans_on_the_semitone_in_tension_bars(style: str) -> None:
    # the tonic pedal (A) in every bar; under the model's own piano (pop: no arranged texture
    # sounds the b9) it moves to Bb from the half bar of a tension bar (the half-step ostinato),
    # a semitone against the tonic the chords above it hold; under an arranged texture with the
    # b9 against it the pedal holds (Bb in both would cancel the colour)
    c = _controls(style, "tense")
    idm = styles.idiom(style, "tense")
    assert idm.bass == "pedal"
    spb = c.steps_per_bar
    bass = [n for n in arrange.rule_notes(c) if n.track == "bass"]
    for b in range(c.n_bars - 1):
        pcs = {(n.onset_16th % spb, n.pitch % 12) for n in bass if n.onset_16th // spb == b}
        if textures.tension_bar(c, idm, b) and idm.texture == "model":
            assert pcs == {(0, 9), (textures.TENSION_FROM_STEP, 10)}, (style, b)
        else:
            assert all(pc != 10 for _, pc in pcs), (style, b)
    assert (idm.texture == "model") == (style == "pop")
