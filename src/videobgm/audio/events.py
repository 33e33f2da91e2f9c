"""[7] Score / MIDI -> synthesiser events, one list per track (the input of the synthesis).

A :class:`Score` is performed first (:mod:`videobgm.audio.perform`) and its notes and pedal become
timed note-on / note-off / control-change events on their own MIDI channel (drums on the GM
percussion channel); a MIDI file's instruments are read as they are. :func:`with_pedal` applies
the sustain pedal (CC64) by holding note-offs while it is down, because tinysoundfont ignores CC64.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.config import RenderConfig
from videobgm.errors import InputError
from videobgm.types import TRACKS, Plan, Score

DRUM_CHANNEL = 9
SUSTAIN_CC = 64


# one event: (time_s, order, kind, channel, key_or_controller, velocity_or_value);
# order puts note-offs before control changes before note-ons at the same time
Event = tuple[float, int, str, int, int, int]
_ORDER = {"off": 0, "cc": 1, "on": 2}


TrackEvents = dict[str, tuple[list[Event], dict[int, tuple[int, bool]]]]


def events_from_score(score: Score, tracks: Sequence[str] | None, plan: Plan | None,
                      cfg: RenderConfig) -> tuple[TrackEvents, Any]:
    """Per-track events of the performed Score (``perform``), and the performance."""
    from videobgm.audio.perform import perform, plan_protected_steps

    names = [t for t in TRACKS if t in {n.track for n in score.notes}]
    names += sorted({n.track for n in score.notes} - set(names))
    if tracks is not None:
        names = [t for t in names if t in tracks]
    if plan is not None:
        perf = perform(score, style=plan.style, protected_steps=plan_protected_steps(plan),
                       phrase_start_bars=[s.start_bar for s in plan.sections], seed=plan.seed,
                       humanize=cfg.humanize)
    else:
        perf = perform(score, humanize=cfg.humanize)
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    out: TrackEvents = {}
    for t in names:
        if t == "drums":
            ch, setup = DRUM_CHANNEL, (0, True)
        else:
            if not free:
                raise InputError("more than 15 pitched tracks; cannot assign MIDI channels")
            ch, setup = free.pop(0), (int(score.programs.get(t, 0)) % 128, False)
        events: list[Event] = []
        for n in perf.notes:
            if n.track == t:
                events.append((n.on_s, _ORDER["on"], "on", ch, n.pitch, n.velocity))
                events.append((n.off_s, _ORDER["off"], "off", ch, n.pitch, 0))
        for down, up in perf.pedal_s.get(t, ()):
            events.append((down, _ORDER["cc"], "cc", ch, SUSTAIN_CC, 127))
            events.append((up, _ORDER["cc"], "cc", ch, SUSTAIN_CC, 0))
        out[t] = (events, {ch: setup})
    return out, perf


def events_from_midi(pm: Any, tracks: Sequence[str] | None) -> TrackEvents:
    """Per-track events of a ``pretty_midi.PrettyMIDI`` (tracks by instrument name/program, one
    channel per instrument, drums on 10), with its control changes."""
    from videobgm.music.midi import track_of_instrument

    out: TrackEvents = {}
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    prog_channel: dict[tuple[int, bool], int] = {}
    for inst in pm.instruments:
        track = track_of_instrument(inst.name, inst.program, inst.is_drum)
        if tracks is not None and track not in tracks and (inst.name or "").strip().lower() not in tracks:
            continue
        key = (int(inst.program), bool(inst.is_drum))
        if inst.is_drum:
            ch = DRUM_CHANNEL
        elif key in prog_channel:
            ch = prog_channel[key]
        elif free:
            ch = free.pop(0)
        else:  # more instruments than channels: share the last one
            ch = 15
        prog_channel[key] = ch
        events, setup = out.setdefault(track, ([], {}))
        setup.setdefault(ch, (int(inst.program), bool(inst.is_drum)))
        for n in inst.notes:
            events.append((float(n.start), _ORDER["on"], "on", ch, int(np.clip(n.pitch, 0, 127)), int(np.clip(n.velocity, 1, 127))))
            events.append((float(n.end), _ORDER["off"], "off", ch, int(np.clip(n.pitch, 0, 127)), 0))
        for c in inst.control_changes:
            events.append((float(c.time), _ORDER["cc"], "cc", ch, int(c.number) & 127, int(np.clip(c.value, 0, 127))))
    return out


def load_events(score_or_midi: Any, tracks: Sequence[str] | None, plan: Plan | None,
                cfg: RenderConfig) -> tuple[TrackEvents, Any]:
    if isinstance(score_or_midi, Score):
        return events_from_score(score_or_midi, tracks, plan, cfg)
    if isinstance(score_or_midi, (str, os.PathLike)):
        p = Path(score_or_midi)
        if not p.is_file():
            raise InputError(f"MIDI file not found: {p}")
        import pretty_midi

        try:
            pm = pretty_midi.PrettyMIDI(str(p))
        except Exception as exc:  # noqa: BLE001 - any parse failure is a bad input file
            raise InputError(f"cannot read MIDI file {p.name}: {exc}") from None
        return events_from_midi(pm, tracks), None
    if hasattr(score_or_midi, "instruments"):
        return events_from_midi(score_or_midi, tracks), None
    raise InputError(f"cannot render a {type(score_or_midi).__name__}; give a Score, PrettyMIDI or MIDI path")


def with_pedal(events: list[Event]) -> list[Event]:
    """Events with the sustain pedal applied: a note-off while the pedal is down waits for the
    pedal's release (CC64 >= 64 is down, as in MIDI 1.0), or for the key's next stroke, which
    ends the old note."""
    out: list[Event] = []
    down: dict[int, bool] = {}
    held: dict[int, list[int]] = {}
    for ev in sorted(events):
        t, _, kind, ch, key, val = ev
        if kind == "cc" and key == SUSTAIN_CC:
            if val >= 64:
                down[ch] = True
            elif down.get(ch):
                down[ch] = False
                out.extend((t, _ORDER["off"], "off", ch, k, 0) for k in held.pop(ch, []))
            continue
        if kind == "off" and down.get(ch):
            held.setdefault(ch, []).append(key)
            continue
        if kind == "on" and key in held.get(ch, ()):
            # the key struck again under the pedal: the string is re-struck, the old note ends
            # here (its held release, sent at the pedal's lift, would cut the new note short)
            held[ch] = [k for k in held[ch] if k != key]
            out.append((t, _ORDER["off"], "off", ch, key, 0))
        out.append(ev)
    return out
