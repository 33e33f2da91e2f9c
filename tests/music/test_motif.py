"""Melody-level form (videobgm.music.motif): the layout, pitch fitting, repeated harmony and the
sampler's restated melody, with known answers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from videobgm.compose.constraints import chord_tone_mask
from videobgm.compose.token_codes import chord_index
from videobgm.eval.musicality import longest_repeat, melody_line
from videobgm.music import motif
from videobgm.types import Section


def _secs(*spans: tuple[int, int]) -> list[Section]:
    return [Section(a, z, "verse", 2.0 * a, 2.0 * z) for a, z in spans]


def test_layout_aaba_restates_all_but_the_last_bar():
    lay = motif.layout(_secs((0, 4), (4, 8), (8, 12), (12, 16)), 16)
    # A = bars 0-3, A' = 4-6 copy 0-2 (bar 7 free: its authentic cadence differs from bar 3's
    # half one), B = 8-11 states, A' = 12-14 copy 0-2 and its bar 15 ends the piece with the
    # authentic cadence bar 7 ended the first period with: the whole A' is restated
    assert lay == {4: 0, 5: 1, 6: 2, 12: 0, 13: 1, 14: 2, 15: 7}


def test_section_cadences_and_the_restated_ending():
    secs = _secs((0, 4), (4, 8), (8, 12), (12, 16))
    assert motif.section_cadences(secs, 16) == {3: "half", 7: "authentic", 11: "half", 15: "authentic"}
    cut = [Section(0, 4, "verse", 0.0, 8.0), Section(4, 8, "verse", 8.0, 16.0, reason="strong cut at 8 s")]
    assert motif.section_cadences(cut, 8) == {3: "authentic", 7: "authentic"}
    assert motif.section_cadences([], 6) == {5: "authentic"}
    # 4-bar sections over 24 bars (cadences half, authentic, half, ...): units A A B A A A.
    # The A' unit 4-7 ends on an authentic cadence, the statement 0-3 on a half one: bar 7 is
    # free (its head follows bar 3). Later A units end as an earlier one of their cadence did,
    # in full: 12-15 (authentic) on bar 7, 16-19 (half) on bar 3, 20-23 (authentic) on bar 7
    lay = motif.layout(_secs(*[(a, a + 4) for a in range(0, 24, 4)]), 24, heads=True)
    assert lay[15] == 7 and lay[19] == 3 and lay[23] == 7
    assert lay.heads == {7: 3}
    # a unit of another length keeps the head (its last bar does not line up with the ending)
    lay = motif.layout(_secs((0, 4), (4, 8), (8, 12), (12, 15)), 15, heads=True)
    assert 14 not in lay and lay.heads == {7: 3, 14: 2}


def test_layout_skips_intro_and_short_units_and_points_to_originals():
    mel = np.ones(15, dtype=bool)
    mel[:2] = False  # a 2-bar accompaniment intro
    # intro (0-4) has 2 melody bars: free; verse 4-8 states A; 8-13 restates; ending bar 14 left out
    lay = motif.layout(_secs((0, 4), (4, 8), (8, 15)), 15, mel, ending_bar=14)
    assert lay == {8: 4, 9: 5, 10: 6, 11: 7, 12: 4}  # 6 melody bars: the statement cycles, bar 13 free
    assert all(s not in lay for s in lay.values())  # sources are never copies
    assert motif.layout(_secs((0, 3)), 3) == {}
    assert "bars 9-12 restate 5-8" in motif.describe(lay)


def test_layout_of_a_short_piece_and_its_heads():
    # a 30 s clip at 80 bpm: sections 0-4 and 4-10, melody from bar 2, ending bar 9: only one
    # unit of 3+ melody bars, so the 2-bar unit (bars 2-3) states and the 5-bar unit restates it
    mel = np.ones(10, dtype=bool)
    mel[:2] = False
    secs = _secs((0, 4), (4, 10))
    lay = motif.layout(secs, 10, mel, ending_bar=9)
    assert lay == {4: 2, 5: 3, 6: 2, 7: 3} and lay.heads == {}  # the harmony's: bar 8 free
    mel_lay = motif.layout(secs, 10, mel, ending_bar=9, heads=True)
    assert dict(mel_lay) == dict(lay) and mel_lay.heads == {8: 2}  # bar 8's first half follows bar 2
    # two units of 3+ bars: 2-bar units stay free, as before
    assert motif.layout(_secs((0, 4), (4, 8), (8, 12)), 12, np.arange(12) >= 2, ending_bar=11) == \
        {8: 4, 9: 5}
    full = motif.layout(_secs((0, 4), (4, 8), (8, 12), (12, 16)), 16, heads=True)
    assert full.heads == {7: 3} and full[15] == 7  # the A' unit's last bar; the last A' restates it


def test_adapt_keeps_fitting_notes_and_moves_the_rest():
    c_maj = chord_tone_mask(chord_index(0, "maj"), None)  # C E G
    f_maj = chord_tone_mask(chord_index(5, "maj"), None)  # F A C
    scale = np.isin(np.arange(128) % 12, [0, 2, 4, 5, 7, 9, 11])
    notes = [(0, 64, 4), (4, 62, 4), (8, 60, 4), (12, 67, 4)]  # E D C G over C
    assert motif.adapt(notes, [c_maj] * 4, scale, [True] * 4) == notes  # same chord: kept
    # over F the whole bar fits a fourth up: a sequence (A G F C: chord tones and a passing G)
    assert [p for _, p, _ in motif.adapt(notes, [f_maj] * 4, scale, [False] * 4)] == [69, 67, 65, 72]
    out = motif.adapt(notes, [f_maj] * 4, scale, [False] * 4, max_shift=0)  # note by note
    # over F: G moves to A (nearest tone, 69 vs 65: 2 vs 2 -> the lower, F 65); C stays; D is a
    # scale step above C (a chord tone): kept as a passing tone; E is a step above D, but D is
    # no chord tone: E moves to the nearest chord tone F
    assert [p for _, p, _ in out] == [65, 62, 60, 65]
    assert [(s, d) for s, _, d in out] == [(s, d) for s, _, d in notes]  # rhythm kept
    # no shift within 1 semitone makes every note fit: note by note, as with max_shift=0
    assert motif.adapt(notes, [f_maj] * 4, scale, [False] * 4, max_shift=1) == out
    # a shift that would leave the scale is not taken: only C major's white keys, shift +5 needs
    # none outside it, but with F (5) out of the scale it is refused
    no_f = scale & (np.arange(128) % 12 != 5)
    assert [p for _, p, _ in motif.adapt(notes, [f_maj] * 4, no_f, [False] * 4)] != [69, 67, 65, 72]


def test_adapt_continues_a_restated_run():
    c_maj = chord_tone_mask(chord_index(0, "maj"), None)  # C E G
    a_min = chord_tone_mask(chord_index(9, "min"), None)  # A C E
    f_maj = chord_tone_mask(chord_index(5, "maj"), None)  # F A C
    scale = np.isin(np.arange(128) % 12, [0, 2, 4, 5, 7, 9, 11])
    eg = [(0, 64, 4), (6, 67, 2)]  # E G over C
    # on its own over A minor the bar is a sequence a fourth up (A C)
    assert [p for _, p, _ in motif.adapt(eg, [a_min] * 2, scale, [False] * 2)] == [69, 72]
    # after a bar restated as it was (run shift 0) the run goes on: E fits and stays (the interval
    # into the bar stays the statement's), only the clashing G moves (to A)
    assert [p for _, p, _ in motif.adapt(eg, [a_min] * 2, scale, [False] * 2, run_shift=0)] == [64, 69]
    # a run already a fourth up: the same sequence goes on
    assert [p for _, p, _ in motif.adapt(eg, [a_min] * 2, scale, [False] * 2, run_shift=5)] == [69, 72]
    notes = [(0, 64, 4), (4, 62, 4), (8, 60, 4), (12, 67, 4)]  # E D C G over C
    # over F the fit would move the first note (E -> F): no opening to keep, the search as without
    # a run (the sequence a fourth up)
    assert motif.adapt(notes, [f_maj] * 4, scale, [False] * 4, run_shift=0) == \
        motif.adapt(notes, [f_maj] * 4, scale, [False] * 4) == [(0, 69, 4), (4, 67, 4), (8, 65, 4), (12, 72, 4)]
    # a run shifted by a step (+2: F# is out of the scale): the search as without a run
    assert motif.adapt(notes, [f_maj] * 4, scale, [False] * 4, run_shift=2) == \
        motif.adapt(notes, [f_maj] * 4, scale, [False] * 4)
    # the same chords as the statement: kept as it is, whatever the run
    assert motif.adapt(notes, [c_maj] * 4, scale, [True] * 4, run_shift=5) == notes


def _model():
    from videobgm.errors import InputError
    from videobgm.plan.chord_model import load

    try:
        return load()
    except InputError as e:  # pragma: no cover - the asset ships with the package
        pytest.skip(f"no harmony asset: {e}")


def test_progression_repeats_chords_and_rhythm_deterministically():
    from videobgm.plan.chord_sampling import sample_progression

    model = _model()
    kw = dict(beats_per_bar=4, mode="major", tonic=2, sections=[(0, 8, "verse")],
              phrases=[(0, 4), (4, 8)], seed=3)
    reps = {4: 0, 5: 1, 6: 2}
    a = sample_progression(model, 8, repeats=reps, **kw)
    b = sample_progression(model, 8, repeats=reps, **kw)
    assert [(c.onset_16th, c.root, c.quality) for c in a.chords] == [(c.onset_16th, c.root, c.quality) for c in b.chords]

    def bar(p, i):
        return [(c.onset_16th - 16 * i, c.root, c.quality, bs) for c, bs in zip(p.chords, p.bass)
                if 16 * i <= c.onset_16th < 16 * (i + 1)]
    same = [t for t, s in reps.items() if bar(a, t) == bar(a, s)]
    assert same[:2] == [4, 5], a.notes  # bar 6 may stay free (the cadence's V needs its last beat)
    if len(same) < 3:
        assert any("1 repeated bar(s)" in n for n in a.notes)
    assert (a.chords[-1].root - 2) % 12 == 0  # authentic cadence at the section end still met
    free = sample_progression(model, 8, **kw)
    assert sum(bar(free, t) == bar(free, s) for t, s in reps.items()) < len(same)


@pytest.fixture(scope="module")
def tiny():
    torch = pytest.importorskip("torch")
    from videobgm.compose.checkpoint import build_untrained
    from videobgm.compose.tokens import Tokenizer
    from videobgm.config import ModelConfig

    torch.set_num_threads(1)
    tok = Tokenizer()
    return build_untrained(ModelConfig.preset("tiny"), tok, seed=0), tok


def _controls(n_bars: int = 8):
    from videobgm.types import Chord, Controls

    prog = [(0, "maj"), (9, "min"), (5, "maj"), (7, "maj")]
    chords = [Chord(b * 16, *prog[b % 4]) for b in range(n_bars)]
    return Controls(n_bars=n_bars, beats_per_bar=4, density_per_bar=np.full(n_bars, 12),
                    strength_per_beat=np.full(n_bars * 4, 2), accent_steps=np.zeros(n_bars * 16, dtype=bool),
                    chords=chords, key_tonic=0, mode="major", tracks=("melody", "piano"),
                    tempo_bpm=100.0, melody_bars=np.ones(n_bars, dtype=bool))


def _melody_bar(score, b):
    return [(n.onset_16th - 16 * b, n.pitch, n.duration_16th) for n in melody_line(score)
            if b * 16 <= n.onset_16th < (b + 1) * 16]


def test_generate_restates_the_motif_at_the_planned_bars(tiny):
    from videobgm.compose.sampler import generate
    from videobgm.config import SampleConfig

    model, tok = tiny
    c = _controls()
    lay = motif.layout(_secs((0, 4), (4, 8)), 8)
    assert lay == {4: 0, 5: 1, 6: 2}
    cfg = SampleConfig(seed=5, repeat_prob=0.0)  # the chord-driven bar repetition off
    s1 = generate(c, model, tok, cfg, motif=lay)
    s2 = generate(c, model, tok, cfg, motif=lay)
    assert [dataclasses.astuple(n) for n in s1.notes] == [dataclasses.astuple(n) for n in s2.notes]
    for t, s in lay.items():  # same chords (period 4): the statement's melody, note for note
        assert _melody_bar(s1, t) == _melody_bar(s1, s) and _melody_bar(s1, s)
    mel = melody_line(s1)
    n_stated = sum(len(_melody_bar(s1, b)) for b in (0, 1, 2))
    pat = [(mel[i + 1].pitch - mel[i].pitch, mel[i + 1].onset_16th - mel[i].onset_16th) for i in range(len(mel) - 1)]
    assert longest_repeat(pat) + 1 >= n_stated  # the whole 3-bar statement recurs
    free = generate(c, model, tok, cfg)  # without the plan the untrained model repeats nothing
    assert any(_melody_bar(free, t) != _melody_bar(free, s) for t, s in lay.items())


def test_generate_restates_the_first_half_of_a_head_bar(tiny):
    from videobgm.compose.sampler import generate
    from videobgm.config import SampleConfig

    model, tok = tiny
    c = _controls()
    lay = motif.layout(_secs((0, 4), (4, 8)), 8, heads=True)
    assert dict(lay) == {4: 0, 5: 1, 6: 2} and lay.heads == {7: 3}
    cfg = SampleConfig(seed=5, repeat_prob=0.0)
    s = generate(c, model, tok, cfg, motif=lay, phrase_ends=(3, 6))
    head, src = _melody_bar(s, 7), _melody_bar(s, 3)
    first = [x for x in src if x[0] < 8]
    assert first and [x for x in head if x[0] < 8] == first  # same chords: the opening note for note
    plain = generate(c, model, tok, cfg, motif=dict(lay), phrase_ends=(3, 6))  # no heads: bar 7 free
    assert [_melody_bar(plain, b) for b in range(7)] == [_melody_bar(s, b) for b in range(7)]
    assert [x for x in _melody_bar(plain, 7) if x[0] < 8] != first


def test_generate_fits_the_motif_to_other_chords(tiny):
    from videobgm.compose.sampler import generate
    from videobgm.config import SampleConfig
    from videobgm.types import Chord

    model, tok = tiny
    c = _controls()
    c = dataclasses.replace(c, chords=[*c.chords[:4], Chord(64, 2, "min"), Chord(80, 7, "maj"),
                                       Chord(96, 4, "min"), Chord(112, 7, "maj")])
    lay = {4: 0, 5: 1, 6: 2}
    s = generate(c, model, tok, SampleConfig(seed=2), motif=lay)
    tones = {4: chord_tone_mask(chord_index(2, "min"), None), 5: chord_tone_mask(chord_index(7, "maj"), None),
             6: chord_tone_mask(chord_index(4, "min"), None)}
    c_major = np.array([p % 12 in (0, 2, 4, 5, 7, 9, 11) for p in range(128)])
    for t, src in lay.items():
        a, b = _melody_bar(s, t), _melody_bar(s, src)
        assert [(x[0], x[2]) for x in a] == [(x[0], x[2]) for x in b]  # rhythm kept
        shifts = {p - q for (_, p, _), (_, q, _) in zip(a, b)}
        pitches = [p for _, p, _ in a]
        for i, ((_, p, _), (_, q, _)) in enumerate(zip(a, b)):
            # adapt's contract: a note that changed (moved alone, or the whole bar sequenced) lands
            # on the new chord, or is a scale tone a step from the next note, which is on it
            nxt = pitches[i + 1] if i + 1 < len(pitches) else None
            passing = nxt is not None and c_major[p] and 1 <= abs(nxt - p) <= 2 and tones[t][nxt]
            assert p == q and len(shifts) == 1 or tones[t][p] or passing, (t, i, a, b)
