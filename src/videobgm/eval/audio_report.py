"""``videobgm eval FILE [FILE ...]``: judge soundtracks against their picture, as a listener would.

:func:`evaluate_files` wires the picture analysis (the features stage, as ``score`` runs it), the
sound analysis (:mod:`videobgm.eval.audio`) and the correspondence metrics
(:mod:`videobgm.eval.audio_sync`) for several files, each with its mismatch control;
:func:`format_report` prints the table, :func:`plot_file` draws picture events over the sound.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.errors import InputError
from videobgm.eval.audio import AudioAnalysis, analyze_audio, has_video_stream, music_metrics
from videobgm.eval.audio_glossary import METRIC_HELP
from videobgm.eval.audio_sync import (
    HIT_WINDOW_S,
    N_SHIFTS,
    PictureEvents,
    cut_hits,
    picture_events,
    sync_audio_metrics,
)

MIN_VIDEO_S = 1.0

@dataclass
class FileEval:
    """One judged file: its analysis, picture events, metrics and control metrics."""

    name: str
    audio: AudioAnalysis
    events: PictureEvents
    control_events: PictureEvents
    sync: dict[str, Any]
    control: dict[str, Any]
    music: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def video_events(path: str | os.PathLike[str], *, features_cfg: Any = None,
                 video_cfg: Any = None, features: Any = None) -> PictureEvents:
    """The picture events of ``path`` from the features stage (or from given ``features``)."""
    if features is None:
        from videobgm.features.analyze import extract_features
        features = extract_features(path, features_cfg, video_cfg)
    if features.duration_s < MIN_VIDEO_S:
        raise InputError(f"video {Path(path).name} is {features.duration_s:.2f} s long; "
                         f"at least {MIN_VIDEO_S:g} s is needed")
    return picture_events(features)


def evaluate_file(path: str | os.PathLike[str], events: PictureEvents, *,
                  control: PictureEvents | None = None, n_shifts: int = N_SHIFTS, seed: int = 0,
                  structure: bool = True) -> FileEval:
    """Judge the audio of ``path`` against ``events`` and the control (default: reversed)."""
    a = analyze_audio(path)
    ctrl = control if control is not None else events.reversed()
    s = sync_audio_metrics(events, a, n_shifts=n_shifts, seed=seed)
    c = sync_audio_metrics(ctrl, a, n_shifts=n_shifts, seed=seed)
    notes = []
    if abs(a.duration_s - events.duration_s) > 0.05:
        notes.append(f"{Path(path).name}: audio {a.duration_s:.2f} s, picture {events.duration_s:.2f} s; "
                     f"judged over {s['judged_s']:.2f} s")
    return FileEval(name=str(path), audio=a, events=events, control_events=ctrl, sync=s, control=c,
                    music=music_metrics(a, structure=structure), notes=notes)


def evaluate_files(files: list[str], *, video: str | None = None, control: str | None = None,
                   features_cfg: Any = None, video_cfg: Any = None, n_shifts: int = N_SHIFTS,
                   seed: int = 0, structure: bool = True) -> list[FileEval]:
    """Judge every file; the picture is ``video`` or each file's own video stream."""
    for f in [*files, *(x for x in (video, control) if x)]:
        if not Path(f).is_file():
            raise InputError(f"input not found: {f}")
    shared = video_events(video, features_cfg=features_cfg, video_cfg=video_cfg) if video else None
    ctrl = video_events(control, features_cfg=features_cfg, video_cfg=video_cfg) if control else None
    out = []
    for f in files:
        if shared is None and not has_video_stream(f):
            raise InputError(f"{Path(f).name} has no video stream: give the picture with --video SOURCE")
        ev = shared if shared is not None else video_events(f, features_cfg=features_cfg, video_cfg=video_cfg)
        out.append(evaluate_file(f, ev, control=ctrl, n_shifts=n_shifts, seed=seed, structure=structure))
    lengths = {round(e.audio.duration_s, 2) for e in out}
    if len(lengths) > 1:
        out[0].notes.insert(0, "the files differ in length ("
                            + ", ".join(f"{x:.2f} s" for x in sorted(lengths))
                            + "): each is judged over its own length (the shorter of it and its picture)")
    return out


# ------------------------------------------------------------------------------------------------
# output
# ------------------------------------------------------------------------------------------------
def _fmt(v: Any, nd: int = 3) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float):
        return "inf" if math.isinf(v) else f"{v:.{nd}f}"
    return str(v)


def _sync_row(label: str, view: str, m: dict[str, Any]) -> list[str]:
    return [label, view, f"{_fmt(m['cut_hit_rate'], 2)} / {_fmt(m['cut_hit_chance'], 2)}",
            _fmt(m["cut_hit_x_chance"], 2), _fmt(m["cut_lift"], 2), _fmt(m["beat_lift"], 2),
            f"{_fmt(m['cut_beat_distance'], 2)} / {_fmt(m['cut_beat_distance_chance'], 2)}",
            f"{_fmt(m['beat_alignment'], 2)} / {_fmt(m['beat_alignment_chance'], 2)}",
            f"{_fmt(m['motion_onset_spearman'], 2)} / {_fmt(m['motion_onset_spearman_chance'], 2)}",
            _fmt(m["length_error_s"], 2), _fmt(m["ends_with_picture"]),
            f"{m['n_cuts']}/{m['n_visual_beats']}"]


def _table(head: list[str], rows: list[list[str]]) -> str:
    w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    line = lambda r: "  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * x for x in w]), *map(line, rows)])


