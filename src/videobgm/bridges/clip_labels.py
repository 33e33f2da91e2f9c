"""The image-text model's scores in words: per-section means and the top labels laid over a video
description (origin ``clip``). The scores themselves come from :mod:`videobgm.features.clip`
(``Features.meta["clip"]``); the anchors are the lexicon's (:func:`videobgm.music.lexicon.anchor_groups`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from videobgm.music import lexicon

INSTRUMENT_MIN_SCORE = 0.5  # an instrument "is seen" when it takes this share of its group
MIN_SHARE = 1.5  # a top mood / style counts at >= 1.5 x the uniform share (1/6 moods -> 0.25)


def check_record(record: Any) -> dict[str, Any]:
    """A ``Features.meta["clip"]`` record (e.g. from an edited features JSON) fits the lexicon:
    one row of finite scores in [0, 1] per frame time and lexicon label. One-line ``InputError``."""
    from videobgm.errors import InputError

    where = "features.meta.clip"
    if not isinstance(record, dict):
        raise InputError(f"{where} must be an object, got {type(record).__name__}")
    try:
        t = np.asarray(record.get("frame_times_s", []), dtype=float).reshape(-1)
        groups = lexicon.anchor_groups()
        for g in lexicon.ANCHOR_GROUPS:
            labels = list(record["labels"][g])
            if labels != list(groups[g]):
                raise InputError(f"{where}.labels.{g} {labels[:4]}... are not the lexicon's "
                                 f"{list(groups[g])[:4]}... (re-run the analysis with --clip-model)")
            s = np.asarray(record["scores"][g], dtype=float)
            if s.shape != (t.size, len(labels)) or not (np.isfinite(s).all() and (s >= 0).all() and (s <= 1).all()):
                raise InputError(f"{where}.scores.{g} must be {t.size} x {len(labels)} scores in "
                                 f"[0, 1], got shape {s.shape}")
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{where} is not an image-text model record ({type(exc).__name__}: {exc})") from None
    if not np.isfinite(t).all():
        raise InputError(f"{where}.frame_times_s must be finite numbers")
    return record


def section_scores(record: dict[str, Any], spans: list[tuple[float, float]]) -> list[dict[str, dict[str, float]]]:
    """Per section: group -> label -> score, the mean over the section's frames (the frame
    nearest its middle when none falls inside)."""
    record = check_record(record)
    t = np.asarray(record.get("frame_times_s", []), dtype=float)
    out: list[dict[str, dict[str, float]]] = []
    for a, b in spans:
        sel = np.flatnonzero((t >= a) & (t < b))
        if sel.size == 0 and t.size:
            sel = np.array([int(np.argmin(np.abs(t - 0.5 * (a + b))))])
        sec: dict[str, dict[str, float]] = {}
        for g in lexicon.ANCHOR_GROUPS:
            labels = record["labels"][g]
            s = np.asarray(record["scores"][g], dtype=float).reshape(-1, len(labels))
            mean = s[sel].mean(axis=0) if sel.size else np.full(len(labels), 1.0 / len(labels))
            sec[g] = {lab: float(v) for lab, v in zip(labels, mean)}
        out.append(sec)
    return out


def _top(scores: dict[str, float], k: int = 3) -> list[tuple[str, float]]:
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


def _fmt(pairs: list[tuple[str, float]]) -> str:
    return ", ".join(f"{lab} {v:.2f}" for lab, v in pairs)


def join_description(desc: Any, record: dict[str, Any], spans: list[tuple[float, float]],
                     style_instruments: Callable[[str, str], tuple[list[str], str]]) -> None:
    """Lay the model's top labels over a video description, in place (origin ``clip``).

    ``style_instruments(style, mood) -> (instruments, note)`` is the describe rule for a style's
    instruments. Reasons: ``clip`` (the model, frames and video-wide top labels), each
    ``section N`` (its top labels), ``mood`` / ``style`` / ``instruments`` (``clip: ...``).
    """
    secs = section_scores(record, spans)
    lengths = np.array([max(b - a, 1e-9) for a, b in spans])
    w = lengths / lengths.sum()
    overall = {g: {lab: float(sum(wi * s[g][lab] for wi, s in zip(w, secs)))
                   for lab in record["labels"][g]} for g in lexicon.ANCHOR_GROUPS}
    n_frames = len(record.get("frame_times_s", []))
    desc.reasons["clip"] = (f"image-text model {record.get('model', '?')}: {n_frames} frame(s) in "
                            f"{len(spans)} section(s) scored zero-shot against the lexicon; "
                            + "; ".join(f"{g} {_fmt(_top(overall[g]))}" for g in lexicon.ANCHOR_GROUPS))
    for i, s in enumerate(secs):
        key = f"section {i + 1}"
        bits = ", ".join(f"{lab} {v:.2f}" for g in lexicon.ANCHOR_GROUPS for lab, v in _top(s[g], 1))
        desc.reasons[key] = f"{desc.reasons.get(key, '')}; clip: {bits}".lstrip("; ")
    (mood, m_score), *m_rest = _top(overall["mood"])
    (style, s_score), *s_rest = _top(overall["style"])
    m_min = MIN_SHARE / len(overall["mood"])
    s_min = MIN_SHARE / len(overall["style"])
    mood_set = m_score >= m_min
    if mood_set:
        desc.reasons["mood"] = (f"clip: {mood} {m_score:.2f} (then {_fmt(m_rest)}) over the "
                                f"sections; motion/colour said {desc.mood}")
        desc.mood = mood
        mode = lexicon.MOODS[mood].mode
        if desc.mode != mode:  # the mood's own mode: a sad score in major does not sound sad
            desc.reasons["mode"] = f"clip: {mood} mood -> {mode} (colour valence said {desc.mode})"
            desc.mode = mode
    else:  # near-uniform scores say nothing: the motion/colour estimate stays (origin video)
        desc.reasons["mood"] += f"; clip's top mood {mood} {m_score:.2f} < {m_min:.2f}: too uncertain"
    style_set = s_score >= s_min
    if style_set:
        desc.reasons["style"] = (f"clip: {style} {s_score:.2f} (then {_fmt(s_rest)}); "
                                 f"motion/colour/editing said {desc.style}")
        desc.style = style
    else:
        desc.reasons["style"] += f"; clip's top style {style} {s_score:.2f} < {s_min:.2f}: too uncertain"
    inst, note = style_instruments(desc.style, desc.mood)
    seen, i_score = _top(overall["instrument"], 1)[0]
    if seen != lexicon.NO_INSTRUMENT and i_score >= INSTRUMENT_MIN_SCORE:
        inst = [seen] + [x for x in inst if x != seen]
        desc.reasons["instruments"] = (f"clip: {seen} {i_score:.2f} seen -> it leads; {desc.style} "
                                       f"style -> {', '.join(inst[1:])}{note}")
        desc.instruments = inst
        return
    best = next((p for p in _top(overall["instrument"], 2) if p[0] != lexicon.NO_INSTRUMENT), None)
    unseen = f"no instrument seen (best {best[0]} {best[1]:.2f} < {INSTRUMENT_MIN_SCORE:g})" if best else ""
    if style_set or mood_set:
        desc.reasons["instruments"] = f"clip: {desc.style} style -> {', '.join(inst)}{note}; {unseen}"
        desc.instruments = inst
    else:
        desc.reasons["instruments"] += f"; clip: {unseen}"
