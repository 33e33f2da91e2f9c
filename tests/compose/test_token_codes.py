"""compose/token_codes.py: every bin and its inverse, on known values."""

from __future__ import annotations

import pytest

from videobgm.compose import token_codes as T
from videobgm.errors import InputError


def test_bins() -> None:
    assert T.chord_index(-1, "maj") == 1 and T.chord_index(3, "N") == 1
    for r in range(12):
        for q in T.CHORD_TYPES:
            assert T.chord_of_index(T.chord_index(r, q)) == (r, q)
    with pytest.raises(InputError):
        T.chord_index(0, "blah")
    for v in range(1, 128):
        b = T.velocity_bin(v)
        assert 1 <= b <= 8 and T.velocity_bin(T.velocity_of_bin(b)) == b
    for d in T.DURATION_STEPS:
        assert T.duration_of_bin(T.duration_bin(d)) == d
    assert T.duration_of_bin(T.duration_bin(200)) == 64
    assert T.density_bin(0) == 1 and T.density_bin(1) == 2 and T.density_bin(1000) == len(T.DENSITY_EDGES)
    assert T.progress_bin(0.0) == 1 and T.progress_bin(1.0) == T.N_PROGRESS_BINS
    assert T.strength_bin(0) == 1 and T.strength_bin(50) == T.MAX_STRENGTH + 1


def test_known_codes() -> None:
    # 2 + root * 9 + quality index: A minor = 2 + 9 * 9 + 1; G7 = 2 + 7 * 9 + 6
    assert T.chord_index(9, "min") == 84 and T.chord_index(7, "7") == 71
    assert T.key_index(9, "minor") == 22 and T.key_index(0, "major") == 1
    assert T.velocity_bin(1) == 1 and T.velocity_bin(64) == 4 and T.velocity_bin(127) == 8
    assert T.velocity_of_bin(5) == 72
    assert T.duration_bin(18) == 16 and T.duration_bin(19) == 17  # 18: 16 or 20, ties go short
    assert T.duration_of_bin(17) == 20
    assert T.tempo_bin(120.0) == 8 and T.tempo_bin(float("nan")) == T.tempo_bin(120.0)
    assert T.density_of_bin(T.density_bin(10)) == 9  # the bin [9, 11)'s lower edge
    assert T.FIELD_NAMES.index("pos") == 1 and len(T.COND_NAMES) == 7
    with pytest.raises(InputError, match="unknown mode"):
        T.key_index(0, "dorian")
