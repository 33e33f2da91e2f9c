"""[3a] Text bridge: visual features -> a music description a person can read and edit.

:func:`describe` turns :class:`~videobgm.types.Features` (plus optional visual labels) into a
:class:`~videobgm.types.Description`: mood, energy per section, tempo, key/mode, style,
instruments, sections and one paragraph of text, every element with its reason. The rules:

* **sections** - scene cuts are boundaries; pieces shorter than ``MIN_SECTION_S`` merge into
  their neighbour, pieces longer than ``MAX_SECTION_S`` are split evenly.
* **energy** per section - ``0.65 * motion + 0.2 * editing pace + 0.15 * visual-beat rate``,
  each mapped to [0, 1]: motion is the section's median optical-flow speed in frame widths per
  second (``MOTION_FAST_FW_S`` = 0.3 -> level 1), pace is 60 / section length in cuts per minute (20 = 1),
  beats per second (2 = 1).
* **tempo** - the visual tempo folded by octaves into ``lexicon.VIDEO_TEMPO_RANGE_BPM`` (70-140
  bpm) when it is confident, else ``70 + 60 * energy``.
* **mode** - valence from colour: bright, warm, saturated -> major; dark, cold, grey -> minor.
* **key** - dominant hue on a Scriabin-like colour wheel (the circle of fifths around the hue
  circle: red C, orange G, yellow D, green A/E, blue B, violet F#); grey video -> C / A.
* **mood** - nearest mood in (arousal = mean energy, valence) space (``lexicon.MOODS``), or the
  visual labels' mood when a labels model agrees strongly.
* **style / instruments** - from mood and editing pace; instruments are the style's defaults.
* **image-text model** (``--clip-model``, ``features.meta["clip"]``) - its top mood, style and a
  seen instrument replace the estimates above, with their scores as reasons (origin ``clip``,
  :mod:`videobgm.features.clip`).

The user's edits (an edited JSON, free text, options) are read and laid over this description by
:mod:`videobgm.bridges.resolve`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from videobgm.bridges.text import description_text, mmss
from videobgm.music import lexicon, theory
from videobgm.types import Description, Features

MIN_SECTION_S = 4.0
MAX_SECTION_S = 20.0
MOTION_FAST_FW_S = 0.3  # frame widths per second of median flow that count as "fast" (level 1)
DEFAULT_ANALYSIS_SIDE = 256
NO_LABELS_NOTE = ("no visual-semantics or image-text model (--labels-model, --clip-model): built "
                  "from motion/colour/cuts only")
_HUE_NAMES = ("red", "orange", "yellow", "yellow-green", "green", "green", "cyan", "azure", "blue",
              "violet", "purple", "magenta")
def _level(x: float, full: float) -> float:
    return float(np.clip(x / full, 0.0, 1.0)) if full > 0 else 0.0


def _analysis_side(features: Features) -> float:
    meta = features.meta or {}
    for key in ("analysis_max_side", "max_side"):
        if meta.get(key):
            return float(meta[key])
    for key in ("analysis_size", "analysis_shape"):
        v = meta.get(key)
        if isinstance(v, (list, tuple)) and len(v) >= 2:
            return float(max(v[:2]))
    return float(DEFAULT_ANALYSIS_SIDE)


def section_boundaries(duration_s: float, cuts: np.ndarray) -> list[tuple[float, float]]:
    """Section spans from cuts: short pieces merged, long ones split evenly."""
    edges = [0.0] + [float(c) for c in np.sort(cuts) if 0.0 < c < duration_s] + [duration_s]
    spans = [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    merged: list[list[float]] = []
    for a, b in spans:
        if merged and (b - a < MIN_SECTION_S or merged[-1][1] - merged[-1][0] < MIN_SECTION_S):
            merged[-1][1] = b
        else:
            merged.append([a, b])
    if len(merged) > 1 and merged[-1][1] - merged[-1][0] < MIN_SECTION_S:
        last = merged.pop()
        merged[-1][1] = last[1]
    out: list[tuple[float, float]] = []
    for a, b in merged:
        n = max(1, int(np.ceil((b - a) / MAX_SECTION_S - 1e-9)))
        out.extend((a + (b - a) * i / n, a + (b - a) * (i + 1) / n) for i in range(n))
    return out or [(0.0, max(duration_s, 0.0))]


def _colour(features: Features) -> dict[str, float]:
    def mean(a: np.ndarray, default: float) -> float:
        a = np.asarray(a, dtype=float)
        a = a[np.isfinite(a)]
        return float(a.mean()) if a.size else default

    b, s, w = mean(features.brightness, 0.5), mean(features.saturation, 0.0), mean(features.warmth, 0.0)
    valence = float(np.clip(1.5 * (b - 0.45) + 0.8 * w + 0.8 * (s - 0.25), -1.0, 1.0))
    hh = np.asarray(features.hue_hist, dtype=float).reshape(-1, 12)
    hist = hh.sum(axis=0) if hh.size else np.zeros(12)
    return {"brightness": b, "saturation": s, "warmth": w, "valence": valence,
            "hue_bin": int(np.argmax(hist)) if hist.sum() > 0 else -1}


def _label_votes(labels: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float], list[str]]:
    moods: dict[str, float] = {}
    styles: dict[str, float] = {}
    seen: list[str] = []
    for lab in labels:
        word = str(lab.get("label", "")).lower()
        score = float(lab.get("score", 1.0))
        if word and word not in seen:
            seen.append(word)
        for token in [word, *word.replace("_", " ").replace(",", " ").split()]:
            mood, style = lexicon.LABEL_HINTS.get(token, (lexicon.canonical_mood(token), lexicon.canonical_style(token)))
            if mood:
                moods[mood] = moods.get(mood, 0.0) + score
            if style:
                styles[style] = styles.get(style, 0.0) + score
            if mood or style:
                break
    return moods, styles, seen


def describe(features: Features, *, labels: list[dict[str, Any]] | None = None) -> Description:
    """Describe the music that fits ``features``; every element carries its reason.

    Parameters
    ----------
    features : Features
        Visual features of the video (or of a still image / neutral features).
    labels : list of dict, optional
        Visual labels ``{"time_s", "label", "score"}`` from ``features.semantics``; default
        ``features.labels``. When empty the reasons say the description used no semantics.

    Returns
    -------
    Description
        ``source="video"``; ``energy_curve`` has one value in [0, 1] per section.
    """
    duration = max(float(features.duration_s), 0.0)
    labels = list(features.labels if labels is None else labels)
    cuts = np.asarray(features.cut_times_s, dtype=float)
    sections, reasons = _sections(features, duration, cuts)
    energies = np.array([s["energy"] for s in sections])
    lengths = np.array([s["end_s"] - s["start_s"] for s in sections])
    arousal = float((energies * lengths).sum() / lengths.sum()) if lengths.sum() > 0 else 0.0
    cut_rate = 60.0 * len(cuts) / duration if duration > 0 else 0.0
    reasons["energy"] = (f"mean energy {arousal:.2f} over {len(sections)} section(s); "
                         f"{len(cuts)} cut(s) = {cut_rate:.1f} cuts/min")
    tempo, reasons["tempo"] = _tempo(features, arousal)
    col = _colour(features)
    mode, tonic, reasons["mode"], reasons["key"] = _mode_and_key(col)

    # mood (arousal/valence, optionally steered by visual labels)
    mood = lexicon.mood_from_arousal_valence(arousal, col["valence"])
    reasons["mood"] = f"energy {arousal:.2f}, colour valence {col['valence']:+.2f} -> {mood}"
    lab_moods, lab_styles, lab_words = _label_votes(labels)
    clip = (features.meta or {}).get("clip")
    if not labels:
        if not clip:  # else the image-text model's reasons follow (clip_labels.join_description)
            reasons["labels"] = NO_LABELS_NOTE
    else:
        reasons["labels"] = f"visual labels: {', '.join(lab_words[:8])}"
        total = sum(lab_moods.values())
        if total > 0:
            best = max(lab_moods, key=lambda k: lab_moods[k])
            if lab_moods[best] >= 0.5 * total and best != mood:
                reasons["mood"] += f"; visual labels point to {best} ({lab_moods[best] / total:.0%}) -> {best}"
                mood = best

    style, reasons["style"] = _style(lab_styles, cut_rate, arousal, mood, col["saturation"])
    instruments, note = _style_instruments(style, mood)
    reasons["instruments"] = f"{style} style -> {', '.join(instruments)}{note}"

    desc = Description(
        mood=mood, energy_curve=[float(e) for e in energies], tempo_bpm=float(tempo),
        key=theory.key_name(tonic), mode=mode, style=style, instruments=instruments,
        sections=sections, reasons=reasons, source="video",
    )
    if clip:  # an image-text model's top labels (--clip-model), origin "clip"
        from videobgm.bridges.clip_labels import join_description

        join_description(desc, clip, section_boundaries(duration, cuts), _style_instruments)
    desc.text = description_text(desc, duration_s=duration)
    return desc


def _sections(features: Features, duration: float, cuts: np.ndarray) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The sections (span, energy, label) and their reasons ``{"section 1": ...}``, in order."""
    t = np.asarray(features.frame_times_s, dtype=float)
    motion_fw = np.nan_to_num(np.asarray(features.motion_speed, dtype=float)) / _analysis_side(features)
    beats = np.asarray(features.visual_beat_times_s, dtype=float)
    sections: list[dict[str, Any]] = []
    for a, b in section_boundaries(duration, cuts):
        sel = (t >= a) & (t < b) if t.size else np.zeros(0, bool)
        m = float(np.median(motion_fw[sel])) if sel.any() else 0.0
        length = max(b - a, 1e-6)
        # a section bounded by cuts on both sides is as long as the editing pace allows
        cut_bounded = any(abs(c - a) < 1e-3 for c in cuts) or any(abs(c - b) < 1e-3 for c in cuts)
        pace = _level(60.0 / length, 20.0) if cut_bounded else 0.0
        nb = int(((beats >= a) & (beats < b)).sum())
        energy = 0.65 * _level(m, MOTION_FAST_FW_S) + 0.2 * pace + 0.15 * _level(nb / length, 2.0)
        word = "fast" if m > 0.35 * MOTION_FAST_FW_S else "moderate" if m > 0.1 * MOTION_FAST_FW_S else "slow" if m > 0.01 * MOTION_FAST_FW_S else "no"
        feel = "driving rhythm" if energy >= 0.55 else "steady pulse" if energy >= 0.3 else "sparse, quiet texture"
        sections.append({"start_s": round(a, 3), "end_s": round(b, 3), "energy": round(float(energy), 3),
                         "reason": f"{word} motion {mmss(a)}-{mmss(b)} ({m:.2f} frame widths/s, "
                                   f"{nb} visual beats) -> {feel}"})
    energies = np.array([s["energy"] for s in sections])
    top = int(np.argmax(energies)) if energies.size else 0
    for i, s in enumerate(sections):
        if len(sections) > 2 and i == 0 and s["energy"] < energies.max():
            s["label"] = "intro"
        elif len(sections) > 2 and i == len(sections) - 1 and s["energy"] < energies.max():
            s["label"] = "outro"
        elif i == top and len(sections) > 1 and s["energy"] >= 0.4:
            s["label"] = "peak"
        else:
            s["label"] = "driving" if s["energy"] >= 0.55 else "steady" if s["energy"] >= 0.3 else "calm"
    return sections, {f"section {i + 1}": s.pop("reason") for i, s in enumerate(sections)}


