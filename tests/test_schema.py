"""Validated inputs: malformed description / features JSON, prompts and options (issue 13, part 3).

Every case runs through the CLI entry in-process (``videobgm.apps.cli.main.main``) and must end with exit 2,
exactly one stderr line ``videobgm: error: ...`` naming the field, no traceback and no output
file. A hand list covers the kinds the issue names (wrong types in sections / energy_curve /
reasons / text, deep nesting, huge numbers, NaN, the ``kazoo`` instrument, ``duration_s: 1e12``,
...); hypothesis (derandomized) replaces one value anywhere in a valid file with an arbitrary JSON
value. ``VIDEOBGM_SLOW=1`` runs the bulk (docs/reliability.md lists the counts).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from videobgm.apps.cli.main import main
from videobgm.bridges.resolve import resolve_description
from videobgm.config import PlanConfig
from videobgm.schema import read_features
from videobgm.types import Features, VideoInfo

FAST = settings(max_examples=15, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
BULK = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ----------------------------------------------------------------------------------------------
# valid inputs with known content
# ----------------------------------------------------------------------------------------------
def _features() -> Features:
    """24 s at 10 analysed frames/s: motion rising, cuts at 6, 12 and 18 s, beats every 0.5 s."""
    t = np.arange(N_FRAMES) / 10.0
    hue = np.zeros((N_FRAMES, 12))
    hue[:, 8] = 1.0  # blue
    beats = np.arange(0.5, 24.0, 0.5)
    return Features(
        video=VideoInfo(path="clip.mp4", duration_s=24.0, fps=30.0, width=160, height=90,
                        n_frames=720, codec="h264"),
        frame_times_s=t, motion_speed=np.linspace(0.0, 40.0, N_FRAMES), saliency=np.abs(np.sin(t)),
        visual_beat_times_s=beats, visual_beat_strength=np.full(beats.size, 0.8),
        tempo_bpm=120.0, tempo_confidence=0.7, cut_times_s=np.array([6.0, 12.0, 18.0]),
        brightness=np.full(N_FRAMES, 0.6), saturation=np.full(N_FRAMES, 0.4),
        warmth=np.full(N_FRAMES, -0.2), hue_hist=hue,
        meta={"analysis_size": [160, 90], "analysis_fps": 10.0, "warnings": []},
        labels=[{"time_s": 1.0, "label": "beach", "score": 0.9}],
    )


N_FRAMES = 240
FEATURES = _features().to_dict()
# what `videobgm describe` writes: the one resolved description (its tempo fitted to the style)
DESCRIPTION = resolve_description(_features(), PlanConfig()).to_dict()


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, Path]:
    """Dummy inputs the commands only check for existence before reading the JSON."""
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 64)
    (tmp_path / "music.mid").write_bytes(b"MThd")
    return {"dir": tmp_path, "clip": tmp_path / "clip.mp4", "midi": tmp_path / "music.mid"}


def _write(path: Path, data: Any) -> Path:
    if isinstance(data, bytes):
        path.write_bytes(data)
    elif isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        rc = main(["-q", *args])
    except SystemExit as exc:  # argparse
        rc = int(exc.code or 0)
    err = capsys.readouterr().err
    return rc, err


def _refused(rc: int, err: str, *, field: str | None = None) -> str:
    """Exit 2, one line ``videobgm: error: ...`` (naming ``field``), no traceback."""
    lines = err.strip().splitlines()
    assert rc == 2, (rc, err[-2000:])
    assert len(lines) == 1 and lines[0].startswith("videobgm: error: "), err[-2000:]
    assert "Traceback" not in err
    if field is not None:
        assert field in lines[0], lines[0]
    return lines[0]


def _describe_cmd(env: dict[str, Path], src: Path) -> tuple[list[str], Path]:
    out = env["dir"] / "out.description.json"
    return ["describe", str(src), "-o", str(out)], out


def _no_output(env: dict[str, Path], out: Path) -> None:
    assert not out.exists()
    assert not [p for p in env["dir"].iterdir() if ".part." in p.name]


def _set(d: Any, path: tuple[Any, ...], value: Any) -> Any:
    d = copy.deepcopy(d)
    x = d
    for k in path[:-1]:
        x = x[k]
    if value is _DELETE:
        del x[path[-1]]
    else:
        x[path[-1]] = value
    return d


_DELETE = object()
NAN, INF = float("nan"), float("inf")
DEEP = '{"reasons": ' + "[" * 100_000 + "]" * 100_000 + "}"

# (case id, mutation path, new value, field named in the error)
DESCRIPTION_CASES: list[tuple[str, tuple[Any, ...], Any, str]] = [
    ("sections-not-list", ("sections",), "0:00-0:04", "description.sections"),
    ("section-not-object", ("sections", 0), [0, 4], "description.sections[0]"),
    ("section-start-string", ("sections", 0, "start_s"), "0:00", "description.sections[0].start_s"),
    ("section-energy-string", ("sections", 1, "energy"), "x", "description.sections[1].energy"),
    ("section-energy-2", ("sections", 1, "energy"), 2, "description.sections[1].energy"),
    ("section-end-missing", ("sections", 0, "end_s"), _DELETE, "description.sections[0]"),
    ("section-end-before-start", ("sections", 0, "end_s"), -1.0, "description.sections[0].end_s"),
    ("section-end-huge", ("sections", 0, "end_s"), 1e12, "description.sections[0].end_s"),
    ("section-unknown-key", ("sections", 0, "bars"), [1, 2], "description.sections[0]"),
    ("section-label-object", ("sections", 0, "label"), {"a": 1}, "description.sections[0].label"),
    ("sections-nested", ("sections",), [[[[[]]]]], "description.sections[0]"),
    ("energy-curve-string", ("energy_curve",), "rising", "description.energy_curve"),
    ("energy-curve-nan", ("energy_curve",), [0.2, NAN], "description.energy_curve[1]"),
    ("energy-curve-inf", ("energy_curve",), [INF], "description.energy_curve[0]"),
    ("energy-curve-str-item", ("energy_curve",), ["0.5"], "description.energy_curve[0]"),
    ("energy-curve-nested", ("energy_curve",), [[0.5]], "description.energy_curve[0]"),
    ("energy-curve-bool", ("energy_curve",), [True], "description.energy_curve[0]"),
    ("energy-curve-too-long", ("energy_curve",), [0.5] * 100_001, "description.energy_curve"),
    ("reasons-list", ("reasons",), ["why"], "description.reasons"),
    ("reasons-value-int", ("reasons", "tempo"), 120, 'description.reasons["tempo"]'),
    ("reasons-value-object", ("reasons", "mood"), {"x": [1]}, 'description.reasons["mood"]'),
    ("text-int", ("text",), 42, "description.text"),
    ("text-list", ("text",), ["calm"], "description.text"),
    ("text-huge", ("text",), "x" * 1_000_001, "description.text"),
    ("tempo-string", ("tempo_bpm",), "fast", "description.tempo_bpm"),
    ("tempo-huge-float", ("tempo_bpm",), 1e308, "description.tempo_bpm"),
    ("tempo-huge-int", ("tempo_bpm",), 10**400, "description.tempo_bpm"),
    ("tempo-nan", ("tempo_bpm",), NAN, "description.tempo_bpm"),
    ("tempo-bool", ("tempo_bpm",), True, "description.tempo_bpm"),
    ("key-int", ("key",), 5, "description.key"),
    ("key-unknown", ("key",), "H", "description.key"),
    ("mode-unknown", ("mode",), "lydian", "description.mode"),
    ("mood-unknown", ("mood",), "grumpy", "description.mood"),
    ("mood-int", ("mood",), 1, "description.mood"),
    ("style-list", ("style",), ["pop"], "description.style"),
    ("instruments-string", ("instruments",), "piano", "description.instruments"),
    ("instruments-kazoo", ("instruments",), ["piano", "kazoo"], "description.instruments[1]"),
    ("instruments-null-item", ("instruments",), [None], "description.instruments[0]"),
    ("source-unknown", ("source",), "alien", "description.source"),
    ("unknown-field", ("tempo",), 90, "description: unknown field"),
]
# whole files (name, content, words in the error)
DESCRIPTION_FILES: list[tuple[str, Any, str]] = [
    ("top-level-list", [DESCRIPTION], "description: expected an object"),
    ("top-level-string", '"calm piano"', "description: expected an object"),
    ("deep-nesting", DEEP, "nested too deeply"),
    ("truncated", json.dumps(DESCRIPTION)[:200], "not valid JSON"),
    ("not-utf8", b'{"text": "\xff\xfe"}', "not UTF-8"),
    ("empty", "", "not valid JSON"),
    ("integer-5000-digits", '{"tempo_bpm": ' + "9" * 5000 + "}", "description"),
    ("plan-json-bad-description", {"description": {"sections": {"a": 1}}}, "description.sections"),
]

FEATURES_CASES: list[tuple[str, tuple[Any, ...], Any, str]] = [
    ("duration-1e12", ("video", "duration_s"), 1e12, "features.video.duration_s"),
    ("duration-negative", ("video", "duration_s"), -1.0, "features.video.duration_s"),
    ("duration-string", ("video", "duration_s"), "8", "features.video.duration_s"),
    ("duration-nan", ("video", "duration_s"), NAN, "features.video.duration_s"),
    ("duration-huge-int", ("video", "duration_s"), 10**30, "features.video.duration_s"),
    ("video-missing", ("video",), _DELETE, "features: missing field 'video'"),
    ("video-list", ("video",), [8.0], "features.video"),
    ("video-unknown-key", ("video", "bitrate"), 1, "features.video: unknown field"),
    ("fps-zero", ("video", "fps"), 0, "features.video.fps"),
    ("width-string", ("video", "width"), "160", "features.video.width"),
    ("rotation-45", ("video", "rotation_deg"), 45, "features.video.rotation_deg"),
    ("has-audio-string", ("video", "has_audio"), "yes", "features.video.has_audio"),
    ("frame-times-string", ("frame_times_s",), "0..8", "features.frame_times_s"),
    ("frame-times-nan", ("frame_times_s", 3), NAN, "features.frame_times_s[3]"),
    ("frame-times-too-many", ("frame_times_s",), [0.0] * 6000, "features.frame_times_s"),
    ("motion-length", ("motion_speed",), [1.0] * 239, "features.motion_speed"),
    ("motion-item-string", ("motion_speed", 5), "x", "features.motion_speed[5]"),
    ("motion-inf", ("motion_speed", 0), INF, "features.motion_speed[0]"),
    ("saliency-negative", ("saliency", 2), -1.0, "features.saliency[2]"),
    ("brightness-2", ("brightness", 0), 2.0, "features.brightness[0]"),
    ("warmth-nested", ("warmth", 0), [0.1], "features.warmth[0]"),
    ("hue-row-short", ("hue_hist", 4), [0.0] * 11, "features.hue_hist[4]"),
    ("hue-flat", ("hue_hist",), [0.0] * N_FRAMES, "features.hue_hist[0]"),
    ("beat-strength-length", ("visual_beat_strength",), [0.5], "features.visual_beat_strength"),
    ("beat-times-object", ("visual_beat_times_s",), {"0": 1}, "features.visual_beat_times_s"),
    ("cut-huge", ("cut_times_s", 0), 1e12, "features.cut_times_s[0]"),
    ("tempo-string", ("tempo_bpm",), "x", "features.tempo_bpm"),
    ("tempo-confidence-5", ("tempo_confidence",), 5, "features.tempo_confidence"),
    ("meta-deep", ("meta", "x"), json.loads("[" * 50 + "]" * 50), "features.meta"),
    ("meta-side-string", ("meta", "analysis_max_side"), "x", "features.meta.analysis_max_side"),
    ("meta-list", ("meta",), [1], "features.meta"),
    ("labels-object", ("labels",), {"beach": 1}, "features.labels"),
    ("label-score-string", ("labels", 0, "score"), "high", "features.labels[0].score"),
    ("label-missing-name", ("labels", 0, "label"), _DELETE, "features.labels[0]"),
    ("unknown-field", ("tempo",), 120, "features: unknown field"),
]
FEATURES_FILES: list[tuple[str, Any, str]] = [
    ("top-level-list", [FEATURES], "features: expected an object"),
    ("deep-nesting", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("truncated", json.dumps(FEATURES)[:300], "not valid JSON"),
    ("description-as-features", DESCRIPTION, "features: unknown field"),
]


# ----------------------------------------------------------------------------------------------
# the valid files pass (the schema accepts what the tools write)
# ----------------------------------------------------------------------------------------------
def test_valid_files_round_trip(env, capsys) -> None:
    src = _write(env["dir"] / "f.json", FEATURES)
    args, out = _describe_cmd(env, src)
    rc, err = _run(args, capsys)
    assert rc == 0, err
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(DESCRIPTION))  # same description as in-process
    from videobgm.bridges.resolve import parse_description

    d = parse_description(out)
    assert d.mood == DESCRIPTION["mood"] and d.sections == DESCRIPTION["sections"]
    assert read_features(FEATURES).duration_s == 24.0
    assert len(DESCRIPTION["sections"]) == 4  # the cuts made the sections


def test_description_synonyms_become_canonical(env) -> None:
    from videobgm.bridges.resolve import parse_description

    data = dict(DESCRIPTION, mood="Melancholic", style="orchestral", instruments=["Rhodes", "violins"],
                mode="min", key="bb")
    d = parse_description(_write(env["dir"] / "d.json", data))
    assert (d.mood, d.style, d.instruments, d.mode, d.key) == (
        "sad", "cinematic", ["electric_piano", "violin"], "minor", "A#")


# ----------------------------------------------------------------------------------------------
# the hand list
# ----------------------------------------------------------------------------------------------
def _refused_without_output(env, capsys, args: list[str], out: Path, field: str) -> None:
    _refused(*_run(args, capsys), field=field)
    _no_output(env, out)


@pytest.mark.parametrize("case", DESCRIPTION_CASES, ids=[c[0] for c in DESCRIPTION_CASES])
def test_malformed_description_is_refused_by_score(env, capsys, case) -> None:
    _, path, value, field = case
    src = _write(env["dir"] / "d.json", _set(DESCRIPTION, path, value))
    out = env["dir"] / "out.mp4"
    _refused_without_output(env, capsys, ["score", str(env["clip"]), "-o", str(out),
                                          "--description", str(src)], out, field)


@pytest.mark.parametrize("case", DESCRIPTION_FILES, ids=[c[0] for c in DESCRIPTION_FILES])
def test_malformed_description_file_is_refused_by_compose(env, capsys, case) -> None:
    _, content, words = case
    src = _write(env["dir"] / "d.json", content)
    out = env["dir"] / "out.mid"
    _refused_without_output(env, capsys, ["compose", "--description", str(src), "--duration", "4",
                                          "-o", str(out)], out, words)


@pytest.mark.parametrize("case", FEATURES_CASES, ids=[c[0] for c in FEATURES_CASES])
def test_malformed_features_is_refused_by_describe(env, capsys, case) -> None:
    _, path, value, field = case
    src = _write(env["dir"] / "f.json", _set(FEATURES, path, value))
    args, out = _describe_cmd(env, src)
    _refused_without_output(env, capsys, args, out, field)


@pytest.mark.parametrize("case", FEATURES_FILES, ids=[c[0] for c in FEATURES_FILES])
def test_malformed_features_file_is_refused_by_eval(env, capsys, case) -> None:
    _, content, words = case
    src = _write(env["dir"] / "f.json", content)
    out = env["dir"] / "sync.json"
    _refused_without_output(env, capsys, ["eval", str(env["midi"]), "--video", str(env["clip"]),
                                          "--features", str(src), "--json", str(out)], out, words)


def test_huge_duration_is_refused_before_allocating(env, capsys) -> None:
    """The issue's case: ``duration_s: 1e12`` made ``describe`` allocate 5.7 GB in 20 s."""
    import resource

    src = _write(env["dir"] / "f.json", _set(FEATURES, ("video", "duration_s"), 1e12))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    args, out = _describe_cmd(env, src)
    line = _refused(*_run(args, capsys), field="features.video.duration_s")
    assert "(0, 14400]" in line  # names the configured maximum
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_one_line_names_the_field_exactly(env, capsys) -> None:
    data = copy.deepcopy(DESCRIPTION)
    data["sections"] = [dict(data["sections"][0]) for _ in range(4)]
    data["sections"][3]["energy"] = "x"
    src = _write(env["dir"] / "d.json", data)
    rc, err = _run(["compose", "--description", str(src), "--duration", "4", "-o",
                    str(env["dir"] / "o.wav")], capsys)
    assert _refused(rc, err) == ('videobgm: error: description.sections[3].energy: expected a '
                                 'number in [0, 1], got "x"')


