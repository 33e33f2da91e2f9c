"""The sampler's token stream against a stored one (tests/compose/make_token_stream.py wrote it with the
sampler before the decoder was re-built in parts): same seed, same controls -> the same tokens and
notes, token for token, for 3 seeds and cases that exercise regeneration, phrase ends and breaths,
the motif, repetition, the full band, ringing rests and the unconstrained mode."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from tests.compose.make_token_stream import DATA, cases, run_all  # noqa: E402


@pytest.fixture(scope="module")
def streams():
    return run_all()


@pytest.fixture(scope="module")
def stored():
    with np.load(DATA) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("name", [name for name, _ in cases()])
def test_token_stream_is_unchanged(name, streams, stored):
    for part in ("tokens", "notes"):
        got, want = streams[f"{name}_{part}"], stored[f"{name}_{part}"]
        assert got.shape == want.shape, (part, got.shape, want.shape)
        bad = np.flatnonzero((got != want).any(axis=1))
        assert bad.size == 0, (part, int(bad[0]), got[bad[0]].tolist(), want[bad[0]].tolist())


def test_stored_cases_are_all_checked(stored):
    assert sorted(stored) == sorted(f"{n}_{p}" for n, _ in cases() for p in ("tokens", "notes"))
    assert len(stored["seed1_tokens"]) > 100 and not np.array_equal(stored["seed1_notes"], stored["seed2_notes"])
