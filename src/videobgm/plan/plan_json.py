"""The ``plan.json`` form of a :class:`~videobgm.types.Plan`: :func:`plan_to_dict` writes it,
:func:`plan_from_dict` reads it back (a round trip) and :func:`load_plan` is the one reader of a
``plan.json`` file (``score --plan``'s record, or a bare plan dict). Arrays become lists, chords
get their names, accents and melody bars are stored as the indices that are set. The pipeline
writes the file; ``eval --plan`` and the tests read it here.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from videobgm.errors import InputError
from videobgm.music.theory import chord_name
from videobgm.schema import read_description
from videobgm.types import PITCH_CLASS_NAMES, STEPS_PER_BEAT, Chord, Controls, Plan, Section


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """JSON-ready dict of a plan (for ``plan.json``): arrays become lists, chords get names."""
    c = plan.controls
    return {
        "duration_s": round(float(plan.duration_s), 6),
        "tempo_bpm": round(float(plan.tempo_bpm), 4),
        "beats_per_bar": int(plan.beats_per_bar),
        "n_bars": int(plan.n_bars),
        "key": PITCH_CLASS_NAMES[c.key_tonic],
        "mode": c.mode,
        "mood": plan.mood,
        "style": plan.style,
        "programs": dict(plan.programs),
        "tracks": list(c.tracks),
        "seed": int(plan.seed),
        "beat_times_s": np.round(np.asarray(plan.beat_times_s, dtype=float), 6).tolist(),
        "sections": [asdict(s) for s in plan.sections],
        "controls": {
            "density_per_bar": np.asarray(c.density_per_bar).astype(int).tolist(),
            "strength_per_beat": np.asarray(c.strength_per_beat).astype(int).tolist(),
            "accent_steps": np.flatnonzero(np.asarray(c.accent_steps)).astype(int).tolist(),
            "melody_bars": (None if c.melody_bars is None
                            else np.flatnonzero(np.asarray(c.melody_bars)).astype(int).tolist()),
            **({} if c.register_per_bar is None else
               {"register_per_bar": np.round(np.asarray(c.register_per_bar, dtype=float), 2).tolist()}),
            "chords": [{"onset_16th": ch.onset_16th, "root": ch.root, "quality": ch.quality,
                        "name": chord_name(ch.root, ch.quality),
                        **({"bass": ch.bass} if ch.bass >= 0 else {})} for ch in c.chords],
        },
        "reasons": dict(plan.reasons),
        "cuts": [dict(c) for c in plan.cuts],
        "hit_points": [{"step": int(k), "kind": kind} for k, kind in c.hits],
        "fill_bars": [int(b) for b in c.fill_bars],
        "ending_bar": None if c.ending_bar is None else int(c.ending_bar),
        "fade_out_s": plan.fade_out_s,
        "instruments": dict(plan.instruments),
        "description": plan.description.to_dict() if plan.description is not None else None,
        "regenerations": [dict(r) for r in plan.regenerations],
    }


def plan_from_dict(d: dict[str, Any]) -> Plan:
    """Read :func:`plan_to_dict`'s output back into a :class:`Plan` (round trip).

    Raises
    ------
    InputError
        One line naming the missing or malformed field.
    """
    from videobgm.music.theory import parse_key

    if not isinstance(d, dict):
        raise InputError(f"a plan must be a JSON object, got {type(d).__name__}")
    try:
        bpb = int(d["beats_per_bar"])
        n_bars = int(d["n_bars"])
        spb = bpb * STEPS_PER_BEAT
        c = d["controls"]
        accents = np.zeros(n_bars * spb, dtype=bool)
        accents[np.asarray(c["accent_steps"], dtype=int)] = True
        melody = None
        if c.get("melody_bars") is not None:
            melody = np.zeros(n_bars, dtype=bool)
            melody[np.asarray(c["melody_bars"], dtype=int)] = True
        register = None
        if c.get("register_per_bar") is not None:
            register = np.asarray(c["register_per_bar"], dtype=float)
            if register.shape != (n_bars,) or not np.all((register >= 21) & (register <= 108)):
                raise InputError(f"plan's controls.register_per_bar must be {n_bars} MIDI pitches "
                                 f"(21..108), one per bar")
        controls = Controls(
            n_bars=n_bars, beats_per_bar=bpb,
            density_per_bar=np.asarray(c["density_per_bar"], dtype=np.int64),
            strength_per_beat=np.asarray(c["strength_per_beat"], dtype=np.int64),
            accent_steps=accents,
            chords=[Chord(onset_16th=int(ch["onset_16th"]), root=int(ch["root"]),
                          quality=str(ch["quality"]), bass=int(ch.get("bass", -1)))
                    for ch in c["chords"]],
            key_tonic=parse_key(d["key"]), mode=str(d["mode"]), tracks=tuple(d["tracks"]),
            tempo_bpm=float(d["tempo_bpm"]), melody_bars=melody,
            hits=tuple((int(h["step"]), str(h["kind"])) for h in d.get("hit_points", [])),
            fill_bars=tuple(int(b) for b in d.get("fill_bars", [])),
            ending_bar=None if d.get("ending_bar") is None else int(d["ending_bar"]),
            register_per_bar=register,
        )
        desc = d.get("description")
        return Plan(
            duration_s=float(d["duration_s"]), tempo_bpm=float(d["tempo_bpm"]), beats_per_bar=bpb,
            beat_times_s=np.asarray(d["beat_times_s"], dtype=float),
            sections=[Section(**s) for s in d["sections"]], controls=controls,
            programs={str(k): int(v) for k, v in d["programs"].items()},
            style=str(d.get("style", "pop")), mood=str(d.get("mood", "neutral")),
            reasons=dict(d.get("reasons", {})), seed=int(d.get("seed", 0)),
            cuts=[dict(x) for x in d.get("cuts", [])], fade_out_s=d.get("fade_out_s"),
            instruments=dict(d.get("instruments", {})),
            description=None if desc is None else read_description(desc),
            regenerations=[dict(r) for r in d.get("regenerations", [])],
        )
    except KeyError as exc:
        raise InputError(f"plan is missing the field {exc.args[0]!r}") from None
    except (TypeError, ValueError, IndexError) as exc:
        raise InputError(f"plan has a malformed field: {exc}") from None


def load_plan(path: Any) -> Plan:
    """The one reader of ``plan.json`` (``score --plan``'s record, or a bare plan dict).

    Raises
    ------
    InputError
        Unreadable file, invalid JSON or not a plan (one line).
    """
    from videobgm import schema
    data = schema.load_json(path, "plan")
    if isinstance(data, dict) and isinstance(data.get("plan"), dict):
        inner = dict(data["plan"])
        if inner.get("description") is None and isinstance(data.get("description"), dict):
            inner["description"] = data["description"]
        data = inner
    if not isinstance(data, dict) or "sections" not in data:
        raise InputError(f"{path} is not a plan.json (no 'plan' with 'sections'; write one with "
                         f"`videobgm score ... --plan plan.json`)")
    return plan_from_dict(data)
