"""One schema for each JSON file a user hands back: the description and the features.

``videobgm describe -o`` writes a description JSON, ``videobgm analyze -o`` a features JSON;
``score --description``, ``compose --description``, ``describe FEATURES.json``,
``eval --features`` and the web UI read them back. Every reader goes through
:meth:`Description.from_dict <videobgm.types.Description.from_dict>` /
:meth:`Features.from_dict <videobgm.types.Features.from_dict>`, which call :func:`check_description`
/ :func:`check_features` here, and files are read with :func:`load_json` (size limit, nesting
limit, strict UTF-8). Plain Python, no dependency beyond the standard library and the lexicon.

What is checked: the type of every field, finite numbers in their ranges, times within the
configured maximum duration (``VideoConfig.max_duration_s``), array lengths bounded by the
duration and consistent with each other, nesting depth, and the words of the one lexicon
(:mod:`videobgm.music.lexicon`: moods, styles, instruments, keys). Each violation raises
:class:`~videobgm.errors.InputError` with one line naming the field, e.g.
``description.sections[3].energy: expected a number in [0, 1], got "x"``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from videobgm.errors import InputError, OptionError
from videobgm.music import theory
from videobgm.types import Description, Features

MAX_JSON_BYTES = 256 * 1024 * 1024  # a features JSON of a 4-hour 30 fps video is ~100 MB
MAX_DESCRIPTION_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 8  # nesting of free-form objects (features.meta); the schema's own depth is lower
MAX_TEXT_CHARS = 1_000_000  # description.text (one paragraph; long videos list many sections)
MAX_WORD_CHARS = 200  # labels, keys, moods, reason names
MAX_REASON_CHARS = 20_000
MAX_ITEMS = 100_000  # sections, energy curve points, reasons, visual labels
MAX_ANALYSIS_FPS = 240.0  # analysed frames per second of video (bounds every per-frame array)
MAX_FPS = 1000.0
MAX_SIDE_PX = 65_536
from videobgm.music.lexicon import TEMPO_LIMITS_BPM as TEMPO_RANGE_BPM  # noqa: E402 (the one tempo range)

SOURCES = ("video", "text", "image", "edited", "options")
_NUM = (int, float)
_INT_LIMIT = 2**53


def _default_max_duration_s() -> float:
    from videobgm.config import VideoConfig

    return float(VideoConfig().max_duration_s)


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------
def parse_json_text(text: str, what: str) -> Any:
    """``json.loads`` whose every failure is one :class:`InputError` line naming ``what``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} "
                         f"column {exc.colno})") from None
    except RecursionError:
        raise InputError(f"{what} is nested too deeply to be a {what.split()[0]} JSON") from None
    except ValueError as exc:  # e.g. an integer with more than 4300 digits
        raise InputError(f"{what} is not valid JSON ({exc})") from None


