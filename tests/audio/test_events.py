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


def _alternates(events: list) -> bool:
    """Whether every key's events go on, off, on, off, ... (no stroke cut off by an old release)."""
    state: dict[tuple[int, int], bool] = {}
    for _t, _, kind, ch, key, _ in sorted(events):
        if kind == "cc":
            continue
        if state.get((ch, key), False) == (kind == "on"):
            return False
        state[(ch, key)] = kind == "on"
    return True


def test_a_key_struck_again_under_the_pedal_ends_its_old_note_first() -> None:
    # C held under the pedal (released at 0.5), struck again at 0.6 and held past the lift at 1.0
    ev = [(0.0, 2, "on", 0, 60, 90), (0.1, 1, "cc", 0, 64, 127), (0.5, 0, "off", 0, 60, 0),
          (0.6, 2, "on", 0, 60, 100), (1.0, 1, "cc", 0, 64, 0), (1.5, 0, "off", 0, 60, 0)]
    out = [(t, k, key) for t, _, k, _, key, _ in with_pedal(ev)]
    assert out == [(0.0, "on", 60), (0.6, "off", 60), (0.6, "on", 60), (1.5, "off", 60)]


def test_repeated_notes_and_restruck_chords_are_not_cut_off_by_the_jitter() -> None:
    # a melody repeating one pitch every 16th and a chord re-struck on protected (unjittered)
    # steps: with the old timing a note's jittered release fell after the next stroke of its key
    from videobgm.audio.events import events_from_score
    from videobgm.config import PlanConfig, RenderConfig
    from videobgm.features.still import neutral_features
    from videobgm.plan.planner import make_plan

    plan = make_plan(neutral_features(8.0), PlanConfig(), seed=0)
    n = plan.controls.n_bars * 16
    notes = [Note(k, "melody", 72, 1, 80) for k in range(n)]
    notes += [Note(k, "piano", p, 5, 90) for k in range(0, n - 5, 5) for p in (60, 64, 67)]
    s = Score(notes=notes, n_bars=plan.controls.n_bars, tempo_bpm=plan.tempo_bpm,
              programs={"melody": 0, "piano": 0}, beat_times_s=plan.beat_times_s)
    for seed in range(4):
        plan.seed = seed
        for style in ("pop", "acoustic", "electronic"):
            plan.style = style
            te, _ = events_from_score(s, None, plan, RenderConfig())
            for events, _setup in te.values():
                assert _alternates(with_pedal(events)), (seed, style)