def test_description_kazoo_and_cli_kazoo_refused_alike(env, capsys) -> None:
    """One instrument check (vocab.check_instruments) for --instruments and the description."""
    src = _write(env["dir"] / "d.json", dict(DESCRIPTION, instruments=["kazoo"]))
    a = _refused(*_run(["compose", "--description", str(src), "--duration", "4", "-o",
                        str(env["dir"] / "o.mid")], capsys))
    b = _refused(*_run(["compose", "--prompt", "calm piano", "--instruments", "kazoo",
                        "--duration", "4", "-o", str(env["dir"] / "o.mid")], capsys))
    accepted = a.split("accepted: ")[1]
    assert "unknown instrument" in a and "unknown instrument 'kazoo'" in b
    assert accepted == b.split("accepted: ")[1]
    from videobgm.plan.controls import check_instruments

    assert check_instruments(["Rhodes", "violins"]) == ("electric_piano", "violin")


# ----------------------------------------------------------------------------------------------
# prompts and options
# ----------------------------------------------------------------------------------------------
def test_prompt_length_limit_in_cli(env, capsys) -> None:
    out = env["dir"] / "o.mid"
    line = _refused(*_run(["compose", "--prompt", "calm piano " * 1000, "--duration", "4", "-o",
                           str(out)], capsys))
    assert "11000 characters long; the limit is 10000" in line
    _no_output(env, out)
    # a prompt file is held to the same limit
    src = _write(env["dir"] / "prompt.txt", "calm " * 3000)
    _refused(*_run(["score", str(env["clip"]), "-o", str(env["dir"] / "o.mp4"), "--description",
                    str(src)], capsys), field="the limit is 10000")