def load_json(path: str | Path, what: str, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Read a JSON file with a size limit; ``what`` names it in errors (``"features"``)."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError:
        raise InputError(f"{what} file not found: {p}") from None
    if not p.is_file():
        raise InputError(f"{what} file is not a regular file: {p}")
    if size > max_bytes:
        raise InputError(f"{what} file {p} is {size / 1e6:.1f} MB; the limit is "
                         f"{max_bytes / 1e6:.0f} MB")
    try:
        text = p.read_bytes().decode("utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {what} file {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} file {p} is not UTF-8 text (byte {exc.start})") from None
    return parse_json_text(text, f"{what} file {p.name}")


# ----------------------------------------------------------------------------------------------
# field checks: each raises InputError("<path>: expected ..., got ...")
# ----------------------------------------------------------------------------------------------
def _got(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        s = json.dumps(v[:40] + ("..." if len(v) > 40 else ""), ensure_ascii=False)
        return s if len(v) <= 40 else f"{s} ({len(v)} characters)"
    if isinstance(v, int):
        s = str(v) if abs(v) < 10**20 else f"an integer of {len(str(abs(v)))} digits"
        return s
    if isinstance(v, float):
        return repr(v).replace("inf", "Infinity").replace("nan", "NaN")
    if isinstance(v, list):
        return f"a list of {len(v)}"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _fail(path: str, expected: str, v: Any) -> InputError:
    return InputError(f"{path}: expected {expected}, got {_got(v)}")


def _fmt(x: float) -> str:
    return f"{x:g}"


def number(v: Any, path: str, lo: float, hi: float, *, lo_open: bool = False) -> float:
    """A finite JSON number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``); booleans refused."""
    rng = f"{'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}]"
    if type(v) not in _NUM or (type(v) is int and abs(v) > _INT_LIMIT):
        raise _fail(path, f"a number in {rng}", v)
    x = float(v)
    if not math.isfinite(x) or x > hi or x < lo or (lo_open and x == lo):
        raise _fail(path, f"a number in {rng}", v)
    return x


def integer(v: Any, path: str, lo: int, hi: int) -> int:
    if type(v) is not int or not lo <= v <= hi:
        raise _fail(path, f"a whole number in [{lo}, {hi}]", v)
    return v


def string(v: Any, path: str, max_chars: int = MAX_WORD_CHARS) -> str:
    if not isinstance(v, str):
        raise _fail(path, "a string", v)
    if len(v) > max_chars:
        raise InputError(f"{path}: expected at most {max_chars} characters, got {len(v)}")
    return v


def listof(v: Any, path: str, max_items: int) -> list[Any]:
    if not isinstance(v, list):
        raise _fail(path, "a list", v)
    if len(v) > max_items:
        raise InputError(f"{path}: expected at most {max_items} items, got {len(v)}")
    return v


def obj(v: Any, path: str, accepted: tuple[str, ...] | None = None,
        required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON object; with ``accepted``, unknown keys are refused (naming the accepted ones)."""
    if not isinstance(v, dict):
        raise _fail(path, "an object", v)
    if accepted is not None:
        for k in v:
            if k not in accepted:
                raise InputError(f"{path}: unknown field {_got(str(k))}; accepted: {', '.join(accepted)}")
    for k in required:
        if k not in v:
            raise InputError(f"{path}: missing field {k!r}")
    return v


def numbers(v: Any, path: str, lo: float, hi: float, max_items: int) -> list[float]:
    """A list of finite numbers in ``[lo, hi]`` (checked element by element, first bad one named)."""
    listof(v, path, max_items)
    for i, x in enumerate(v):
        if type(x) not in _NUM or (type(x) is int and abs(x) > _INT_LIMIT) or not lo <= x <= hi \
                or x != x:
            raise _fail(f"{path}[{i}]", f"a number in [{_fmt(lo)}, {_fmt(hi)}]", x)
    return v


def depth_at_most(v: Any, path: str, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` (iterative: no recursion on hostile input)."""
    stack = [(v, 0)]
    while stack:
        x, d = stack.pop()
        if isinstance(x, (list, dict)):
            if d >= limit:
                raise InputError(f"{path}: nested deeper than {limit} levels")
            stack.extend((y, d + 1) for y in (x.values() if isinstance(x, dict) else x))


def word(v: Any, path: str, kind: str, canonical: Any, accepted: Any) -> str:
    """A lexicon word of ``kind`` (``canonical(word) -> name or None``), returned canonical."""
    s = string(v, path)
    name = canonical(s)
    if name is None:
        raise InputError(f"{path}: unknown {kind} {_got(s)}; accepted: {', '.join(accepted)}")
    return name


# ----------------------------------------------------------------------------------------------
# the description (describe -o, score/compose --description, the UI's text box)
# ----------------------------------------------------------------------------------------------
DESCRIPTION_FIELDS = ("text", "mood", "energy_curve", "tempo_bpm", "key", "mode", "style",
                      "instruments", "sections", "reasons", "source")
SECTION_FIELDS = ("start_s", "end_s", "label", "energy")


def check_description(d: Any, *, max_duration_s: float | None = None,
                      where: str = "description") -> dict[str, Any]:
    """Validate a description dict and return its fields with lexicon words made canonical.

    Raises
    ------
    InputError
        The first violation, one line naming the field (``description.sections[3].energy``).
    """
    from videobgm.music import lexicon
    max_d = _default_max_duration_s() if max_duration_s is None else float(max_duration_s)
    obj(d, where, DESCRIPTION_FIELDS)
    out: dict[str, Any] = {}
    if "text" in d:
        out["text"] = string(d["text"], f"{where}.text", MAX_TEXT_CHARS)
    for name, canonical, accepted in (
            ("mood", lexicon.canonical_mood, (*lexicon.MOODS, lexicon.NEUTRAL_MOOD)),
            ("style", lexicon.canonical_style, tuple(lexicon.STYLES))):
        if d.get(name) is not None:
            out[name] = word(d[name], f"{where}.{name}", name, canonical, accepted)
        elif name in d:
            out[name] = None
    if "energy_curve" in d:
        out["energy_curve"] = [float(x) for x in numbers(d["energy_curve"], f"{where}.energy_curve",
                                                         0.0, 1.0, MAX_ITEMS)]
    if d.get("tempo_bpm") is not None:
        out["tempo_bpm"] = number(d["tempo_bpm"], f"{where}.tempo_bpm", *TEMPO_RANGE_BPM)
    elif "tempo_bpm" in d:
        out["tempo_bpm"] = None
    if d.get("key") is not None:
        s = string(d["key"], f"{where}.key")
        try:
            out["key"] = theory.key_name(theory.parse_key(s))
        except OptionError:
            raise InputError(f"{where}.key: unknown key {_got(s)}; accepted: a note name such as "
                             f"C, F#, Bb") from None
    elif "key" in d:
        out["key"] = None
    if d.get("mode") is not None:
        s = string(d["mode"], f"{where}.mode").strip().lower()
        mode = {"maj": "major", "min": "minor"}.get(s, s)
        if mode not in ("major", "minor"):
            raise InputError(f"{where}.mode: unknown mode {_got(d['mode'])}; accepted: major, minor")
        out["mode"] = mode
    elif "mode" in d:
        out["mode"] = None
    if d.get("instruments") is not None:
        items = listof(d["instruments"], f"{where}.instruments", 4 * len(lexicon.INSTRUMENTS))
        names: list[str] = []
        for i, w in enumerate(items):
            name = word(w, f"{where}.instruments[{i}]", "instrument", lexicon.canonical_instrument,
                        lexicon.INSTRUMENTS)
            if name not in names:
                names.append(name)
        out["instruments"] = names or None
    elif "instruments" in d:
        out["instruments"] = None
    if "sections" in d:
        out["sections"] = [_section(s, f"{where}.sections[{i}]", max_d)
                           for i, s in enumerate(listof(d["sections"], f"{where}.sections", MAX_ITEMS))]
    if "reasons" in d:
        r = obj(d["reasons"], f"{where}.reasons")
        if len(r) > MAX_ITEMS:
            raise InputError(f"{where}.reasons: expected at most {MAX_ITEMS} items, got {len(r)}")
        out["reasons"] = {string(k, f"{where}.reasons (a name)"):
                          string(v, f"{where}.reasons[{json.dumps(k[:40])}]", MAX_REASON_CHARS)
                          for k, v in r.items()}
    if "source" in d:
        s = string(d["source"], f"{where}.source")
        if s not in SOURCES:
            raise InputError(f"{where}.source: unknown source {_got(s)}; accepted: {', '.join(SOURCES)}")
        out["source"] = s
    return out


def _section(s: Any, path: str, max_d: float) -> dict[str, Any]:
    obj(s, path, SECTION_FIELDS, required=("start_s", "end_s"))
    a = number(s["start_s"], f"{path}.start_s", 0.0, max_d)
    b = number(s["end_s"], f"{path}.end_s", 0.0, max_d)
    if not b > a:
        raise InputError(f"{path}.end_s: expected a time after start_s ({_fmt(a)} s), got {_got(s['end_s'])}")
    out: dict[str, Any] = {"start_s": a, "end_s": b}
    if "label" in s:
        out["label"] = string(s["label"], f"{path}.label")
    if "energy" in s:
        out["energy"] = number(s["energy"], f"{path}.energy", 0.0, 1.0)
    return out


# ----------------------------------------------------------------------------------------------
# the features (analyze -o; describe FEATURES.json, eval --features)
# ----------------------------------------------------------------------------------------------
VIDEO_FIELDS = ("path", "duration_s", "fps", "width", "height", "rotation_deg", "n_frames", "codec",
                "has_audio", "variable_frame_rate")
FEATURE_FIELDS = ("video", "frame_times_s", "motion_speed", "saliency", "visual_beat_times_s",
                  "visual_beat_strength", "tempo_bpm", "tempo_confidence", "cut_times_s",
                  "brightness", "saturation", "warmth", "hue_hist", "meta", "labels")
_PER_FRAME = {"motion_speed": (0.0, 1e9), "saliency": (0.0, 1e12), "brightness": (0.0, 1.0),
              "saturation": (0.0, 1.0), "warmth": (-1.0, 1.0)}
LABEL_FIELDS = ("time_s", "label", "score")


def check_features(d: Any, *, max_duration_s: float | None = None,
                   where: str = "features") -> dict[str, Any]:
    """Validate a features dict (``Features.to_dict()``); returns it unchanged.

    The video's duration must be in ``(0, max_duration_s]`` (default ``VideoConfig``'s), so no
    consumer sizes anything by an absurd duration; every per-frame array has the same length, at
    most ``MAX_ANALYSIS_FPS`` frames per second of video.

    Raises
    ------
    InputError
        The first violation, one line naming the field (``features.motion_speed[12]``).
    """
    max_d = _default_max_duration_s() if max_duration_s is None else float(max_duration_s)
    obj(d, where, FEATURE_FIELDS,
        required=("video", "frame_times_s", "motion_speed", "saliency", "visual_beat_times_s",
                  "visual_beat_strength", "cut_times_s", "brightness", "saturation", "warmth",
                  "hue_hist"))
    v = obj(d["video"], f"{where}.video", VIDEO_FIELDS, required=("path", "duration_s", "fps",
                                                                  "width", "height"))
    pv = f"{where}.video"
    string(v["path"], f"{pv}.path", 4096)
    dur = number(v["duration_s"], f"{pv}.duration_s", 0.0, max_d, lo_open=True)
    number(v["fps"], f"{pv}.fps", 0.0, MAX_FPS, lo_open=True)
    integer(v["width"], f"{pv}.width", 1, MAX_SIDE_PX)
    integer(v["height"], f"{pv}.height", 1, MAX_SIDE_PX)
    rot = v.get("rotation_deg", 0)
    if type(rot) is not int or rot not in (0, 90, 180, 270):
        raise _fail(f"{pv}.rotation_deg", "one of 0, 90, 180, 270", rot)
    if "n_frames" in v:
        integer(v["n_frames"], f"{pv}.n_frames", 0, int(max_d * MAX_FPS) + 1)
    if "codec" in v:
        string(v["codec"], f"{pv}.codec")
    for k in ("has_audio", "variable_frame_rate"):
        if k in v and not isinstance(v[k], bool):
            raise _fail(f"{pv}.{k}", "true or false", v[k])
    max_t = int(math.ceil(dur * MAX_ANALYSIS_FPS)) + 2
    times = (-1.0, dur + 1.0)  # presentation timestamps start at ~0 and end at ~duration
    ft = numbers(d["frame_times_s"], f"{where}.frame_times_s", *times, max_t)
    n = len(ft)
    for name, (lo, hi) in _PER_FRAME.items():
        numbers(d[name], f"{where}.{name}", lo, hi, max_t)
        if len(d[name]) != n:
            raise InputError(f"{where}.{name}: expected {n} values (one per frame_times_s), "
                             f"got {len(d[name])}")
    hh = listof(d["hue_hist"], f"{where}.hue_hist", max_t)
    if len(hh) != n:
        raise InputError(f"{where}.hue_hist: expected {n} rows (one per frame_times_s), got {len(hh)}")
    for i, row in enumerate(hh):
        numbers(row, f"{where}.hue_hist[{i}]", 0.0, 1.0, 12)
        if len(row) != 12:
            raise InputError(f"{where}.hue_hist[{i}]: expected 12 values (30-degree hue bins), "
                             f"got {len(row)}")
    bt = numbers(d["visual_beat_times_s"], f"{where}.visual_beat_times_s", *times, max_t)
    numbers(d["visual_beat_strength"], f"{where}.visual_beat_strength", 0.0, 1.0, max_t)
    if len(d["visual_beat_strength"]) != len(bt):
        raise InputError(f"{where}.visual_beat_strength: expected {len(bt)} values (one per "
                         f"visual beat), got {len(d['visual_beat_strength'])}")
    numbers(d["cut_times_s"], f"{where}.cut_times_s", *times, max_t)
    if d.get("tempo_bpm") is not None:
        number(d["tempo_bpm"], f"{where}.tempo_bpm", 0.0, 1000.0, lo_open=True)
    if "tempo_confidence" in d:
        number(d["tempo_confidence"], f"{where}.tempo_confidence", 0.0, 1.0)
    if "meta" in d:
        meta = obj(d["meta"], f"{where}.meta")
        depth_at_most(meta, f"{where}.meta")
        for k in ("analysis_max_side", "max_side"):
            if meta.get(k) is not None:
                number(meta[k], f"{where}.meta.{k}", 0.0, MAX_SIDE_PX, lo_open=True)
        for k in ("analysis_size", "analysis_shape"):
            if meta.get(k) is not None:
                numbers(meta[k], f"{where}.meta.{k}", 1.0, MAX_SIDE_PX, 3)
    if "labels" in d:
        for i, lab in enumerate(listof(d["labels"], f"{where}.labels", MAX_ITEMS)):
            p = f"{where}.labels[{i}]"
            obj(lab, p, LABEL_FIELDS, required=("label",))
            string(lab["label"], f"{p}.label")
            if "time_s" in lab:
                number(lab["time_s"], f"{p}.time_s", *times)
            if "score" in lab:
                number(lab["score"], f"{p}.score", 0.0, 1.0)
    return d


def read_description(d: Any, *, max_duration_s: float | None = None) -> Description:
    """A :class:`~videobgm.types.Description` from ``to_dict()``'s output (possibly edited), checked
    against the description schema (:func:`check_description`): lexicon words become canonical.

    Raises
    ------
    InputError
        One line naming the first invalid field (``description.sections[3].energy: ...``).
    """
    return Description.from_checked_dict(check_description(d, max_duration_s=max_duration_s))


def read_features(d: Any, *, max_duration_s: float | None = None) -> Features:
    """:class:`~videobgm.types.Features` from ``to_dict()``'s output, checked against the features
    schema (:func:`check_features`; ``max_duration_s`` default: ``VideoConfig``'s).

    Raises
    ------
    InputError
        One line naming the first invalid field (``features.video.duration_s: ...``).
    """
    check_features(d, max_duration_s=max_duration_s)
    return Features.from_checked_dict(d)


def features_json(features: Features) -> str:
    """``Features.to_dict()`` as JSON text: one top-level key per line, each array on one line.

    Compact (a 20-minute video is a few MB) yet readable and diff-able key by key.
    """
    import json

    from videobgm.io import dumps_json

    d = features.to_dict()
    lines = []
    for key, value in d.items():
        if isinstance(value, list) and key not in ("labels",):
            text = json.dumps(value, separators=(",", ":"))
        else:
            text = dumps_json(value).strip().replace("\n", "\n  ")
        lines.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}\n"
