"""compose/dynamics.py: velocity shaping by sections and phrases."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from tests.eval.test_musicality import _score  # noqa: F401 (shared with test_musicality.py)
from videobgm.eval import musicality as M
from videobgm.types import Note


def test_dynamics_follow_sections_and_phrases():
    from videobgm.compose.dynamics import phrases, section_levels, shape

    secs = [SimpleNamespace(start_bar=0, end_bar=4, energy=0.2), SimpleNamespace(start_bar=4, end_bar=9, energy=0.8)]
    assert phrases(secs, 9, 4) == [(0, 4), (4, 9)]  # no one-bar stub
    assert section_levels([0.5, 0.5]).tolist() == [0.5, 0.5]
    notes = [Note(16 * b + s, "melody", 64, 4, 120) for b in range(9) for s in range(0, 16, 4)]
    out = shape(_score(notes, n_bars=9), secs)
    vel = np.array([n.velocity for n in out.notes]).reshape(9, 4).mean(axis=1)
    assert vel[4:].min() > vel[:4].max()  # the louder section is louder in every bar
    assert vel[1] > vel[0] and vel[1] > vel[3]  # a swell inside the phrase
    assert M.stats(out, first_bars=9)["velocity_top_bin"] < 0.6


def test_phrase_arch_and_metric_accent():
    from videobgm.compose.dynamics import metric_accent, phrase_arch
    from videobgm.config import SampleConfig

    assert phrase_arch(0.0) == -1.0 and phrase_arch(0.6) == 1.0 and phrase_arch(1.0) == -1.0
    assert abs(phrase_arch(0.3) - 0.0) < 1e-9 and abs(phrase_arch(0.8) - 0.0) < 1e-9  # even rise, even fall
    # an arch spreads a phrase's evenly placed notes evenly over its range (no plateau at the crest)
    vals = np.array([phrase_arch(x) for x in np.linspace(0, 1, 101)])
    assert np.histogram(vals, bins=4, range=(-1, 1))[0].max() <= 27
    cfg = SampleConfig(dynamics_downbeat_boost=5.0, dynamics_weak_beat_cut=3.0, dynamics_offbeat_cut=6.0)
    assert [metric_accent(p, 16, cfg) for p in (0, 4, 8, 12, 2, 15)] == [5.0, -3.0, 0.0, -3.0, -6.0, -6.0]
    assert [metric_accent(p, 12, cfg) for p in (0, 4, 8)] == [5.0, -3.0, -3.0]  # 3/4: no half bar
