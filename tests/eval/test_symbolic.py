"""Symbolic metrics with hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.eval.test_structure import structured_score
from videobgm.errors import OptionError
from videobgm.eval import symbolic as S
from videobgm.types import Note, Score

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def _score(notes: list[Note], n_bars: int, **kw) -> Score:
    return Score(notes=sorted(notes), n_bars=n_bars, **kw)


def test_c_major_scale() -> None:
    s = _score([Note(4 * i, "melody", p, 4, 80) for i, p in enumerate(C_MAJOR)], 2)
    assert S.scale_consistency(s) == 1.0
    assert S.pitch_in_scale_rate(s, 0, "major") == 1.0
    assert S.pitch_in_scale_rate(s, 9, "minor") == 1.0  # relative minor: same pitch classes
    # C# major shares only C (= B#, played twice) and F (= E#) with the piece: 3 of 8 notes
    assert S.pitch_in_scale_rate(s, 1, "major") == pytest.approx(3 / 8)
    # 7 pitch classes, C twice: entropy of (2,1,1,1,1,1,1)/8
    p = np.array([2, 1, 1, 1, 1, 1, 1]) / 8
    assert S.pitch_class_entropy(s) == pytest.approx(-(p * np.log2(p)).sum())
    assert S.pitch_entropy(s) == pytest.approx(3.0)  # 8 distinct pitches once each
    # one bar holds C D E F (2 bits), the other G A B C (2 bits)
    assert S.pitch_class_entropy_windows(s, 1) == pytest.approx(2.0)
    assert S.pitch_class_entropy_windows(s, 4) == pytest.approx(S.pitch_class_entropy(s))
    assert S.empty_beat_rate(s) == 0.0
    assert S.polyphony(s) == 1.0 and S.polyphony_rate(s) == 0.0
    assert S.inter_onset_interval(s)["ioi_unique_onsets_beats"] == 1.0
    assert S.inter_onset_interval(s)["ioi_unique_onsets_s"] == pytest.approx(0.5)  # 120 bpm
    assert S.avg_ioi(s) == pytest.approx(0.5)  # monophonic: every onset is distinct


def test_ioi_variants_on_chords() -> None:
    # a 3-note chord on every beat of one bar: 4 distinct onsets, 12 notes
    s = _score([Note(4 * b, "piano", p, 4, 80) for b in range(4) for p in (60, 64, 67)], 1)
    assert S.inter_onset_interval(s)["ioi_unique_onsets_s"] == pytest.approx(0.5)
    assert S.avg_ioi(s) == pytest.approx(1.5 / 11)  # mgeval keeps the 8 zero intervals
    assert math.isnan(S.avg_ioi(_score([Note(0, "piano", 60, 4, 80)], 1)))


def test_empty_beat_rate_conventions() -> None:
    # a quarter note on every second beat of 2 bars: 4 of 8 beats empty
    s = _score([Note(8 * i, "piano", 60, 4, 80) for i in range(4)], 2)
    assert S.empty_beat_rate(s) == 0.5
    # muspy counts the beat in which a note ends (end // 4) as filled: every beat but... all filled
    # beats 0..(28 + 4) // 4 = 8 -> 9 beats, all filled
    assert S.empty_beat_rate(s, convention="papers") == 0.0
    assert S.empty_beat_rate(s, convention="muspy") == 0.0  # the old name of "papers"
    # drums fill beats unless excluded
    d = _score([Note(0, "drums", 36, 1, 100), Note(4, "piano", 60, 4, 80)], 1)
    assert S.empty_beat_rate(d) == 0.5 and S.empty_beat_rate(d, include_drums=False) == 0.75
    # a long note fills every beat it spans, and nothing after its end
    long = _score([Note(2, "piano", 60, 7, 80)], 1)  # steps 2..8 -> beats 0, 1, 2
    assert S.empty_beat_rate(long) == 0.25
    with pytest.raises(OptionError):
        S.empty_beat_rate(s, convention="nope")


def test_grooving_similarity() -> None:
    bar = [0, 4, 6, 10, 12]
    same = _score([Note(16 * b + p, "drums", 42, 1, 90) for b in range(6) for p in bar], 6)
    assert S.grooving_similarity(same) == 1.0
    assert S.groove_consistency(same) == 1.0  # muspy: bars 0 .. last end // 16 = 5
    # a note ending on the bar line adds the empty bar that starts there: 5 equal pairs, 1 with
    # distance 5 of 16
    ends_on_bar = _score(same.notes[:-1] + [Note(16 * 5 + 12, "drums", 42, 4, 90)], 6)
    assert S.groove_consistency(ends_on_bar) == pytest.approx(1 - 5 / (16 * 6))
    # two patterns alternating: A = {0, 8}, B = {4, 12} -> XOR = 4 positions
    notes = [Note(16 * b + p, "piano", 60, 1, 80) for b in range(4) for p in ((0, 8) if b % 2 == 0 else (4, 12))]
    alt = _score(notes, 4)
    # pairs: AA, BB equal (2 pairs), 4 mixed pairs with distance 4/16
    assert S.grooving_similarity(alt) == pytest.approx(1 - (4 * 4 / 16) / 6)
    assert S.groove_consistency(alt) == pytest.approx(0.75)  # adjacent pairs only, 4 of 16 apart
    # sampling cap: deterministic for a seed, close to the exact value
    rng = np.random.default_rng(0)
    many = _score([Note(16 * b + int(p), "piano", 60, 1, 80) for b in range(300)
                   for p in rng.choice(16, 4, replace=False)], 300)
    exact = S.grooving_similarity(many, max_pairs=10**9)
    a = S.grooving_similarity(many, max_pairs=5000, seed=1)
    assert a == S.grooving_similarity(many, max_pairs=5000, seed=1)
    assert abs(a - exact) < 0.01
    assert math.isnan(S.grooving_similarity(_score([Note(0, "piano", 60, 1, 80)], 3)))


def test_polyphony_counts_sounding_pitches() -> None:
    # a C major triad held 4 steps, then one note for 4 steps
    s = _score([Note(0, "piano", p, 4, 80) for p in (60, 64, 67)] + [Note(4, "melody", 72, 4, 80)], 1)
    assert S.polyphony(s) == pytest.approx((3 * 4 + 4) / 8)
    assert S.polyphony_rate(s) == pytest.approx(4 / 8)


def test_nan_for_drums_only_and_empty() -> None:
    drums = _score([Note(4 * i, "drums", 36, 1, 100) for i in range(8)], 2)
    out = S.compute_all(drums)
    for k in ("pitch_class_entropy", "pitch_entropy", "scale_consistency", "polyphony", "si_short"):
        assert math.isnan(out[k]), k
    assert out["empty_beat_rate"] == 0.0  # drums fill the beats (rhythm metric)
    empty = _score([], 0)
    assert all(math.isnan(v) for v in S.compute_all(empty).values())


def test_compute_all_keys() -> None:
    s = structured_score(8, repeat=True)
    out = S.compute_all(s)
    assert tuple(out) == S.METRIC_NAMES
    assert all(isinstance(v, float) for v in out.values())
