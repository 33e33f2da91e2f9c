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


def test_melody_arch_spans_its_own_notes():
    """A melody entering in the third bar of a 4-bar phrase still gets the whole swell: its first
    note at the level minus the swell, its crest near the level plus the swell (known answers:
    one section of energy 0.5 -> level 52 + 52 * 0.5 = 78, swell 24, downbeat +5, weak beat -3)."""
    from videobgm.compose.dynamics import shape
    from videobgm.config import SampleConfig

    secs = [SimpleNamespace(start_bar=0, end_bar=4, energy=0.5)]
    notes = [Note(16 * b + s, "melody", 64, 4, 100) for b in (2, 3) for s in range(0, 16, 4)]
    cfg = SampleConfig(dynamics_phrase_swell=24.0)
    vel = [n.velocity for n in shape(_score(notes, n_bars=4), secs, cfg=cfg).notes]
    # onsets 32..60: x = (onset - 32) / 28; arch -1 at 32, +0.905 at 48, -1 at 60
    assert vel[0] == 78 - 24 + 5 and vel[-1] == 78 - 24 - 3
    assert vel[4] == round(78 + 24 * (2 * (16 / 28) / 0.6 - 1) + 5) == 105
    # the bars' arch (the previous behaviour) would start this melody near its crest
    old = [n.velocity for n in shape(_score(notes, n_bars=4), secs,
                                     cfg=cfg.replace(dynamics_melody_span=False)).notes]
    assert old[0] == round(78 + 24 * (2 * 0.5 / 0.6 - 1) + 5) == 99


def test_soft_floor_and_phrase_spread():
    from videobgm.compose.dynamics import shape, soft_floor

    assert soft_floor(10.0, 40.0) == 25.0 and soft_floor(50.0, 40.0) == 50.0 and soft_floor(40.0, 40.0) == 40.0
    # a quiet 4-bar phrase of quarter notes: no velocity bin of 16 holds more than 40 % of them,
    # and the softest note is lifted by the knee (level 52 + 52 * 0.25 = 65, one section: half of
    # energy 0 and half of the middle; the last note 65 - 24 - 3 = 38 -> 40 - 1 = 39)
    secs = [SimpleNamespace(start_bar=0, end_bar=4, energy=0.0)]
    notes = [Note(16 * b + s, "melody", 64, 4, 100) for b in range(4) for s in range(0, 16, 4)]
    out = shape(_score(notes, n_bars=4), secs)
    vel = [n.velocity for n in out.notes]
    assert M.stats(out, first_bars=4)["velocity_top_bin"] <= 0.40
    assert vel[0] == 65 - 24 + 5 and min(vel) == vel[-1] == 39
