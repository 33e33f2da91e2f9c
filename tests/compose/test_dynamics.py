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


def test_level_runs_and_melody_peak():
    from videobgm.compose.dynamics import level_runs, melody_peak

    flat = [SimpleNamespace(start_bar=0, end_bar=6, energy=0.361), SimpleNamespace(start_bar=6, end_bar=10, energy=0.361)]
    assert level_runs(flat, 10) == [(0, 10)]  # one level: one stretch
    two = [SimpleNamespace(start_bar=0, end_bar=4, energy=0.2), SimpleNamespace(start_bar=4, end_bar=8, energy=0.8)]
    assert level_runs(two, 8) == [(0, 4), (4, 8)]
    assert melody_peak([0, 4, 8], [60, 67, 62]) == 0.5  # the high note halfway
    assert melody_peak([0, 4, 8], [67, 60, 62]) == 0.3  # peaks on its first note: kept in [0.3, 0.85]
    assert melody_peak([0, 4, 8, 12], [60, 62, 67, 67]) == 8 / 12  # the first of equal high notes
    assert melody_peak([0, 4, 8], [60, 60, 60], default=0.6) == 0.6  # one pitch: the default crest


def test_form_swell_over_a_flat_stretch():
    """A flat-energy piece of three phrases: the melody also swells over the whole stretch,
    +-dynamics_form_swell (known answer: 12 * phrase_arch(t / 192, 0.6), within rounding);
    where the sections' levels differ, nothing is added."""
    from videobgm.compose.dynamics import phrase_arch, shape
    from videobgm.config import SampleConfig

    secs = [SimpleNamespace(start_bar=0, end_bar=8, energy=0.6), SimpleNamespace(start_bar=8, end_bar=12, energy=0.6)]
    notes = [Note(16 * b + s, "melody", 72, 4, 100) for b in range(12) for s in range(0, 16, 4)]
    new = shape(_score(notes, n_bars=12), secs, cfg=SampleConfig(dynamics_form_swell=12.0))
    old = shape(_score(notes, n_bars=12), secs, cfg=SampleConfig(dynamics_form_swell=0.0))
    for a, b in zip(new.notes, old.notes, strict=True):
        assert abs(a.velocity - b.velocity - 12.0 * phrase_arch(a.onset_16th / 192, 0.6)) <= 1.0
    two = [SimpleNamespace(start_bar=0, end_bar=4, energy=0.2), SimpleNamespace(start_bar=4, end_bar=8, energy=0.8)]
    notes = notes[:32]
    assert [n.velocity for n in shape(_score(notes, n_bars=8), two).notes] == \
        [n.velocity for n in shape(_score(notes, n_bars=8), two, cfg=SampleConfig(dynamics_form_swell=0.0)).notes]


# synth-slow seed 0's melody (bench/musicality: a slowly bouncing square, one energy): onset, pitch,
# duration, the model's velocity; its accent steps; the accompaniment plays on every onset but two
SLOW_MELODY = [(32, 81, 2, 120), (36, 81, 3, 120), (40, 81, 1, 120), (42, 84, 6, 120), (47, 81, 2, 120),
               (48, 79, 4, 120), (52, 77, 2, 120), (58, 79, 4, 120), (64, 72, 2, 120), (66, 74, 2, 120),
               (68, 81, 4, 120), (72, 79, 4, 120), (74, 84, 2, 120), (76, 81, 2, 120), (79, 88, 1, 120),
               (80, 79, 1, 120), (84, 74, 1, 120), (88, 76, 5, 120), (96, 81, 2, 120), (100, 81, 3, 120),
               (104, 81, 1, 120), (106, 84, 6, 120), (111, 81, 2, 120), (112, 79, 4, 120), (116, 77, 2, 120),
               (122, 79, 4, 120), (128, 71, 2, 120), (130, 76, 2, 120), (132, 81, 4, 120), (136, 80, 2, 120),
               (138, 83, 1, 120), (139, 85, 2, 120), (140, 83, 4, 120), (144, 69, 16, 96)]
SLOW_ACCENTS = (32, 42, 47, 58, 68, 74, 79, 84, 106, 128, 139)


def test_flat_energy_melody_spreads_over_the_velocity_bins():
    """The bench's failing piece (issue 18: no velocity bin over 40 % of the melody's notes): one
    energy in both sections, so one level (74); with the crest fixed at 0.6 of each phrase its
    contour cancelled its swell and 14 of its 34 notes fell in velocity 65-80 (0.41). Cresting
    on each phrase's high note and swelling over the stretch: 11 of 34, over 7 bins."""
    from videobgm.compose.dynamics import shape
    from videobgm.config import SampleConfig

    secs = [SimpleNamespace(start_bar=0, end_bar=6, energy=0.361), SimpleNamespace(start_bar=6, end_bar=10, energy=0.361)]
    notes = [Note(o, "melody", p, d, v) for o, p, d, v in SLOW_MELODY]
    notes += [Note(o, "piano", 48, 4, 100) for o, *_ in SLOW_MELODY if o not in (58, 111)]
    acc = np.zeros(160, dtype=bool)
    acc[list(SLOW_ACCENTS)] = True

    def bins(cfg: SampleConfig) -> np.ndarray:
        out = shape(_score(notes, n_bars=10), secs, acc, cfg=cfg)
        return np.bincount([(n.velocity - 1) // 16 for n in out.notes if n.track == "melody"], minlength=8)

    old = bins(SampleConfig(dynamics_melody_peak=False, dynamics_form_swell=0.0, dynamics_accent_rare=-1.0))
    assert old.max() == 14 and old.argmax() == 4  # the bench's 0.41
    new = bins(SampleConfig())
    assert new.max() / new.sum() <= 0.35 and (new > 0).sum() >= 6


def test_backed_melody_accents_take_the_floor_only_where_accents_are_rare():
    """One quiet section: a melody of 16 quarter notes over a piano on every note. With 2 of them
    accents (1/8 of the phrase) the accented melody notes reach the accent floor with the
    piano; with every other note an accent (1/2) the piano alone takes the floor and the melody
    keeps its line (only the boost): a fast video's melody is not pressed into one bin."""
    from videobgm.compose.dynamics import shape
    from videobgm.config import SampleConfig

    secs = [SimpleNamespace(start_bar=0, end_bar=4, energy=0.1)]
    notes = [Note(k, t, 64 if t == "melody" else 52, 4, 64) for k in range(0, 64, 4) for t in ("melody", "piano")]
    cfg = SampleConfig()
    for accented, floored in (((20, 44), True), (tuple(range(0, 64, 8)), False)):
        acc = np.zeros(64, dtype=bool)
        acc[list(accented)] = True
        out = shape(_score(notes, n_bars=4), secs, acc, cfg=cfg)
        mel = {n.onset_16th: n.velocity for n in out.notes if n.track == "melody"}
        pia = {n.onset_16th: n.velocity for n in out.notes if n.track == "piano"}
        assert all(pia[k] >= cfg.dynamics_accent_floor for k in accented)
        if floored:
            assert all(mel[k] >= cfg.dynamics_accent_floor for k in accented), mel
        else:  # the line's own swell, not one floor
            assert min(mel[k] for k in accented) < cfg.dynamics_accent_floor - 20, mel
            assert len({mel[k] for k in accented}) >= 5, mel
