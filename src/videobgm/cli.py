"""Command-line interface: ``videobgm score | analyze | describe | compose | index | eval | train | batch | ui``.

A thin layer over the stages and ``pipeline.py``. Nothing heavy is imported at start-up so that
``videobgm --help`` is instant; each ``_cmd_*`` imports what it needs. User errors
(:class:`~videobgm.errors.VideobgmError`) print one line to stderr and exit 2; Ctrl-C exits 130
without leaving partial outputs (every writer uses a temporary name and renames).

Each subcommand owns one ``_add_*`` (arguments) and one ``_cmd_*`` (handler) function.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from videobgm import __version__
from videobgm.errors import VideobgmError

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
    raise VideobgmError("analyze is not implemented yet")


# ----------------------------------------------------------------------------------------------
# score (issue 5) / compose (issue 6)
# ----------------------------------------------------------------------------------------------


def _add_score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="compose music for a video and mux it in")
    p.add_argument("video", help="input video (or an image with --duration)")
    p.add_argument("-o", "--output", required=True, help="output MP4")
    p.set_defaults(func=_cmd_score)


def _cmd_score(args: argparse.Namespace) -> int:
    raise VideobgmError("score is not implemented yet")


# ----------------------------------------------------------------------------------------------
# eval (issues 3, 5)
# ----------------------------------------------------------------------------------------------


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="music metrics for MIDI files (and video-music sync with --video)")
    p.add_argument("midi", help="a MIDI file or a folder of them")
    p.set_defaults(func=_cmd_eval)


def _cmd_eval(args: argparse.Namespace) -> int:
    raise VideobgmError("eval is not implemented yet")


# ----------------------------------------------------------------------------------------------
# train (issue 4)
# ----------------------------------------------------------------------------------------------


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the music transformer on POP909")
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    raise VideobgmError("train is not implemented yet")


# ----------------------------------------------------------------------------------------------
# describe / compose / index (issue 6)
# ----------------------------------------------------------------------------------------------


def _add_describe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("describe", help="print the music description (text bridge) for a video")
    p.add_argument("video")
    p.set_defaults(func=_cmd_describe)


def _cmd_describe(args: argparse.Namespace) -> int:
    raise VideobgmError("describe is not implemented yet")


# ----------------------------------------------------------------------------------------------
# batch (issue 8) / ui (issue 7)
# ----------------------------------------------------------------------------------------------


def _add_batch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="score a folder or manifest of videos (Ray)")
    p.set_defaults(func=_cmd_batch)


def _cmd_batch(args: argparse.Namespace) -> int:
    raise VideobgmError("batch is not implemented yet")


def _add_ui(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ui", help="local web UI (Gradio)")
    p.set_defaults(func=_cmd_ui)


def _cmd_ui(args: argparse.Namespace) -> int:
    raise VideobgmError("ui is not implemented yet")


# ----------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="videobgm",
        description="Compose background music that fits a video (offline, CPU).",
    )
    parser.add_argument("--version", action="version", version=f"videobgm {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_score, _add_analyze, _add_describe, _add_eval, _add_train, _add_batch, _add_ui):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``videobgm`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except VideobgmError as exc:
        print(f"videobgm: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("videobgm: interrupted; no partial output was left", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