# ----------------------------------------------------------------------------------------------
# hypothesis: one value anywhere replaced by arbitrary JSON
# ----------------------------------------------------------------------------------------------
def _paths(d: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(d, dict):
        for k, v in d.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(d, list):
        for i, v in enumerate(d[:3]):  # the first items of long arrays are enough
            out += _paths(v, (*prefix, i))
    return out


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e12, -1.0, 0, 10**400])
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
DESC_PATHS = _paths(DESCRIPTION)
FEAT_PATHS = _paths(FEATURES)


def _check_description_mutation(env, capsys, path, value) -> None:
    src = _write(env["dir"] / "d.json", _set(DESCRIPTION, path, value))
    out = env["dir"] / "out.mp4"
    rc, err = _run(["score", str(env["clip"]), "-o", str(out), "--description", str(src)], capsys)
    line = _refused(rc, err)  # the dummy clip is not a video: a valid description ends there
    valid = not line.startswith("videobgm: error: description")
    event("valid mutation (refused at the video)" if valid else "refused: invalid description")
    _no_output(env, out)


def _check_features_mutation(env, capsys, path, value) -> None:
    src = _write(env["dir"] / "f.json", _set(FEATURES, path, value))
    args, out = _describe_cmd(env, src)
    rc, err = _run(args, capsys)
    if rc == 0:
        event("valid mutation (described)")
        assert json.loads(out.read_text())["sections"]
        out.unlink()
        return
    event("refused: invalid features")
    _refused(rc, err)
    _no_output(env, out)


@FAST
@given(path=st.sampled_from(DESC_PATHS), value=JSON_VALUES)
def test_fuzz_description(env, capsys, path, value) -> None:
    _check_description_mutation(env, capsys, path, value)


@FAST
@given(path=st.sampled_from(FEAT_PATHS), value=JSON_VALUES)
def test_fuzz_features(env, capsys, path, value) -> None:
    _check_features_mutation(env, capsys, path, value)


@pytest.mark.slow
@BULK
@given(path=st.sampled_from(DESC_PATHS), value=JSON_VALUES)
def test_fuzz_description_bulk(env, capsys, path, value) -> None:
    _check_description_mutation(env, capsys, path, value)


@pytest.mark.slow
@BULK
@given(path=st.sampled_from(FEAT_PATHS), value=JSON_VALUES)
def test_fuzz_features_bulk(env, capsys, path, value) -> None:
    _check_features_mutation(env, capsys, path, value)
