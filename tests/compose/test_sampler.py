"""Constrained sampling with an untrained ``tiny`` model: grammar, controls, seeds, regeneration."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from videobgm.compose.checkpoint import build_untrained  # noqa: E402
from videobgm.compose.constraints import CHORD_INTERVALS  # noqa: E402
from videobgm.compose.sampler import generate  # noqa: E402
from videobgm.compose.score_controls import controls_from_score  # noqa: E402
from videobgm.config import ModelConfig, SampleConfig  # noqa: E402
from videobgm.errors import OptionError  # noqa: E402
from videobgm.types import Chord, Note, Score  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tok: tests/compose/conftest.py

PROG = [(0, "maj"), (9, "min"), (5, "maj"), (7, "7")]


@pytest.fixture(scope="module")
def model(tok):
    return build_untrained(ModelConfig.preset("tiny"), tok, seed=0)


def _reference(n_bars: int = 6) -> Score:
    """A plain song: melody on every 8th, piano triads on beats 1 and 3, one chord per bar.

    Bar ``b`` has ``2 + b`` extra melody 16ths so that densities differ between bars.
    """
    notes, chords = [], []
    for b in range(n_bars):
        root, q = PROG[b % 4]
        chords.append(Chord(b * 16, root, q))
        for s in range(0, 16, 2):
            notes.append(Note(b * 16 + s, "melody", 72 + (s // 2) % 5, 2, 80))
        for s in range(1, 2 + 2 * min(b, 6), 2):
            notes.append(Note(b * 16 + s, "melody", 79, 1, 70))
        for s in (0, 8):
            for i in CHORD_INTERVALS[q]:
                notes.append(Note(b * 16 + s, "piano", 48 + root + i, 8, 64))
    notes.sort(key=lambda n: (n.onset_16th, n.track, n.pitch))
    return Score(notes=notes, n_bars=n_bars, chords=chords, key_tonic=0, mode="major", tempo_bpm=100.0)


@pytest.fixture(scope="module")
def controls():
    c = controls_from_score(_reference())
    c.accent_steps = np.zeros_like(c.accent_steps)
    c.accent_steps[[3, 21, 40, 90]] = True  # off-beat accents in bars 0, 1, 2, 5
    return c


@pytest.fixture(scope="module")
def piece(model, tok, controls):
    return generate(controls, model, tok, SampleConfig(seed=1))


def test_valid_music_with_exact_bar_count(piece, controls, tok):
    assert piece.n_bars == controls.n_bars
    assert piece.notes and all(0 <= n.onset_16th < piece.n_steps for n in piece.notes)
    assert {n.track for n in piece.notes} <= set(controls.tracks)
    assert piece.chords == controls.chords
    tokens, _ = tok.encode(piece)
    assert (tokens[:, 0] == tok.TYPE_BAR).sum() == controls.n_bars and tokens[-1, 0] == tok.TYPE_EOS


def test_density_strength_and_accents_are_obeyed(piece, controls):
    real = controls_from_score(piece)
    want = np.asarray(controls.density_per_bar)
    got = real.density_per_bar
    assert np.all(got >= np.floor(0.85 * want)) and np.all(got <= np.ceil(1.15 * want) + 1), (want, got)
    ws, gs = np.asarray(controls.strength_per_beat), real.strength_per_beat
    assert np.all(gs >= ws) and np.all(gs <= ws + 1), (ws, gs)
    for s in np.flatnonzero(controls.accent_steps):
        vel = [n.velocity for n in piece.notes if n.onset_16th == s]
        assert vel and max(vel) >= 97, (s, vel)  # velocity bin >= 7


def test_accompaniment_on_beats_uses_chord_tones(piece, controls):
    for n in piece.notes:
        if n.track == "piano" and n.onset_16th % 4 == 0:
            root, q = PROG[(n.onset_16th // 16) % 4]
            assert (n.pitch - root) % 12 in CHORD_INTERVALS[q]


def test_seeded_determinism(model, tok, controls, piece):
    again = generate(controls, model, tok, SampleConfig(seed=1))
    other = generate(controls, model, tok, SampleConfig(seed=2))
    assert again.notes == piece.notes
    assert other.notes != piece.notes


def test_tracks_are_restricted(model, tok, controls):
    import dataclasses

    only = dataclasses.replace(controls, tracks=("piano",))
    out = generate(only, model, tok, SampleConfig(seed=3))
    assert out.notes and {n.track for n in out.notes} == {"piano"}
    with pytest.raises(OptionError, match="track"):
        generate(dataclasses.replace(controls, tracks=("violin",)), model, tok, SampleConfig(seed=3))


def test_rule_bass_and_drums(model, tok, controls):
    import dataclasses

    from videobgm.compose.constraints import CHORD_INTERVALS as IV

    drums_only = generate(dataclasses.replace(controls, tracks=("drums",)), model, tok, SampleConfig(seed=3))
    assert drums_only.notes and {n.track for n in drums_only.notes} == {"drums"}
    # issue 17: crashes only on hit points (cuts); the other accent steps are velocity accents
    acc = np.flatnonzero(controls.accent_steps).tolist()
    full = dataclasses.replace(controls, tracks=("melody", "piano", "bass", "drums"),
                               hits=tuple((int(k), "crash") for k in acc[:2]))
    out = generate(full, model, tok, SampleConfig(seed=3))
    assert {n.track for n in out.notes} == {"melody", "piano", "bass", "drums"}
    for n in out.notes:
        if n.track == "bass":  # the bass plays chord roots in octave 2
            root, _ = PROG[(n.onset_16th // 16) % 4]
            assert 36 <= n.pitch <= 47 and n.pitch % 12 == root and 0 in IV["maj"]
    crash = {n.onset_16th for n in out.notes if n.track == "drums" and n.pitch == 49}
    assert crash == set(acc[:2]) and len(acc) > 2
    # bass onsets count toward the bar's density: the total still follows the request
    real = controls_from_score(out).density_per_bar
    want = np.asarray(controls.density_per_bar)
    assert np.all(real >= np.floor(0.85 * want)) and np.all(real <= np.ceil(1.15 * want) + 1), (want, real)
    regen = generate(full, model, tok, SampleConfig(seed=9), keep=out, regenerate_bars=(1, 3))
    assert [n for n in regen.notes if n.track in ("bass", "drums")] == \
        [n for n in out.notes if n.track in ("bass", "drums")]


def test_section_regeneration_keeps_outside_notes(model, tok, controls, piece):
    a, b = 2, 4
    lo, hi = a * 16, b * 16
    new = generate(controls, model, tok, SampleConfig(seed=7), keep=piece, regenerate_bars=(a, b))
    outside = [n for n in piece.notes if not lo <= n.onset_16th < hi]
    assert [n for n in new.notes if not lo <= n.onset_16th < hi] == outside
    inside_old = [n for n in piece.notes if lo <= n.onset_16th < hi]
    inside_new = [n for n in new.notes if lo <= n.onset_16th < hi]
    assert inside_new and inside_new != inside_old
    assert all(n.onset_16th + n.duration_16th <= hi for n in inside_new)
    assert new.n_bars == piece.n_bars
    # the regenerated bars still follow the controls
    d = controls_from_score(new).density_per_bar[a:b]
    want = np.asarray(controls.density_per_bar)[a:b]
    assert np.all(d >= np.floor(0.85 * want)) and np.all(d <= np.ceil(1.15 * want) + 1)
    with pytest.raises(OptionError):
        generate(controls, model, tok, SampleConfig(seed=7), keep=piece, regenerate_bars=(4, 2))


def test_unconstrained_mode_still_valid(model, tok, controls):
    out = generate(controls, model, tok, SampleConfig(seed=4, constrained=False, max_tokens_per_bar=40))
    assert out.n_bars == controls.n_bars
    tokens, _ = tok.encode(out)
    assert (tokens[:, 0] == tok.TYPE_BAR).sum() == controls.n_bars


def test_similar_bar_repetition_refits_to_new_chord(model, tok):
    """A bar whose chords differ from 4 bars earlier on one beat still repeats that bar's rhythm, but
    accompaniment notes under the changed chord become its chord tones."""
    import dataclasses

    ref = _reference(4)
    bar0 = [n for n in ref.notes if n.onset_16th < 16]
    chords = [Chord(16 * b, *PROG[b % 4]) for b in range(8)]
    chords.insert(6, Chord(16 * 5 + 12, 2, "min"))  # bar 5, last beat: Dm instead of Am
    same = Score(notes=[dataclasses.replace(n, onset_16th=n.onset_16th + 16 * b) for b in range(8) for n in bar0],
                 n_bars=8, chords=chords)
    c = controls_from_score(same)
    c.accent_steps[:] = False
    dm = {(2 + i) % 12 for i in CHORD_INTERVALS["min"]}
    repeated = checked = 0
    before = []
    for seed in range(10):  # a repeat can fail (a re-fitted note breaks the pitch order); most fire
        out = generate(c, model, tok, SampleConfig(seed=seed, repeat_prob=1.0, repeat_periods=(4,),
                                                   melody_chord_bias=2.0))  # chord-tone melody: refits rarely fail
        bar1 = [(n.onset_16th - 16, n.track) for n in out.notes if 16 <= n.onset_16th < 32]
        bar5 = [(n.onset_16th - 80, n.track) for n in out.notes if 80 <= n.onset_16th < 96]
        if not (bar1 and bar1 == bar5):
            continue
        repeated += 1
        late = [n for n in out.notes if 92 <= n.onset_16th < 96 and n.track in ("piano", "bridge", "bass")]
        assert all(n.pitch % 12 in dm for n in late), (seed, late)
        checked += len(late)
        before += [n for n in out.notes if 28 <= n.onset_16th < 32 and n.track in ("piano", "bridge", "bass")]
    assert repeated >= 5 and checked > 0, (repeated, checked)
    assert any(n.pitch % 12 not in dm for n in before)  # bar 1 (Am there) was not already Dm-only


def test_phrase_repetition(model, tok):
    """With repeat_prob 1, a bar whose beats carry the same chords as 4 bars earlier repeats it."""
    import dataclasses

    ref = _reference(4)
    bar0 = [n for n in ref.notes if n.onset_16th < 16]
    same = Score(notes=[dataclasses.replace(n, onset_16th=n.onset_16th + 16 * b) for b in range(8) for n in bar0],
                 n_bars=8, chords=[Chord(16 * b, *PROG[b % 4]) for b in range(8)])
    c = controls_from_score(same)
    c.accent_steps[:] = False
    # (budget_bias 0: with it this untrained model's bar 1 holds a step whose notes on one track
    # descend - the pitch mask's fallback when no higher pitch is left - and refit() declines to
    # copy such a bar; a pre-existing limit of refit, not of the repetition asserted here)
    out = generate(c, model, tok, SampleConfig(seed=5, repeat_prob=1.0, repeat_periods=(4,), budget_bias=0.0))
    first = [(n.onset_16th, n.track, n.pitch, n.duration_16th) for n in out.notes if n.onset_16th < 64]
    second = [(n.onset_16th - 64, n.track, n.pitch, n.duration_16th) for n in out.notes if n.onset_16th >= 64]
    assert first and first == second
    off = generate(c, model, tok, SampleConfig(seed=5, repeat_prob=0.0))
    first = [(n.onset_16th, n.pitch) for n in off.notes if n.onset_16th < 64]
    assert first != [(n.onset_16th - 64, n.pitch) for n in off.notes if n.onset_16th >= 64]


def _third_rate(piece) -> float:
    """Fraction of beats with sounding piano notes whose pitch classes include the chord's third."""
    pcs = np.zeros((piece.n_steps // 4, 12), dtype=bool)
    for n in piece.notes:
        if n.track == "piano":
            for s in range(n.onset_16th, min(n.onset_16th + n.duration_16th, piece.n_steps)):
                pcs[s // 4, n.pitch % 12] = True
    have = [bool(pcs[b, (PROG[(b // 4) % 4][0] + CHORD_INTERVALS[PROG[(b // 4) % 4][1]][1]) % 12])
            for b in range(pcs.shape[0]) if pcs[b].any()]
    return float(np.mean(have))


def test_voicing_bias_completes_chords(model, tok):
    """Two piano notes per beat (chord tones only): with the voicing bonus the second is a tone the
    first left out, so the chord's third sounds in (nearly) every beat; an untrained model without
    the bonus repeats pitch classes and leaves the third out far more often."""
    notes, chords = [], []
    for b in range(8):
        root, q = PROG[b % 4]
        chords.append(Chord(b * 16, root, q))
        for s in range(0, 16, 4):
            notes += [Note(b * 16 + s, "piano", 48 + root, 2, 64), Note(b * 16 + s + 2, "piano", 55 + root, 2, 64)]
    ref = Score(notes=notes, n_bars=8, chords=chords, key_tonic=0, mode="major", tempo_bpm=100.0)
    c = controls_from_score(ref)
    # (repeat_prob 0: no bar copies another, the 48 bars are independent draws; budget_bias 0: a
    # beat may take more notes than the bar's 8, as the test was written for)
    on = [_third_rate(generate(c, model, tok, SampleConfig(seed=s, voicing_bias=8.0, budget_bias=0.0))) for s in range(6)]
    off = [_third_rate(generate(c, model, tok, SampleConfig(seed=s, voicing_bias=0.0, budget_bias=0.0))) for s in range(6)]
    assert np.mean(on) >= 0.9, on
    assert np.mean(on) > np.mean(off) + 0.1, (on, off)


def test_melody_bars_are_obeyed(model, tok, controls):
    """No melody in bars marked off; the melody enters (nearly) every bar marked on."""
    import dataclasses

    want = np.array([False, True, False, True, True, True])
    c = dataclasses.replace(controls, melody_bars=want)
    present = []
    for seed in range(4):
        out = generate(c, model, tok, SampleConfig(seed=seed))
        bars = {n.onset_16th // 16 for n in out.notes if n.track == "melody"}
        assert not bars & set(np.flatnonzero(~want).tolist()), (seed, bars)
        present += [b in bars for b in np.flatnonzero(want)]
    assert np.mean(present) >= 0.9, present
    with pytest.raises(OptionError, match="melody_bars"):
        generate(dataclasses.replace(controls, melody_bars=np.ones(3, bool)), model, tok, SampleConfig())


def _empty_beats(piece, b0: int = 0, b1: int | None = None) -> int:
    """Beats ``b0 .. b1 - 1`` (default: all) in which no note sounds."""
    filled = np.zeros(piece.n_steps // 4, dtype=bool)
    for n in piece.notes:
        filled[n.onset_16th // 4: (n.onset_16th + n.duration_16th - 1) // 4 + 1] = True
    return int((~filled[b0:b1]).sum())


def test_gap_bias_avoids_silent_beats(model, tok):
    """Sparse bars (3 onsets in 4 beats, no strength targets): with the gap malus fewer beats are
    left with nothing sounding than without it."""
    notes = [Note(b * 16 + s, "piano", 60, 1, 64) for b in range(8) for s in (1, 6, 9)]
    ref = Score(notes=notes, n_bars=8, chords=[Chord(16 * b, *PROG[b % 4]) for b in range(8)])
    c = controls_from_score(ref)
    on = sum(_empty_beats(generate(c, model, tok, SampleConfig(seed=s, gap_bias=6.0))) for s in range(4))
    off = sum(_empty_beats(generate(c, model, tok, SampleConfig(seed=s, gap_bias=0.0))) for s in range(4))
    assert off >= 8 and on <= off / 2, (on, off)


def test_rests_ring_through_bars_without_onsets(model, tok):
    """Bars 1-2 ask for no onsets under one held chord: with ring_rests the last notes of bar 0
    sound into them (the onsets and their count are unchanged); without, those bars are silent."""
    notes = [Note(s, "piano", 60 + i, 2, 64) for s in (0, 4, 8) for i in (0, 4, 7)]
    notes += [Note(48 + s, "piano", 60, 2, 64) for s in (0, 4, 8, 12)]
    # the same with no chord in bars 1-2 (a break): the held notes ring on through it
    for chords in ([Chord(0, 0, "maj"), Chord(48, 7, "maj")],
                   [Chord(0, 0, "maj"), Chord(16, -1, "N"), Chord(48, 7, "maj")]):
        c = controls_from_score(Score(notes=notes, n_bars=4, chords=chords))
        assert c.density_per_bar.tolist()[1:3] == [0, 0]
        silent_on = silent_off = 0
        for seed in range(4):
            off = generate(c, model, tok, SampleConfig(seed=seed, ring_rests=False))
            on = generate(c, model, tok, SampleConfig(seed=seed))
            assert [(n.onset_16th, n.pitch) for n in on.notes] == [(n.onset_16th, n.pitch) for n in off.notes]
            silent_off += _empty_beats(off, 4, 12)
            silent_on += _empty_beats(on, 4, 12)
            # held notes stop by the change to G at bar 3
            assert all(n.onset_16th + n.duration_16th <= 48 for n in on.notes if n.onset_16th < 48)
        assert silent_off >= 8 and silent_on <= silent_off / 4, (chords, silent_on, silent_off)


def test_controls_from_score_marks_melody_bars():
    ref = _reference(3)
    ref.notes = [n for n in ref.notes if not (n.track == "melody" and 16 <= n.onset_16th < 32)]
    assert controls_from_score(ref).melody_bars.tolist() == [True, False, True]


def _overlaps(score: Score, track: str = "melody") -> int:
    mel = sorted((n.onset_16th, n.onset_16th + n.duration_16th) for n in score.notes if n.track == track)
    return sum(1 for (a, e), (b, _) in zip(mel, mel[1:]) if b > a and e > b)


def test_the_melody_is_one_voice(model, tok, controls, piece):
    """The untrained model picks durations blind to the next onset: its melody overlaps itself
    unless ``one_voice_tracks`` cuts each note at the next melody onset (onsets unchanged)."""
    raw = generate(controls, model, tok, SampleConfig(seed=1, one_voice_tracks=()))
    assert _overlaps(raw) > 5
    assert _overlaps(piece) == 0
    assert [(n.onset_16th, n.track, n.pitch) for n in piece.notes] == [(n.onset_16th, n.track, n.pitch) for n in raw.notes]
    assert sum(n.duration_16th for n in piece.notes) < sum(n.duration_16th for n in raw.notes)
    new = generate(controls, model, tok, SampleConfig(seed=7), keep=raw, regenerate_bars=(2, 4))
    inside = Score(notes=[n for n in new.notes if 32 <= n.onset_16th < 64], n_bars=6)
    assert _overlaps(inside) == 0


def test_the_styled_rule_bass_is_one_voice(model, tok, controls):
    """The ambient texture's bass struck the hit points over its held notes (2 overlaps here)."""
    import dataclasses

    band = dataclasses.replace(controls, tracks=("melody", "bridge", "piano", "bass", "drums"), style="ambient",
                               seed=0, hits=((40, "crash"), (70, "stab")))
    both = generate(band, model, tok, SampleConfig(seed=6))
    melody_only = generate(band, model, tok, SampleConfig(seed=6, one_voice_tracks=("melody",)))
    assert _overlaps(melody_only, "bass") > 0
    assert _overlaps(both, "bass") == 0 and _overlaps(both) == 0
    with pytest.raises(OptionError, match="one_voice_tracks"):
        generate(band, model, tok, SampleConfig(one_voice_tracks=("lead",)))


def test_a_solo_instrument_plays_one_note_at_a_time(model, tok, controls, piece):
    """The untrained model stacks melody notes on one step; as a solo track (a flute's) only the
    highest of them stays, the other tracks as they were."""
    solo = generate(controls, model, tok, SampleConfig(seed=1), solo_tracks=("melody",))
    mel = [n for n in piece.notes if n.track == "melody"]
    top = {}
    for n in mel:
        top[n.onset_16th] = max(top.get(n.onset_16th, 0), n.pitch)
    assert len(mel) > len(top) + 5  # the dyads are there without it
    assert [(n.onset_16th, n.pitch) for n in solo.notes if n.track == "melody"] == sorted(top.items())
    assert [n for n in solo.notes if n.track != "melody"] == [n for n in piece.notes if n.track != "melody"]
    with pytest.raises(OptionError, match="solo_tracks"):
        generate(controls, model, tok, SampleConfig(), solo_tracks=("flute",))
