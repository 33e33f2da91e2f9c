"""[3a] The user's edits laid over the video's description: the one description a score plays.

:func:`parse_description` reads what the user gives, an edited description (JSON, from
``videobgm describe -o``) or free text / a prompt (``"calm piano, rainy evening, 80 bpm, D minor"``,
keyword rules in :mod:`videobgm.bridges.prompt` and, when the packaged MiniLM model is installed,
nearest-neighbour matching against the lexicon's anchor phrases). :func:`resolve_description`
lays it and then the user's options over the video's own description (:func:`videobgm.bridges.describe.describe`);
every field taken from an edit or an option has a reason starting with its origin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from videobgm.bridges.describe import describe
from videobgm.bridges.text import description_text
from videobgm.errors import InputError
from videobgm.music import lexicon, theory
from videobgm.schema import read_description
from videobgm.types import Description, Features

MUSIC_FIELDS = ("mood", "style", "key", "mode", "tempo_bpm", "instruments")
VIDEO_ORIGINS = ("video", "clip")  # the video's own description (clip: its image-text model)
_OPTION_FIELDS = {"mood": "mood", "style": "style", "key": "key", "mode": "mode",
                  "tempo_bpm": "tempo_bpm", "instruments": "instruments"}


def _reason_key(name: str) -> str:
    return "tempo" if name == "tempo_bpm" else name


def resolve_description(features: Features, cfg: Any = None, edit: Description | None = None,
                        *, base: Description | None = None) -> Description:
    """The one description a score plays: the video's, with an edited description / free text and
    then the user's options laid over it (issue 16). ``score``, ``describe``, ``compose``, the UI
    and the planner all call this; the planner takes mood, style, key, mode, tempo, instruments and
    energy from the result only.

    A changed mood without a style/mode/instruments of its own brings the lexicon's defaults for
    it (``lexicon.MOODS[mood]``); a changed style brings its instruments. Every field taken from the
    edit or an option has a reason starting with its origin (``user option: ...``).
    """
    desc = base if base is not None else describe(features)
    desc = Description(**{**desc.to_dict(), "reasons": dict(desc.reasons),
                          "instruments": list(desc.instruments) if desc.instruments else None})
    changed: set[str] = set()

    def put(name: str, value: Any, origin: str, why: str, force: bool = False) -> None:
        if value is None or (value == getattr(desc, name) and not force):
            return
        setattr(desc, name, value)
        desc.reasons[_reason_key(name)] = f"{origin}: {why}"
        changed.add(name)

    if edit is not None:
        # a video description passed back in (e.g. from plan.json) keeps the video as origin
        origin = "text" if edit.source == "text" else "video" if edit.source == "video" else "edited"
        for name in MUSIC_FIELDS:
            v = getattr(edit, name)
            if v is None:
                continue
            v = list(v) if name == "instruments" else v
            why = edit.reasons.get(_reason_key(name)) or f"{name} {v}"
            if origin == "video":
                setattr(desc, name, v)
                desc.reasons[_reason_key(name)] = why
            else:
                put(name, v, origin, why, True)
        if edit.energy_curve:
            desc.energy_curve = [float(e) for e in edit.energy_curve]
            why = edit.reasons.get("energy", "energy curve given")
            desc.reasons["energy"] = why if origin == "video" else f"{origin}: {why}"
        if edit.sections:
            desc.sections = [dict(s) for s in edit.sections]
        for k, v in edit.reasons.items():  # e.g. the prompt itself, unmapped words
            if k not in desc.reasons and k not in ("section",):
                desc.reasons[k] = v
        desc.source = edit.source if edit.source in ("text", "video", "image") else "edited"
    if cfg is not None:
        for name, opt in _OPTION_FIELDS.items():
            v = getattr(cfg, opt, None)
            if v is None:
                continue
            if name == "instruments":
                v = list(lexicon.check_instruments(v))
            elif name == "tempo_bpm":
                v = lexicon.check_tempo(v, "tempo")
            elif name == "key":
                v = theory.key_name(theory.parse_key(v))
            else:
                v = lexicon.check_choice(v, lexicon.MOOD_NAMES if name == "mood" else
                                       lexicon.STYLES if name == "style" else ("major", "minor"), name)
            flag = "--" + opt.replace("_bpm", "").replace("_", "-")
            put(name, v, "user option", f"{flag} {v if name != 'instruments' else ','.join(v)}", True)
            changed.add(name)  # an option is firm even when it equals the video's value
        if changed & set(MUSIC_FIELDS) and desc.source == "video":
            desc.source = "options"
    # a changed mood / style brings its own defaults for what was not given with it
    given = {n for n in MUSIC_FIELDS if desc.origin(n) not in VIDEO_ORIGINS}
    if "mood" in changed and desc.mood in lexicon.MOODS:
        m = lexicon.MOODS[desc.mood]
        if "mode" not in given:
            put("mode", m.mode, "user option" if cfg is not None and getattr(cfg, "mood", None)
                else "edited", f"default for mood {desc.mood}")
        if "style" not in given:
            put("style", m.style, "edited", f"default style for mood {desc.mood}")
    if ("style" in changed or "mood" in changed) and "instruments" not in given and desc.style:
        from videobgm.music.styles import has_drums

        inst = list(lexicon.STYLES[desc.style].instruments)
        drums = has_drums(desc.style, desc.mood or "neutral", style_named="style" in given)
        if not drums and "drums" in inst:
            inst.remove("drums")
        elif drums and "drums" not in inst:  # cinematic: its toms / timpani on the hits
            inst.append("drums")
        put("instruments", inst, "edited", f"{desc.style} style's instruments"
            + ("" if drums or "drums" not in lexicon.STYLES[desc.style].instruments
               else f" (no drums: {desc.style} idiom / {desc.mood} mood)"))
    # the style / mood (named, or the video's own) fits a tempo the video suggested into its
    # range (issue 19); a tempo the user, a prompt or an edit gave is kept
    if "tempo_bpm" not in given and desc.tempo_bpm and desc.style in lexicon.STYLES:
        from videobgm.music.styles import fit_tempo

        visual = bool(np.isfinite(features.tempo_bpm) and features.tempo_confidence >= 0.3)
        t, why = fit_tempo(float(desc.tempo_bpm), desc.style, desc.mood or "neutral", visual=visual)
        if why and t != desc.tempo_bpm:
            put("tempo_bpm", round(t, 1), "edited", f"video tempo {desc.tempo_bpm:g} bpm {why}")
    desc.text = description_text(desc, duration_s=float(features.duration_s) or None)
    return desc


def parse_description(text_or_path: str | Path, *, use_embeddings: bool | None = None,
                      max_duration_s: float | None = None,
                      max_prompt_chars: int | None = None) -> Description:
    """Read a description from an edited JSON file, a JSON string, a text file or free text.

    Parameters
    ----------
    text_or_path : str or path
        A ``.json`` file written by ``videobgm describe -o`` (possibly edited), a text file with a
        prompt, a JSON string, or the prompt itself (``"calm piano, rainy evening, 80 bpm"``).
    use_embeddings : bool, optional
        Match the text against mood/style anchor phrases with MiniLM; default: when installed.
    max_duration_s : float, optional
        Latest section time a description JSON may give (default ``VideoConfig.max_duration_s``).
    max_prompt_chars : int, optional
        Longest prompt accepted (default ``prompt.MAX_PROMPT_CHARS``).

    Returns
    -------
    Description
        ``source="edited"`` for JSON, ``"text"`` for a prompt.

    Raises
    ------
    InputError
        Unreadable file, invalid JSON, or a field outside the description schema (one line
        naming the field, :mod:`videobgm.schema`).
    OptionError
        An empty or too long prompt, or a tempo outside 30..300 bpm in it.
    """
    from videobgm import schema
    raw = str(text_or_path)
    short = len(raw) < 1024 and "\n" not in raw and "\x00" not in raw
    is_path = isinstance(text_or_path, Path) or (short and Path(raw).suffix != "" and Path(raw).is_file())
    looks_like_file = short and " " not in raw.strip() and raw.strip().lower().endswith((".json", ".txt"))
    if (isinstance(text_or_path, Path) or looks_like_file) and not Path(raw.strip()).is_file():
        raise InputError(f"description file not found: {raw.strip()}")
    if is_path:
        p = Path(text_or_path)
        if p.suffix.lower() == ".json":
            data = schema.load_json(p, "description", max_bytes=schema.MAX_DESCRIPTION_BYTES)
            return _edited_description(data, max_duration_s)
        try:
            if p.stat().st_size > schema.MAX_DESCRIPTION_BYTES:
                raise InputError(f"description file {p} is {p.stat().st_size / 1e6:.1f} MB; the "
                                 f"limit is {schema.MAX_DESCRIPTION_BYTES / 1e6:.0f} MB")
            raw = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read description file {text_or_path}: {exc}") from None
    if raw.lstrip().startswith("{"):
        if len(raw) > schema.MAX_DESCRIPTION_BYTES:
            raise InputError(f"description JSON is {len(raw)} characters; the limit is "
                             f"{schema.MAX_DESCRIPTION_BYTES}")
        return _edited_description(schema.parse_json_text(raw, "description JSON"), max_duration_s)
    from videobgm.bridges.prompt import parse_prompt

    return parse_prompt(raw, use_embeddings=use_embeddings, max_chars=max_prompt_chars)


def _edited_description(data: Any, max_duration_s: float | None) -> Description:
    """A description dict (or a plan.json holding one) -> a checked, canonical Description."""
    if isinstance(data, dict) and isinstance(data.get("description"), dict):
        data = data["description"]  # a plan.json written by `score --plan`
    desc = read_description(data, max_duration_s=max_duration_s)
    desc.source = "edited" if desc.source == "video" else desc.source
    if not desc.text:
        desc.text = description_text(desc)
    return desc