def _tempo(features: Features, arousal: float) -> tuple[float, str]:
    """The visual tempo folded into ``lexicon.VIDEO_TEMPO_RANGE_BPM`` when confident, else one
    from the energy; with its reason."""
    vt, conf = float(features.tempo_bpm), float(features.tempo_confidence)
    lo, hi = lexicon.VIDEO_TEMPO_RANGE_BPM
    if np.isfinite(vt) and vt > 0 and conf >= 0.3:
        tempo, fold = vt, 1.0
        while tempo < lo:
            tempo, fold = tempo * 2.0, fold * 2.0
        while tempo >= hi:
            tempo, fold = tempo / 2.0, fold / 2.0
        tempo = round(tempo)
        how = "" if fold == 1.0 else f" folded x{fold:g}"
        return tempo, f"visual tempo {vt:.0f} bpm (confidence {conf:.2f}){how} -> {tempo:.0f} bpm"
    tempo = round(lo + (hi - lo - 10.0) * arousal)
    why = "no periodic motion" if not np.isfinite(vt) else f"visual tempo {vt:.0f} bpm too uncertain ({conf:.2f})"
    return tempo, f"{why}; energy {arousal:.2f} -> {tempo:.0f} bpm"


def _mode_and_key(col: dict[str, float]) -> tuple[str, int, str, str]:
    """Mode and key tonic from the colour (:func:`_colour`): ``(mode, tonic, mode reason, key reason)``."""
    mode = "major" if col["valence"] >= 0.0 else "minor"
    bright = "bright" if col["brightness"] >= 0.5 else "dark"
    warm = "warm" if col["warmth"] >= 0.0 else "cold"
    sat = "saturated" if col["saturation"] >= 0.3 else "muted"
    mode_why = (f"{bright} ({col['brightness']:.2f}), {warm} ({col['warmth']:+.2f}), {sat} "
                f"({col['saturation']:.2f}) colours -> valence {col['valence']:+.2f} -> {mode}")
    if col["hue_bin"] < 0 or col["saturation"] < 0.08:
        tonic = 0 if mode == "major" else 9
        return mode, tonic, mode_why, f"almost no colour -> plain key {theory.key_name(tonic)} {mode}"
    hue_bin = int(col["hue_bin"])
    tonic = (7 * hue_bin) % 12
    return mode, tonic, mode_why, (f"dominant hue {_HUE_NAMES[hue_bin]} ({30 * hue_bin}-"
                                   f"{30 * hue_bin + 30} deg) -> {theory.key_name(tonic)} on the "
                                   f"colour wheel (circle of fifths around the hue circle)")


