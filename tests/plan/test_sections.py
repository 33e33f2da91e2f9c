"""plan/sections.py: section starts, energies and labels on a known bar grid."""

from __future__ import annotations

import numpy as np

from videobgm.plan.sections import description_energy, make_sections, section_bounds
from videobgm.types import Description


def test_description_energy_by_sections_curve_or_default() -> None:
    t = np.array([1.0, 5.0, 9.0, 15.0])
    secs = Description(sections=[{"start_s": 0.0, "end_s": 4.0, "energy": 0.2},
                                 {"start_s": 4.0, "end_s": 10.0, "energy": 0.8}])
    # after the last section: the last section's energy
    assert description_energy(secs, t, 16.0).tolist() == [0.2, 0.8, 0.8, 0.8]
    curve = Description(energy_curve=[0.0, 1.0])  # slice centres at 0.25 and 0.75 of 16 s
    assert np.allclose(description_energy(curve, np.array([2.0, 8.0, 12.0]), 16.0), [0.0, 0.5, 1.0])
    assert description_energy(Description(), t, 16.0).tolist() == [0.5] * 4


def test_section_bounds_without_cuts_are_four_bar_phrases() -> None:
    bars = np.arange(17) * 2.0  # 16 bars of 2 s
    bounds, intro = section_bounds(bars, 0.5, np.zeros(0), np.zeros(0), np.zeros(0, int), [],
                                   np.array([0, 16]), [16], 4)
    assert sorted(bounds) == [0, 4, 8, 12]
    assert bounds[0] == ("start of the video", None)
    assert bounds[4] == ("phrase boundary (4-bar phrase)", None)
    assert intro == 2  # 6 <= 16 bars < 32


def test_a_strong_cut_within_a_beat_moves_the_section_and_an_anchored_cut_opens_one() -> None:
    bars = np.arange(17) * 2.0
    # cut 0 at 12.2 s (bar 6 is at 12.0 s, within one 0.5 s beat); cut 1 anchored on bar 10
    cuts, w = np.array([12.2, 20.0]), np.array([0.8, 0.9])
    bounds, _ = section_bounds(bars, 0.5, cuts, w, np.array([0, 1]), [1], np.array([0, 10, 16]),
                               [10, 6], 4)
    assert bounds[6][1] == 0 and "within a beat: section moved to this bar line" in bounds[6][0]
    assert bounds[10] == ("strong cut at 20.00 s (strength 0.90) on the bar line", 1)


def test_make_sections_energy_and_labels() -> None:
    bars = np.arange(13) * 2.0  # 12 bars
    desc = Description(sections=[{"start_s": 0.0, "end_s": 8.0, "energy": 0.2},
                                 {"start_s": 8.0, "end_s": 16.0, "energy": 0.9},
                                 {"start_s": 16.0, "end_s": 24.0, "energy": 0.4}])
    bounds = {0: ("start of the video", None), 4: ("a", None), 6: ("b", None), 8: ("c", None)}
    reasons: dict[str, str] = {}
    secs = make_sections(bounds, bars, desc, reasons)
    assert [(s.start_bar, s.end_bar) for s in secs] == [(0, 4), (4, 6), (6, 8), (8, 12)]
    assert [s.energy for s in secs] == [0.2, 0.9, 0.9, 0.4]
    # the middle sections' median energy is 0.9: none above it -> verse; first/last intro/outro
    assert [s.label for s in secs] == ["intro", "verse", "verse", "outro"]
    assert secs[1].start_s == 8.0 and secs[1].reason == "a"
    assert reasons["sections"] == "4 sections, lengths in bars [4, 2, 2, 4]"
