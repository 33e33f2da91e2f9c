"""events.py: Score / MIDI -> per-track synthesiser events, and the sustain pedal held on note-offs."""

from __future__ import annotations

import pytest

from videobgm.audio.events import with_pedal
from videobgm.types import Chord, Note, Score


def test_sustain_pedal_holds_note_offs() -> None:
    ev = [(0.0, 2, "on", 0, 60, 90), (0.1, 1, "cc", 0, 64, 127), (0.5, 0, "off", 0, 60, 0),
          (0.6, 2, "on", 0, 64, 90), (0.7, 0, "off", 0, 64, 0), (1.0, 1, "cc", 0, 64, 0),
          (1.0, 2, "on", 0, 67, 90), (1.2, 0, "off", 0, 67, 0)]
    out = [(t, k, key) for t, _, k, _, key, _ in with_pedal(ev)]
    assert out == [(0.0, "on", 60), (0.6, "on", 64), (1.0, "off", 60), (1.0, "off", 64),
                   (1.0, "on", 67), (1.2, "off", 67)]
    # rendered: a short piano chord rings on under the pedal (pop) but not without it (electronic)
    s = Score(notes=[Note(0, "piano", p, 1, 90) for p in (60, 64, 67)] + [Note(0, "melody", 72, 1, 90)],
              n_bars=2, programs={"piano": 0, "melody": 0}, chords=[Chord(0, 0, "maj"), Chord(16, 7, "maj")])
    from videobgm.audio.perform import perform

    assert perform(s, style="pop").pedal_s["piano"][0] == pytest.approx((0.04, 2.0))
    assert perform(s, style="electronic").pedal_s == {}
