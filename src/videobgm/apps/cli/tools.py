"""Tool subcommands of the ``videobgm`` CLI: ``eval``, ``train``, ``index``, ``batch``, ``ui``.

Like :mod:`videobgm.apps.cli.main`, each subcommand owns one ``_add_*`` and one ``_cmd_*`` function, and
nothing heavy is imported until a handler runs.
"""

from __future__ import annotations

import argparse
import sys

from videobgm.apps.cli.options import add_music_options, config_from_args
from videobgm.schema import read_features

# ----------------------------------------------------------------------------------------------
# eval (issues 3, 5)
# ----------------------------------------------------------------------------------------------


def add_eval(sub: argparse._SubParsersAction) -> None:
    from videobgm.eval.audio_glossary import help_text

    p = sub.add_parser(
        "eval", help="judge soundtracks against their picture (audio), or music metrics for MIDI files",
        description="FILE with audio (a video, or WAV/MP3/FLAC with --video): judge the sound "
        "against the picture -- rhythm correspondence with chance levels and a mismatch control, "
        "plus music-only audio metrics (issue 14; --seed seeds the shifts). FILE a MIDI file or "
        "folder: symbolic metrics; with --video: the intended view, the MIDI/plan against the "
        "video (issues 3, 5).",
        epilog=help_text(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("midi", nargs="+", metavar="FILE",
                   help="videos with audio / audio files, or one MIDI file or folder of them")
    p.add_argument("--video", default=None,
                   help="the picture to judge against (audio files; overrides FILE's own video); "
                   "with a MIDI file: the intended sync view against this video")
    p.add_argument("--control", default=None, metavar="OTHER",
                   help="audio: mismatch control against OTHER video's events "
                   "(default: the picture's events time-reversed)")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="audio: plot picture events above, onset envelope and beats below")
    p.add_argument("--plan", default=None,
                   help="with a MIDI file and --video: plan.json whose sections are the phrase boundaries")
    p.add_argument("--features", default=None,
                   help="with a MIDI file and --video: features JSON from `videobgm analyze` (skips the analysis)")
    p.add_argument("--json", dest="json_out", default=None,
                   help="write the metrics to this JSON file (with --video: the sync metrics)")
    # symbolic metrics (issue 3)
    p.add_argument("--reference", default=None,
                   help="MIDI file or folder to compare with (e.g. the POP909 folder); adds a gap column")
    p.add_argument("--csv", dest="csv_out", default=None, help="write per-file metrics to this CSV file")
    p.add_argument("--convention", default="default", choices=["default", "papers", "muspy"],
                   help="metric definitions: ours (default) or the papers' (muspy 0.5 SC/PE/PCE/EBR/groove "
                        "consistency, mgeval avg_IOI; see docs/metrics.md); muspy = old name of papers")
    p.add_argument("--no-structure", action="store_true",
                   help="skip the structureness indicators (the slowest metric, ~1 s per 3-min piece)")
    p.add_argument("--seed", type=int, default=0, help="seed of the grooving pair sampling")
    p.add_argument("--pop909-split", default=None, choices=["train", "val", "test"],
                   help="where MIDI or --reference is the POP909 folder, use only this split's songs")
    p.set_defaults(func=_cmd_eval)


MIDI_SUFFIXES = (".mid", ".midi")


def _cmd_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from videobgm.errors import OptionError

    symbolic = [Path(f).is_dir() or Path(f).suffix.lower() in MIDI_SUFFIXES for f in args.midi]
    if not any(symbolic):
        return _eval_audio(args)
    if not all(symbolic) or len(args.midi) > 1:
        raise OptionError("give one MIDI file or folder, or only videos/audio files (not a mix)")
    args.midi = args.midi[0]
    if args.control or args.plot:
        raise OptionError("--control and --plot judge audio; a MIDI file has none (render it first)")
    if getattr(args, "video", None):
        return _eval_video(args)
    from videobgm.eval.report import run_eval

    run_eval(args.midi, reference=args.reference, json_out=args.json_out, csv_out=args.csv_out,
             convention=args.convention, seed=args.seed, structure=not args.no_structure,
             pop909_split=args.pop909_split, show_progress=False if args.quiet else None)
    return 0


def _eval_audio(args: argparse.Namespace) -> int:
    """``eval FILE.mp4 [FILE2 ...] [--video V]``: the sound against the picture (issue 14)."""
    from videobgm.errors import OptionError

    for opt, v in (("--plan", args.plan), ("--features", args.features),
                   ("--reference", args.reference), ("--csv", args.csv_out)):
        if v:
            raise OptionError(f"{opt} applies to MIDI input (the intended view), not to audio files")
    from videobgm.config import FeaturesConfig, VideoConfig
    from videobgm.eval.audio_report import evaluate_files, format_report, plot_files, report_json

    evals = evaluate_files(list(args.midi), video=args.video, control=args.control,
                           features_cfg=FeaturesConfig(), video_cfg=VideoConfig(), seed=args.seed,
                           structure=not args.no_structure)
    print(format_report(evals))
    if args.json_out:
        from videobgm.io import write_json

        write_json(args.json_out, report_json(evals))
    if args.plot:
        plot_files(evals, args.plot)
    return 0


def _eval_video(args: argparse.Namespace) -> int:
    """``eval MIDI --video VIDEO``: the sync metrics of :mod:`videobgm.eval.sync` (issue 5)."""
    import math
    from pathlib import Path

    from videobgm.errors import InputError

    midi, video = Path(args.midi), Path(args.video)
    if not midi.is_file():
        raise InputError(f"--video needs one MIDI file, not found: {midi}")
    if not video.is_file():
        raise InputError(f"video not found: {video}")
    plan = None
    if args.plan:
        from videobgm.plan.plan_json import load_plan

        plan = load_plan(args.plan)  # the one plan.json reader (score --plan's record)
    from videobgm.eval.sync import METRICS, sync_metrics

    if args.features:
        from videobgm.schema import load_json

        feats = read_features(load_json(args.features, "features"))
    else:
        from videobgm.pipeline import Pipeline

        feats = Pipeline().analyze(video)  # the default analysis settings
    m = sync_metrics(feats, midi, plan=plan)
    print("intended view: the MIDI and plan against the video (what was planned, not what is heard; "
          "`videobgm eval OUTPUT.mp4` judges the sound)")
    for k in (*METRICS, "plan_chord_accuracy"):
        v = m[k]
        print(f"{k:<26} {'n/a' if isinstance(v, float) and math.isnan(v) else f'{v:.3f}'}")
    print(f"{'counts':<26} visual beats {m['n_visual_beats']} (strong {m['n_strong_beats']}), "
          f"accents {m['n_accents']}, cuts {m['n_cuts']}, bars {m['n_bars']}; "
          f"phrases: {m['phrase_source']}")
    if args.json_out:
        from videobgm.io import write_json

        write_json(args.json_out, {k: (None if isinstance(v, float) and math.isnan(v) else v)
                                   for k, v in m.items()})
    return 0


# ----------------------------------------------------------------------------------------------
# train (issue 4)
# ----------------------------------------------------------------------------------------------


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the music transformer on POP909")
    p.add_argument("--preset", default="small", choices=["tiny", "small"], help="model size")
    p.add_argument("--data", default=None, help="POP909 folder (default: $VIDEOBGM_POP909 or ../shared/data/POP909)")
    p.add_argument("--out", required=True, help="checkpoint folder (rewritten every --ckpt-every steps)")
    p.add_argument("--steps", type=int, default=2000, help="optimiser steps (default 2000)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=512, help="tokens per training window (default 512)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    p.add_argument("--warmup", type=int, default=100, help="warm-up steps (default 100)")
    p.add_argument("--ckpt-every", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--max-minutes", type=float, default=None, help="stop and save after this wall time")
    p.add_argument("--no-transpose", action="store_true", help="no transposition augmentation")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument("--init", default=None, metavar="CHECKPOINT",
                   help="warm start from this checkpoint folder's weights (fresh optimiser and schedule)")
    p.add_argument("--snapshot-every", type=int, default=None, metavar="K",
                   help="also keep a weights-only copy every K steps under OUT/snapshots/")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: all cores; 1 is faster on a busy shared machine)")
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    import shlex

    from videobgm.train.loop import TrainSettings, setup_logging, train

    setup_logging(quiet=args.quiet)
    settings = TrainSettings(
        preset=args.preset, steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len,
        lr=args.lr, warmup_steps=args.warmup, ckpt_every=args.ckpt_every, eval_every=args.eval_every,
        max_minutes=args.max_minutes, transpose=not args.no_transpose, seed=args.seed,
        threads=args.threads, snapshot_every=args.snapshot_every,
    )
    train(args.data, args.out, settings, resume=args.resume, init_from=args.init,
          command="videobgm " + shlex.join(sys.argv[1:]))
    return 0


# ----------------------------------------------------------------------------------------------
# index (issue 6)
# ----------------------------------------------------------------------------------------------


def add_index(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "index", help="build a music-library index (music bridge) from a MIDI folder",
        description="Cut every MIDI file under DIR into 8-bar phrases and index their key, mode, "
        "tempo, density, energy, instruments, chords and an embedded text description (derived "
        "data only, no notes); load it with `videobgm.bridges.retrieve.load_index(INDEX)`.",
    )
    p.add_argument("dir", help="folder of .mid/.midi files (searched recursively), or POP909 with --pop909")
    p.add_argument("-o", "--output", required=True, metavar="INDEX", help="index folder to write")
    p.add_argument("--pop909", action="store_true", help="DIR is POP909: use its beat/chord/key annotations")
    p.add_argument("--split", default=None, choices=["train", "val", "test"], help="POP909 split (default all)")
    p.add_argument("--phrase-bars", type=int, default=8, help="phrase length in bars (default 8)")
    p.add_argument("--no-embed", action="store_true", help="attributes only (no MiniLM text embeddings)")
    p.set_defaults(func=_cmd_index)


def _cmd_index(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from videobgm.bridges import library
    from videobgm.errors import OptionError

    if args.phrase_bars < 1:
        raise OptionError(f"--phrase-bars must be >= 1, got {args.phrase_bars}")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise OptionError(f"index output must be a folder, {out} is a file")
    skipped: list[str] = []
    if args.pop909:
        scores = list(library.pop909_scores(args.dir, split=args.split))
        source = "pop909"
    else:
        scores = library.midi_folder_scores(args.dir, on_error=lambda p, m: skipped.append(f"{p}: {m}"))
        source = ""
    index = library.build_index(scores, out, phrase_bars=args.phrase_bars, source=source,
                                 embed=not args.no_embed)
    for s in skipped:
        print(f"skipped {s}", file=sys.stderr)
    if not args.quiet:
        print(f"indexed {len(index)} phrases from {len(scores)} file(s) -> {out}")
    return 0


# ----------------------------------------------------------------------------------------------
# batch (issue 8) / ui (issue 7)
# ----------------------------------------------------------------------------------------------


def add_batch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch", help="score a folder or manifest of videos (Ray)",
        description="Score every video of INPUT (a folder, a text file with one path per line, or "
        "a JSONL manifest) into OUT_DIR, one Ray task per video. OUT_DIR/manifest.jsonl records "
        "each video's status, outputs, timings and error; re-running skips finished videos. "
        "Exit codes: 0 all ok, 3 some videos failed (the others are scored), 2 bad usage.",
    )
    p.add_argument("input", help="folder of videos, or a manifest (.txt paths / .jsonl with \"video\")")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output folder")
    p.add_argument("--workers", type=int, default=None,
                   help="Ray workers (default: CPU count); 0 = no Ray, score in this process")
    p.add_argument("--serial", action="store_true", help="same as --workers 0")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="use an existing Ray cluster (auto, ray://HOST:10001); default: local Ray")
    p.add_argument("--retry-failed", action="store_true", help="retry videos that failed before")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="Ray mode: fail a video that takes longer than S seconds")
    p.add_argument("--midi", action="store_true", help="also write NAME.mid per video")
    p.add_argument("--wav", action="store_true", help="also write NAME.wav per video")
    p.add_argument("--plan", action="store_true", help="also write NAME.plan.json per video")
    add_music_options(p)
    p.set_defaults(func=_cmd_batch)