def _style(lab_styles: dict[str, float], cut_rate: float, arousal: float, mood: str,
           saturation: float) -> tuple[str, str]:
    """The style from the visual labels, else from the editing pace, energy and mood; with its reason."""
    if lab_styles:
        style = max(lab_styles, key=lambda k: lab_styles[k])
        return style, f"visual labels -> {style}"
    if cut_rate >= 15.0 and arousal >= 0.45:
        return "electronic", f"fast editing ({cut_rate:.0f} cuts/min) and high energy -> electronic"
    if mood in ("epic", "tense"):
        return "cinematic", f"{mood} mood -> cinematic"
    if arousal < 0.2 and saturation < 0.3:
        return "ambient", f"little motion (energy {arousal:.2f}) and muted colour -> ambient"
    if mood in ("calm", "sad"):
        return "acoustic", f"{mood} mood -> acoustic"
    return "pop", f"{mood} mood, moderate editing -> pop"


def _style_instruments(style: str, mood: str) -> tuple[list[str], str]:
    """A video description's instruments for ``style``: its defaults, no drums when calm/sad."""
    instruments = list(lexicon.STYLES[style].instruments)
    if mood in ("calm", "sad") and "drums" in instruments:
        instruments.remove("drums")
        return instruments, " (no drums for a calm/sad mood)"
    return instruments, ""


# the fields of a description the planner takes (issue 16: the planner's only source of them)
