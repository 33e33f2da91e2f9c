"""eval/idioms.py: the style idiom measures (four on the floor, backbeat, strum/broken, clashes) with known answers."""

from __future__ import annotations

import dataclasses

import pytest

from tests.music.test_styles import _score  # noqa: F401 (shared with test_styles.py)
from videobgm.eval import idioms
from videobgm.types import Note


def test_four_on_the_floor_and_backbeat_known_answers() -> None:
    floor = [Note(b * 16 + k * 4, "drums", 36, 2, 100) for b in range(4) for k in range(4)]
    back = [Note(b * 16 + k, "drums", 38, 2, 100) for b in range(4) for k in (4, 12)]
    s = _score(floor + back)
    assert idioms.four_on_the_floor(s) == 1.0 and idioms.backbeat(s) == 1.0
    s = _score([n for n in floor if n.onset_16th % 16 == 0] + back[:4])
    assert idioms.four_on_the_floor(s) == 0.0 and idioms.backbeat(s) == 0.5


def test_strum_broken_ambient_and_clash_known_answers() -> None:
    strum = [Note(b * 16 + s, "piano", p, 2, 90) for b in range(4) for s in (0, 4, 6, 10)
             for p in (45, 52, 57, 61)]
    assert idioms.strum_or_broken(_score(strum)) == 1.0
    on_beats = [Note(b * 16 + s, "piano", p, 2, 90) for b in range(4) for s in (0, 4, 8, 12)
                for p in (45, 52, 57, 61)]  # block chords on the beats: no strum
    assert idioms.strum_or_broken(_score(on_beats)) == 0.0
    arp = [Note(b * 16 + 2 * i, "piano", (57, 60, 64, 69)[i % 4], 2, 80) for b in range(4) for i in range(8)]
    assert idioms.strum_or_broken(_score(arp)) == 1.0
    staccato = [dataclasses.replace(n, duration_16th=1) for n in arp]
    assert idioms.strum_or_broken(_score(staccato)) == 0.0  # a synth arpeggiator is no fingerpicking
    pad = [Note(b * 16, "piano", p, 16, 60) for b in range(5) for p in (57, 60, 64)]
    assert idioms.check("ambient", _score(pad))[0]
    assert not idioms.check("ambient", _score(pad + [Note(0, "drums", 36, 2, 90)]))[0]
    # C against C# in another track for 4 of 16 sounding steps; same track does not count
    clash = [Note(0, "piano", 60, 16, 80), Note(4, "melody", 61, 4, 80), Note(8, "piano", 61, 2, 80)]
    assert idioms.clash_rate(_score(clash, 1)) == pytest.approx(4 / 16)


def test_texture_features_named() -> None:
    f = idioms.texture_features(_score([Note(0, "piano", 60, 4, 80), Note(4, "piano", 64, 4, 90)], 1))
    assert f.shape == (len(idioms.FEATURES),) and len(idioms.FEATURES) >= 10
    assert f[0] == 2 and f[1] == 62 and f[5] == 85
