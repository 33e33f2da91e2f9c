"""train/harmony.py: the POP909 harmony layout (sections, phrases) and bass intervals."""

from __future__ import annotations

from videobgm.types import Note, Score


def test_pop909_layout_and_bass_interval() -> None:
    from videobgm.train.harmony import bass_interval, pop909_layout

    assert bass_interval("F#:maj7/5") == 7 and bass_interval("C:min/b3") == 3 and bass_interval("C:maj") == 0
    notes = [Note(onset_16th=16 * b + 12 if b == 1 else 16 * b, duration_16th=4, pitch=60 + (b >= 10) * 12,
                  velocity=80, track="melody") for b in range(1, 18)]
    sc = Score(notes=notes, n_bars=20, beats_per_bar=4, tempo_bpm=100.0, key_tonic=0, mode="major")
    secs, phrases = pop909_layout(sc)
    assert secs[0] == (0, 2, "intro") and secs[-1] == (18, 20, "outro")  # bar-1 note is a pickup
    assert secs[1] == (2, 10, "verse") and secs[2] == (10, 18, "chorus")
    assert phrases[:3] == [(0, 2), (2, 6), (6, 10)]
