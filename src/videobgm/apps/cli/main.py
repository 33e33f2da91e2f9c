"""Command-line interface: ``videobgm score | analyze | describe | compose | index | eval | train | batch | ui``.

A thin layer over the stages and ``pipeline.py``. Nothing heavy is imported at start-up so that
``videobgm --help`` is instant; each ``_cmd_*`` imports what it needs. User errors
(:class:`~videobgm.errors.VideobgmError`) print one line to stderr and exit 2; Ctrl-C exits 130
and SIGTERM 143, both without leaving partial outputs (every output is written to a temporary
name and all are renamed into place together, see ``fileio.OutputSet``).

Each subcommand owns one ``_add_*`` (arguments) and one ``_cmd_*`` (handler) function: the
composing commands (score, analyze, describe, compose) here, the tool commands (eval, train,
index, batch, ui) in :mod:`videobgm.apps.cli.tools`, the shared music options in
:mod:`videobgm.apps.cli.options`.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from videobgm import __version__
from videobgm.apps.cli.options import (
    OneLineErrorParser,
    add_clip_option,
    add_music_options,
    config_from_args,
)
from videobgm.apps.cli.tools import add_batch, add_eval, add_index, add_train, add_ui
from videobgm.errors import Terminated, VideobgmError, sigterm_raises
from videobgm.schema import read_features

# ----------------------------------------------------------------------------------------------
# analyze (issue 2)
# ----------------------------------------------------------------------------------------------


def _add_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="extract visual features (motion, beats, cuts, colour) from a video")
    p.add_argument("video", help="input video file")
    p.add_argument("-o", "--output", default=None, help="features JSON (default: VIDEO_STEM.features.json)")
    p.add_argument("--plot", default=None, help="write a PNG plot of the features")
    p.add_argument("--preset", default="small", choices=["tiny", "small"])
    p.set_defaults(func=_cmd_analyze)


def _cmd_analyze(args: argparse.Namespace) -> int:
    from pathlib import Path

    from videobgm.config import PipelineConfig
    from videobgm.errors import OptionError
    from videobgm.io import check_output_path, write_bytes
    from videobgm.pipeline import Pipeline
    from videobgm.schema import features_json

    src = Path(args.video)
    out = Path(args.output) if args.output else Path(f"{src.stem}.features.json")
    for target in (out, Path(args.plot) if args.plot else None):
        if target is not None and src.exists() and target.exists() and target.resolve() == src.resolve():
            raise OptionError(f"output {target} would overwrite the input video")
    if args.plot and not str(args.plot).lower().endswith(".png"):
        raise OptionError(f"--plot must name a .png file, got {args.plot}")
    for target in (out, Path(args.plot) if args.plot else None):  # devices, FIFOs, /proc: before work
        if target is not None:
            check_output_path(target)
    cfg = PipelineConfig.preset(args.preset)
    feats = Pipeline(cfg, progress=not args.quiet).analyze(src)
    write_bytes(out, features_json(feats).encode("utf-8"))
    if args.plot:
        from videobgm.features.plot import plot_features

        plot_features(feats, args.plot)
    tempo = f"{feats.tempo_bpm:.1f} bpm" if feats.tempo_bpm == feats.tempo_bpm else "none"
    print(
        f"{src.name}: {feats.duration_s:.2f} s, {feats.frame_times_s.size} frames analysed, "
        f"visual tempo {tempo}, {feats.visual_beat_times_s.size} visual beats, "
        f"{feats.cut_times_s.size} cuts -> {out}" + (f", {args.plot}" if args.plot else "")
    )
    return 0


# ----------------------------------------------------------------------------------------------
# score (issue 5)
# ----------------------------------------------------------------------------------------------


def _add_score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score", help="compose music for a video and put it into the video",
        description="Compose background music that follows VIDEO's motion, cuts and colours, "
        "render it and mux it into OUTPUT (the input is never modified).",
    )
    p.add_argument("video", help="input video (or a still image with --duration)")
    p.add_argument("-o", "--output", default=None, help="output MP4 (required for a video input)")
    p.add_argument("--midi", default=None, help="also write the music as MIDI")
    p.add_argument("--wav", default=None, help="also write the music as WAV")
    p.add_argument("--stems", default=None, metavar="DIR", help="also write one MIDI + WAV per track")
    p.add_argument("--plan", default=None, metavar="JSON", help="also write the plan/description JSON")
    add_music_options(p)
    p.add_argument("--description", default=None, metavar="FILE_OR_TEXT",
                   help="music description (edited JSON from `videobgm describe`, or free text)")
    p.add_argument("--retrieve", action="store_true", help="condition on passages from the music library")
    p.add_argument("--index", default=None, metavar="DIR",
                   help="music-library index for --retrieve (default: the packaged one)")
    p.add_argument("--labels-model", default=None, metavar="PATH",
                   help="local visual-labels model (TorchScript/.pt2/ONNX/CLIP folder) for the description")
    add_clip_option(p)
    p.add_argument("--duration", type=float, default=None, help="music length in seconds (still images)")
    p.add_argument("--original-audio", default=None, choices=["replace", "mix", "duck"],
                   help="what to do with the video's own audio (default: replace)")
    p.add_argument("--original-level", type=float, default=None, help="gain of the original audio (0..1)")
    p.set_defaults(func=_cmd_score)


def _cmd_score(args: argparse.Namespace) -> int:
    from pathlib import Path

    from videobgm.errors import InputError, OptionError

    video = Path(args.video)
    if not video.exists():
        raise InputError(f"input not found: {video}")
    from videobgm.io import IMAGE_SUFFIXES

    is_image = video.suffix.lower() in IMAGE_SUFFIXES
    if args.output is None and not is_image:
        raise OptionError("score needs -o OUTPUT.mp4")
    from videobgm.audio.transcode import CONTAINERS

    if args.output is not None and Path(args.output).suffix.lower() not in CONTAINERS:
        raise OptionError(f"output must be a video file ({', '.join(CONTAINERS)}), got {args.output}")
    if is_image and not (args.midi or args.wav or args.stems):
        raise OptionError("for a still image give --wav and/or --midi (there is no video to mux into)")
    cfg = config_from_args(args)
    description = None
    if args.description:
        from videobgm.bridges.resolve import parse_description

        description = parse_description(args.description)
    from videobgm.pipeline import Pipeline

    pipe = Pipeline(cfg, untrained=args.untrained, progress=not args.quiet,
                    labels_model=args.labels_model, index=args.index)
    result = pipe.run(
        video, args.output, midi=args.midi, wav=args.wav, stems=args.stems, plan_json=args.plan,
        description=description, use_retrieval=args.retrieve,
        duration_s=args.duration,
    )
    if not args.quiet:
        plan = result.plan
        outs = [p for p in (result.output_path, result.midi_path, result.wav_path, result.stems_dir,
                            result.plan_path) if p]
        print(f"{plan.n_bars} bars at {plan.tempo_bpm:.1f} BPM, "
              f"{len(plan.sections)} sections, {len(result.score.notes)} notes "
              f"({sum(result.timings_s.values()):.1f} s)")
        for note in (pipe.mux_info or {}).get("notes", []):
            print(f"note: {note}")  # e.g. the video was re-encoded, not copied
        for p in outs:
            print(f"wrote {p}")
    return 0


# ----------------------------------------------------------------------------------------------
# describe / compose (issue 6)
# ----------------------------------------------------------------------------------------------


def _add_describe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "describe", help="print the music description (text bridge) for a video",
        description="Analyse VIDEO (or a features JSON from `videobgm analyze -o`, or an image with "
        "--duration) and print the music description with the reason for every element. Edit the "
        "JSON written with -o and pass it to `videobgm score --description`.",
    )
    p.add_argument("video", help="video, still image, or features JSON")
    p.add_argument("-o", "--output", default=None, help="write the description as JSON")
    p.add_argument("--labels-model", default=None, metavar="PATH",
                   help="local visual-semantics model (TorchScript/ONNX classifier or CLIP folder)")
    add_clip_option(p)
    p.add_argument("--duration", type=float, default=None, help="music length for a still image (s)")
    p.add_argument("--preset", default="small", choices=["tiny", "small"], help="analysis settings")
    p.add_argument("--description", default=None, metavar="FILE_OR_TEXT",
                   help="an edited description JSON or free text laid over the video's")
    g = p.add_argument_group("music controls (the same as `score`'s: what score would play)")
    for opt, hlp in (("--tempo", "tempo in BPM"), ("--key", "tonic"), ("--mode", "major or minor"),
                     ("--mood", "mood"), ("--style", "style"), ("--instruments", "comma-separated")):
        g.add_argument(opt, type=float if opt == "--tempo" else str, default=None, help=hlp)
    p.set_defaults(func=_cmd_describe)


def _cmd_describe(args: argparse.Namespace) -> int:
    from pathlib import Path

    from videobgm.apps.cli.options import config_from_args
    from videobgm.bridges.resolve import parse_description, resolve_description
    from videobgm.bridges.text import format_description
    from videobgm.errors import InputError
    from videobgm.io import check_output_path, write_json

    src = Path(args.video)
    if not src.exists():
        raise InputError(f"input not found: {src}")
    if args.output:
        check_output_path(args.output)  # before the analysis
    cfg = config_from_args(args)  # the same options, the same checks as `score`
    edit = parse_description(args.description) if args.description else None
    model = None
    if args.labels_model:
        from videobgm.features.semantics import load_labels_model

        model = load_labels_model(args.labels_model)  # fail before the long analysis
    if src.suffix.lower() == ".json":
        from videobgm.schema import load_json

        features = read_features(load_json(src, "features"),
                                      max_duration_s=cfg.video.max_duration_s)
    else:
        from videobgm.pipeline import Pipeline

        features = Pipeline(cfg, progress=not args.quiet).analyze(src, duration_s=args.duration)
    if model is not None and features.video.path:
        from videobgm.features.semantics import labels_for_input

        features.labels = labels_for_input(features.video.path, model, cfg.video)
    if cfg.features.clip_model and src.suffix.lower() == ".json":  # a features JSON: its video
        if not (features.video.path and Path(features.video.path).is_file()):
            raise InputError(f"--clip-model needs the video of {src}: {features.video.path!r} not found")
        from videobgm.pipeline import Pipeline

        Pipeline(cfg, progress=not args.quiet).add_clip_scores(features, features.video.path)
    desc = resolve_description(features, cfg.plan, edit)  # exactly what `score` plans from
    from videobgm.plan.planner import make_plan

    # the planner's final values (e.g. the tempo fitted to the bars) written back: what plays
    desc = make_plan(features, cfg.plan, description=desc, resolved=True,
                     seed=cfg.sample.seed).description or desc
    print(format_description(desc))
    if args.output:
        write_json(args.output, desc.to_dict())
        if not args.quiet:
            print(f"\nwrote {args.output}")
    return 0


def _add_compose(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compose", help="compose music from a text prompt or a description (no video)",
        description="Text-to-music through the same plan as videos: the prompt (\"calm piano, "
        "rainy evening, 80 bpm, D minor\") or an edited description JSON becomes a plan of "
        "--duration seconds; the output's suffix picks WAV or MIDI.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", default=None, help="free-text description of the music")
    src.add_argument("--description", default=None, metavar="FILE_OR_TEXT",
                     help="description JSON (from `videobgm describe -o`) or free text")
    p.add_argument("--duration", type=float, required=True, help="length in seconds")
    p.add_argument("-o", "--output", required=True, help="out.wav or out.mid")
    p.add_argument("--plan", default=None, metavar="JSON", help="also write the plan/description JSON")
    p.add_argument("--retrieve", action="store_true", help="condition on passages from the music library")
    p.add_argument("--index", default=None, metavar="DIR",
                   help="music-library index for --retrieve (default: the packaged one)")
    add_music_options(p)
    p.set_defaults(func=_cmd_compose)


def _cmd_compose(args: argparse.Namespace) -> int:
    from pathlib import Path

    from videobgm.bridges.resolve import parse_description
    from videobgm.bridges.text import format_description
    from videobgm.errors import OptionError

    out = Path(args.output)
    kind = {".wav": "wav", ".mid": "midi", ".midi": "midi"}.get(out.suffix.lower())
    if kind is None:
        raise OptionError(f"output must end in .wav, .mid or .midi, got {args.output}")
    if not (args.duration and args.duration > 0):
        raise OptionError(f"--duration must be > 0 seconds, got {args.duration}")
    cfg = config_from_args(args)  # bad options fail before the prompt is parsed
    desc = parse_description(args.prompt if args.prompt is not None else args.description)
    if not args.quiet:
        print(format_description(desc) + "\n")
    from videobgm.pipeline import Pipeline

    pipe = Pipeline(cfg, untrained=args.untrained, progress=not args.quiet, index=args.index)
    result = pipe.compose_from_description(
        desc, args.duration, midi=out if kind == "midi" else None, wav=out if kind == "wav" else None,
        plan_json=args.plan, use_retrieval=args.retrieve,
    )
    if not args.quiet:
        plan = result.plan
        print(f"{plan.n_bars} bars at {plan.tempo_bpm:.1f} BPM in {plan.mood} {plan.style}, "
              f"{len(result.score.notes)} notes ({sum(result.timings_s.values()):.1f} s)")
        for ref in result.references:
            print(f"reference {ref.id} ({ref.similarity:.2f}): {ref.text}")
        for p in (result.midi_path, result.wav_path, result.plan_path):
            if p:
                print(f"wrote {p}")
    return 0


# ----------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = OneLineErrorParser(
        prog="videobgm",
        description="Compose background music that fits a video (offline, CPU).",
    )
    parser.add_argument("--version", action="version", version=f"videobgm {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_score, _add_analyze, _add_describe, _add_compose, add_index, add_eval,
                add_train, add_batch, add_ui):
        add(sub)
    return parser


TEST_FAST_ENV = "VIDEOBGM_TEST_FAST"  # test-only (tests/test_readme.py): see _test_fast


def _test_fast(args: argparse.Namespace) -> None:
    """Test-only: with ``VIDEOBGM_TEST_FAST=1`` every command runs with the tiny preset and an
    untrained model, and ``train`` for 2 steps, so that the README's commands run as written in a
    test. Does nothing otherwise."""
    import os

    if os.environ.get(TEST_FAST_ENV) != "1":
        return
    if hasattr(args, "preset"):
        args.preset = "tiny"
    if hasattr(args, "untrained"):
        args.untrained = True
    if getattr(args, "command", None) == "train" or hasattr(args, "steps"):
        args.steps, args.eval_every, args.ckpt_every = 2, 1, 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``videobgm`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    _test_fast(args)
    try:
        with sigterm_raises():
            return int(args.func(args) or 0)
    except VideobgmError as exc:
        print(f"videobgm: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: every writer has removed its temporaries
        how = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"videobgm: {how}; no partial output was left", file=sys.stderr)
        return 128 + signal.SIGTERM if isinstance(exc, Terminated) else 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