def _cmd_batch(args: argparse.Namespace) -> int:
    import os

    from videobgm.apps.batch.runner import print_summary, run_batch
    from videobgm.errors import OptionError

    workers = 0 if args.serial else (args.workers if args.workers is not None else (os.cpu_count() or 1))
    if workers < 0:
        raise OptionError(f"--workers must be >= 0, got {workers}")
    if args.timeout is not None and not args.timeout > 0:
        raise OptionError(f"--timeout must be > 0 seconds, got {args.timeout:g}")
    if workers == 0 and args.ray_address:
        raise OptionError("--ray-address needs Ray workers; drop --serial / --workers 0")
    kinds = ("video",) + tuple(k for k, on in (("midi", args.midi), ("wav", args.wav),
                                              ("plan_json", args.plan)) if on)
    spec = {"config": config_from_args(args), "untrained": bool(args.untrained)}
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    summary = run_batch(args.input, args.output, spec=spec, workers=workers,
                        ray_address=args.ray_address, kinds=kinds, retry_failed=args.retry_failed,
                        timeout_s=args.timeout, log=log)
    print_summary(summary)
    return summary.exit_code


def add_ui(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ui", help="local web UI (Gradio): upload, see the plan, generate, regenerate bars")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 = local network)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--preset", default="small", choices=["tiny", "small"], help="settings preset")
    p.add_argument("--checkpoint", default=None, help="model checkpoint folder (default: packaged)")
    p.add_argument("--untrained", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--soundfont", default=None, help="a .sf2 soundfont (default: the GM one in pretty_midi)")
    p.add_argument("--max-upload-mb", type=float, default=None, help="largest accepted upload in MB")
    p.add_argument("--max-duration", type=float, default=None, help="longest accepted video in seconds")
    p.add_argument("--concurrency", type=int, default=None,
                   help="jobs run at once; the others wait in the queue (default 1)")
    p.add_argument("--work-dir", default=None, help="folder for the outputs (default: system temp)")
    p.add_argument("--job-time-limit", type=float, default=None,
                   help="seconds after which an analysis or generation is stopped (default 900)")
    p.add_argument("--max-work-mb", type=float, default=None,
                   help="disk quota of the outputs in MB; oldest sessions are deleted first (default 4000)")
    p.add_argument("--output-ttl", type=float, default=None,
                   help="seconds a session's outputs and upload are kept after its last job (default 3600)")
    p.set_defaults(func=_cmd_ui)


def _cmd_ui(args: argparse.Namespace) -> int:
    import importlib.util

    from videobgm.config import UIConfig
    from videobgm.errors import MissingDependencyError, OptionError

    if importlib.util.find_spec("gradio") is None:
        raise MissingDependencyError("gradio", "install the UI extra: pip install 'videobgm[ui]'")
    if not 0 < args.port < 65536:
        raise OptionError(f"--port must be in 1..65535, got {args.port}")
    ui_kw = {k: v for k, v in (("max_upload_mb", args.max_upload_mb),
                               ("max_duration_s", args.max_duration),
                               ("concurrency_limit", args.concurrency),
                               ("work_dir", args.work_dir),
                               ("job_time_limit_s", args.job_time_limit),
                               ("max_work_mb", args.max_work_mb),
                               ("output_ttl_s", args.output_ttl)) if v is not None}
    for opt, k in (("--max-upload-mb", "max_upload_mb"), ("--max-duration", "max_duration_s"),
                   ("--concurrency", "concurrency_limit"), ("--job-time-limit", "job_time_limit_s"),
                   ("--max-work-mb", "max_work_mb"), ("--output-ttl", "output_ttl_s")):
        if k in ui_kw and not ui_kw[k] > 0:
            raise OptionError(f"{opt} must be > 0, got {ui_kw[k]:g}")
    cfg = config_from_args(args)
    untrained = bool(args.untrained)

    def factory(c):  # noqa: ANN001, ANN202
        from videobgm.pipeline import Pipeline

        return Pipeline(c, untrained=untrained)

    from videobgm.apps.ui.app import launch

    print(f"videobgm ui: serving on http://{args.host}:{args.port} (Ctrl-C stops it)", file=sys.stderr)
    launch(args.host, args.port, config=cfg, ui_config=UIConfig(**ui_kw), pipeline_factory=factory,
           block=True, quiet=bool(args.quiet))
    return 0