def format_report(evals: list[FileEval]) -> str:
    """Two tables (sound vs picture with chance levels and control rows; music-only) and notes."""
    head = ["file", "vs", "cut hit/chance", "x chance", "cut lift", "beat lift", "cut-beat/ch",
            "BAS/ch", "motion rho/ch", "len err s", "ends", "cuts/vbeats"]
    rows = []
    for e in evals:
        name = Path(e.name).name
        rows.append(_sync_row(name, "picture", e.sync))
        rows.append(_sync_row("", "control: " + ("time-reversed" if "time-reversed" in e.control["events"]
                                                  else Path(e.control_events.source).name), e.control))
    mhead = ["file", "key", "clarity", "tempo", "IBI CV", "LUFS", "dBTP", "DC", "onsets/s",
             "bands sub/low/mid/hm/high", "SI s/m/l"]
    mrows = []
    for e in evals:
        m = e.music
        bands = "/".join(_fmt(m[f"band_share_{b}"], 2) for b in ("sub", "low", "mid", "highmid", "high"))
        si = "/".join(_fmt(m[f"si_{k}"], 2) for k in ("short", "mid", "long"))
        mrows.append([Path(e.name).name, m["key"] or "n/a", _fmt(m["key_clarity"], 2),
                      _fmt(m["tempo_bpm"], 1), _fmt(m["ibi_cv"], 3), _fmt(m["loudness_lufs"], 1),
                      _fmt(m["true_peak_dbtp"], 1), _fmt(m["dc_offset"], 4), _fmt(m["onsets_per_s"], 2),
                      bands, si])
    notes = [n for e in evals for n in e.notes]
    text = ("sound vs picture (value / chance from 200 circular shifts; control = the same against "
            "mismatched events)\n" + _table(head, rows) + "\n\nmusic only\n" + _table(mhead, mrows))
    if notes:
        text += "\n\n" + "\n".join(f"note: {n}" for n in notes)
    return text


def _clean(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return None if not math.isfinite(v) else v
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def report_json(evals: list[FileEval]) -> dict[str, Any]:
    """JSON-ready report (NaN/inf -> null)."""
    files = []
    for e in evals:
        files.append({
            "file": e.name, "picture": e.events.source, "view": "heard (from the audio)",
            "sync": e.sync, "control": e.control, "music": e.music,
            "picture_events": {"cut_times_s": e.events.cut_times_s.tolist(),
                               "cut_strength": e.events.cut_strength.tolist(),
                               "cut_hit": cut_hits(e.events.clip(e.sync["judged_s"]), e.audio).tolist(),
                               "n_visual_beats": int(e.events.beat_times_s.size)},
            "audio": e.audio.meta, "notes": e.notes,
        })
    return _clean({"files": files, "hit_window_s": HIT_WINDOW_S, "n_shifts": N_SHIFTS,
                   "metrics": {n: {"chance": c, "better": b, "definition": w} for n, c, b, w in METRIC_HELP}})


def plot_files(evals: list[FileEval], path: str | os.PathLike[str]) -> None:
    """Per file: picture events above (motion, visual beats, cuts), the sound below (onset
    envelope, music beats, cuts coloured green = hit / red = miss). Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from videobgm.io import atomic_path

    fig, axes = plt.subplots(2 * len(evals), 1, figsize=(12, 3.2 * len(evals)), squeeze=False)
    for k, e in enumerate(evals):
        ev = e.events.clip(e.sync["judged_s"])
        hits = cut_hits(ev, e.audio)
        top, bot = axes[2 * k, 0], axes[2 * k + 1, 0]
        sp = ev.motion_speed
        top.plot(ev.motion_times_s, sp / sp.max() if sp.size and sp.max() > 0 else sp, color="0.4",
                 lw=0.8, label="motion (norm.)")
        top.vlines(ev.beat_times_s, 0, ev.beat_strength, color="tab:blue", lw=1.2, label="visual beats")
        for ax in (top, bot):
            for t, h in zip(ev.cut_times_s, hits):
                ax.axvline(t, color="tab:green" if h else "tab:red", lw=1.5, alpha=0.8)
            ax.set_xlim(0, e.sync["judged_s"])
        top.set_title(f"{Path(e.name).name}: picture ({Path(ev.source).name or 'features'}); "
                      f"cuts green = heard, red = missed", fontsize=9)
        top.legend(loc="upper right", fontsize=7)
        a = e.audio
        env = a.onset_env / a.onset_env.max() if a.onset_env.max() > 0 else a.onset_env
        bot.plot(a.frame_times_s, env, color="tab:orange", lw=0.7, label="onset strength (norm.)")
        bot.vlines(a.beat_times_s, 0, 1.05, color="k", lw=0.5, alpha=0.5, label="music beats")
        bot.plot(a.onset_times_s, np.full(a.onset_times_s.size, 1.1), "|", color="tab:purple",
                 ms=6, label="onsets")
        s = e.sync
        cuts = (f"cut hits {_fmt(s['cut_hit_rate'], 2)} (x{_fmt(s['cut_hit_x_chance'], 1)} chance), "
                f"cut lift {_fmt(s['cut_lift'], 2)}" if s["n_cuts"] else "no cuts")
        bot.set_title(f"sound: {cuts}, beat lift {_fmt(s['beat_lift'], 2)}, "
                      f"BAS {_fmt(s['beat_alignment'], 2)}", fontsize=9)
        bot.set_xlabel("time (s)")
        bot.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=90, format=out.suffix.lstrip(".") or "png")
    plt.close(fig)
