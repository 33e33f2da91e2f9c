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
    from pathlib import Path

    from videobgm.config import PipelineConfig
    from videobgm.errors import OptionError
    from videobgm.features import extract_features, features_json
    from videobgm.fileio import write_bytes
    from videobgm.progress import stage_bar

    src = Path(args.video)
    out = Path(args.output) if args.output else Path(f"{src.stem}.features.json")
    for target in (out, Path(args.plot) if args.plot else None):
        if target is not None and src.exists() and target.exists() and target.resolve() == src.resolve():
            raise OptionError(f"output {target} would overwrite the input video")
    if args.plot and not str(args.plot).lower().endswith(".png"):
        raise OptionError(f"--plot must name a .png file, got {args.plot}")
    cfg = PipelineConfig.preset(args.preset)
    with stage_bar("analyze", enabled=False if args.quiet else None) as bar:
        feats = extract_features(src, cfg.features, cfg.video, progress=bar)
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
# score (issue 5) / compose (issue 6)
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
    _add_music_options(p)
    p.add_argument("--description", default=None, metavar="FILE_OR_TEXT",
                   help="music description (edited JSON from `videobgm describe`, or free text)")
    p.add_argument("--describe", action="store_true", help="plan through the video's own text description")
    p.add_argument("--retrieve", action="store_true", help="condition on passages from the music library")
    p.add_argument("--index", default=None, metavar="DIR",
                   help="music-library index for --retrieve (default: the packaged one)")
    p.add_argument("--labels-model", default=None, metavar="PATH",
                   help="local visual-labels model (TorchScript/.pt2/ONNX/CLIP folder) for the description")
    p.add_argument("--duration", type=float, default=None, help="music length in seconds (still images)")
    p.add_argument("--original-audio", default=None, choices=["replace", "mix", "duck"],
                   help="what to do with the video's own audio (default: replace)")
    p.add_argument("--original-level", type=float, default=None, help="gain of the original audio (0..1)")
    p.set_defaults(func=_cmd_score)


def _add_music_options(p: argparse.ArgumentParser) -> None:
    """Options shared by score / compose / batch: the user's overrides of the plan and model."""
    g = p.add_argument_group("music controls (default: derived from the video)")
    g.add_argument("--seed", type=int, default=None, help="random seed (same seed, same music)")
    g.add_argument("--tempo", type=float, default=None, help="tempo in BPM")
    g.add_argument("--key", default=None, help="tonic, e.g. C, F#, Bb")
    g.add_argument("--mode", default=None, help="major or minor")
    g.add_argument("--mood", default=None, help="e.g. calm, happy, tense, sad, epic")
    g.add_argument("--style", default=None, help="e.g. pop, ambient, cinematic")
    g.add_argument("--instruments", default=None, help="comma-separated, e.g. piano,strings")
    g.add_argument("--density-scale", type=float, default=None, help="scale note density (e.g. 0.5..2)")
    g.add_argument("--strength-scale", type=float, default=None, help="scale accents (e.g. 0.5..2)")
    g.add_argument("--temperature", type=float, default=None, help="sampling temperature (> 0)")
    m = p.add_argument_group("model and rendering")
    m.add_argument("--preset", default="small", choices=["tiny", "small"], help="settings preset")
    m.add_argument("--checkpoint", default=None, help="model checkpoint folder (default: packaged)")
    m.add_argument("--untrained", action="store_true", help=argparse.SUPPRESS)
    m.add_argument("--soundfont", default=None, help="a .sf2 soundfont (default: the GM one in pretty_midi)")


def config_from_args(args: argparse.Namespace):  # noqa: ANN201
    """Build a PipelineConfig from the preset and the command-line overrides."""
    from videobgm.config import PipelineConfig
    from videobgm.errors import OptionError

    cfg = PipelineConfig.preset(getattr(args, "preset", "small"))
    plan_kw = {}
    for opt, key in (("tempo", "tempo_bpm"), ("key", "key"), ("mode", "mode"), ("mood", "mood"),
                     ("style", "style"), ("density_scale", "density_scale"),
                     ("strength_scale", "strength_scale")):
        v = getattr(args, opt, None)
        if v is not None:
            plan_kw[key] = v
    if getattr(args, "instruments", None):
        plan_kw["instruments"] = tuple(x.strip() for x in args.instruments.split(",") if x.strip())
    tempo = plan_kw.get("tempo_bpm")
    if tempo is not None and not (20.0 <= tempo <= 300.0):
        raise OptionError(f"--tempo must be between 20 and 300 BPM, got {tempo:g}")
    for k in ("density_scale", "strength_scale"):
        if k in plan_kw and not (0.0 < plan_kw[k] <= 10.0):
            raise OptionError(f"--{k.replace('_', '-')} must be in (0, 10], got {plan_kw[k]:g}")
    sample_kw = {}
    if getattr(args, "seed", None) is not None:
        if args.seed < 0:
            raise OptionError(f"--seed must be >= 0, got {args.seed}")
        sample_kw["seed"] = args.seed
    if getattr(args, "temperature", None) is not None:
        if not (0.0 < args.temperature <= 5.0):
            raise OptionError(f"--temperature must be in (0, 5], got {args.temperature:g}")
        sample_kw["temperature"] = args.temperature
    if getattr(args, "checkpoint", None):
        sample_kw["checkpoint"] = args.checkpoint
    render_kw = {}
    if getattr(args, "soundfont", None):
        render_kw["soundfont"] = args.soundfont
    mux_kw = {}
    if getattr(args, "original_audio", None):
        mux_kw["original_audio"] = args.original_audio
    if getattr(args, "original_level", None) is not None:
        if not (0.0 <= args.original_level <= 4.0):
            raise OptionError(f"--original-level must be in [0, 4], got {args.original_level:g}")
        mux_kw["original_level"] = args.original_level
    return cfg.replace(
        plan=cfg.plan.replace(**plan_kw), sample=cfg.sample.replace(**sample_kw),
        render=cfg.render.replace(**render_kw), mux=cfg.mux.replace(**mux_kw),
    )


def _cmd_score(args: argparse.Namespace) -> int:
    from pathlib import Path

    from videobgm.errors import InputError, OptionError

    video = Path(args.video)
    if not video.exists():
        raise InputError(f"input not found: {video}")
    from videobgm.features.still import IMAGE_SUFFIXES

    is_image = video.suffix.lower() in IMAGE_SUFFIXES
    if args.output is None and not is_image:
        raise OptionError("score needs -o OUTPUT.mp4")
    if args.output is not None and Path(args.output).suffix.lower() not in (".mp4", ".mov", ".m4v", ".mkv"):
        raise OptionError(f"output must be a video file (.mp4, .mov, .m4v, .mkv), got {args.output}")
    if is_image and not (args.midi or args.wav or args.stems):
        raise OptionError("for a still image give --wav and/or --midi (there is no video to mux into)")
    cfg = config_from_args(args)
    description = None
    if args.description:
        from videobgm.describe import parse_description

        description = parse_description(args.description)
    from videobgm.pipeline import Pipeline

    pipe = Pipeline(cfg, untrained=args.untrained, progress=not args.quiet,
                    labels_model=args.labels_model, index=args.index)
    result = pipe.score(
        video, args.output, midi=args.midi, wav=args.wav, stems=args.stems, plan_json=args.plan,
        description=description, use_description=args.describe or bool(args.labels_model),
        use_retrieval=args.retrieve,
        duration_s=args.duration,
    )
    if not args.quiet:
        plan = result.plan
        outs = [p for p in (result.output_path, result.midi_path, result.wav_path, result.stems_dir,
                            result.plan_path) if p]
        print(f"{plan.n_bars} bars at {plan.tempo_bpm:.1f} BPM, "
              f"{len(plan.sections)} sections, {len(result.score.notes)} notes "
              f"({sum(result.timings_s.values()):.1f} s)")
        for p in outs:
            print(f"wrote {p}")
    return 0


# ----------------------------------------------------------------------------------------------
# eval (issues 3, 5)
# ----------------------------------------------------------------------------------------------


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="music metrics for MIDI files (and video-music sync with --video)")
    p.add_argument("midi", help="a MIDI file or a folder of them")
    p.add_argument("--video", default=None,
                   help="also report video-music sync metrics of the MIDI against this video")
    p.add_argument("--plan", default=None,
                   help="with --video: plan.json whose sections are the phrase boundaries")
    p.add_argument("--features", default=None,
                   help="with --video: features JSON from `videobgm analyze` (skips the analysis)")
    p.add_argument("--json", dest="json_out", default=None,
                   help="write the metrics to this JSON file (with --video: the sync metrics)")
    # symbolic metrics (issue 3)
    p.add_argument("--reference", default=None,
                   help="MIDI file or folder to compare with (e.g. the POP909 folder); adds a gap column")
    p.add_argument("--csv", dest="csv_out", default=None, help="write per-file metrics to this CSV file")
    p.add_argument("--convention", default="default", choices=["default", "muspy"],
                   help="metric conventions: ours (default) or muspy's empty-beat/groove definitions")
    p.add_argument("--no-structure", action="store_true",
                   help="skip the structureness indicators (the slowest metric, ~1 s per 3-min piece)")
    p.add_argument("--seed", type=int, default=0, help="seed of the grooving pair sampling")
    p.add_argument("--pop909-split", default=None, choices=["train", "val", "test"],
                   help="where MIDI or --reference is the POP909 folder, use only this split's songs")
    p.set_defaults(func=_cmd_eval)


def _cmd_eval(args: argparse.Namespace) -> int:
    if getattr(args, "video", None):
        return _eval_video(args)
    from videobgm.eval.report import run_eval

    run_eval(args.midi, reference=args.reference, json_out=args.json_out, csv_out=args.csv_out,
             convention=args.convention, seed=args.seed, structure=not args.no_structure,
             pop909_split=args.pop909_split, show_progress=False if args.quiet else None)
    return 0


def _eval_video(args: argparse.Namespace) -> int:
    """``eval MIDI --video VIDEO``: the sync metrics of :mod:`videobgm.eval.sync` (issue 5)."""
    import json
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
        try:
            plan = json.loads(Path(args.plan).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read plan {args.plan}: {exc}") from None
        if not isinstance(plan, dict) or "sections" not in plan:
            raise InputError(f"{args.plan} is not a plan.json (no 'sections')")
    from videobgm.config import FeaturesConfig, VideoConfig
    from videobgm.eval.sync import METRICS, sync_metrics
    from videobgm.types import Features

    if args.features:
        try:
            feats = Features.from_dict(json.loads(Path(args.features).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"cannot read features {args.features}: {exc}") from None
    else:
        from videobgm.features import extract_features

        feats = extract_features(video, FeaturesConfig(), VideoConfig())
    m = sync_metrics(feats, midi, plan=plan)
    for k in METRICS:
        v = m[k]
        print(f"{k:<26} {'n/a' if isinstance(v, float) and math.isnan(v) else f'{v:.3f}'}")
    print(f"{'counts':<26} visual beats {m['n_visual_beats']} (strong {m['n_strong_beats']}), "
          f"accents {m['n_accents']}, cuts {m['n_cuts']}, bars {m['n_bars']}; "
          f"phrases: {m['phrase_source']}")
    if args.json_out:
        from videobgm.fileio import write_json

        write_json(args.json_out, {k: (None if isinstance(v, float) and math.isnan(v) else v)
                                   for k, v in m.items()})
    return 0


# ----------------------------------------------------------------------------------------------
# train (issue 4)
# ----------------------------------------------------------------------------------------------


def _add_train(sub: argparse._SubParsersAction) -> None:
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
        threads=args.threads,
    )
    train(args.data, args.out, settings, resume=args.resume,
          command="videobgm " + shlex.join(sys.argv[1:]))
    return 0


# ----------------------------------------------------------------------------------------------
# describe / compose / index (issue 6)
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
    p.add_argument("--duration", type=float, default=None, help="music length for a still image (s)")
    p.add_argument("--preset", default="small", choices=["tiny", "small"], help="analysis settings")
    p.set_defaults(func=_cmd_describe)


def _cmd_describe(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from videobgm.config import PipelineConfig
    from videobgm.describe import describe, format_description
    from videobgm.errors import InputError
    from videobgm.fileio import write_json

    src = Path(args.video)
    if not src.exists():
        raise InputError(f"input not found: {src}")
    cfg = PipelineConfig.preset(args.preset)
    model = None
    if args.labels_model:
        from videobgm.features.semantics import load_labels_model

        model = load_labels_model(args.labels_model)  # fail before the long analysis
    if src.suffix.lower() == ".json":
        from videobgm.types import Features

        try:
            features = Features.from_dict(json.loads(src.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{src} is not a features JSON from `videobgm analyze -o`: {exc}") from None
    else:
        from videobgm.pipeline import Pipeline

        features = Pipeline(cfg, progress=not args.quiet).analyze(src, duration_s=args.duration)
    if model is not None and features.video.path:
        from videobgm.features.semantics import labels_for_input

        features.labels = labels_for_input(features.video.path, model, cfg.video)
    desc = describe(features)
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
    _add_music_options(p)
    p.set_defaults(func=_cmd_compose)


def _cmd_compose(args: argparse.Namespace) -> int:
    from pathlib import Path

    from videobgm.describe import format_description, parse_description
    from videobgm.errors import OptionError

    out = Path(args.output)
    kind = {".wav": "wav", ".mid": "midi", ".midi": "midi"}.get(out.suffix.lower())
    if kind is None:
        raise OptionError(f"output must end in .wav, .mid or .midi, got {args.output}")
    if not (args.duration and args.duration > 0):
        raise OptionError(f"--duration must be > 0 seconds, got {args.duration}")
    desc = parse_description(args.prompt if args.prompt is not None else args.description)
    if not args.quiet:
        print(format_description(desc) + "\n")
    from videobgm.pipeline import Pipeline

    pipe = Pipeline(config_from_args(args), untrained=args.untrained, progress=not args.quiet,
                    index=args.index)
    result = pipe.compose_from_description(
        desc, args.duration, midi=out if kind == "midi" else None, wav=out if kind == "wav" else None,
        plan_json=args.plan, use_retrieval=args.retrieve,
    )
    if not args.quiet:
        plan = result.plan
        print(f"{plan.n_bars} bars at {plan.tempo_bpm:.1f} BPM in {plan.mood} {plan.style}, "
              f"{len(result.score.notes)} notes ({sum(result.timings_s.values()):.1f} s)")
        for ref in result.references:
            print(f"reference {ref.id} ({ref.score:.2f}): {ref.text}")
        for p in (result.midi_path, result.wav_path, result.plan_path):
            if p:
                print(f"wrote {p}")
    return 0


def _add_index(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "index", help="build a music-library index (music bridge) from a MIDI folder",
        description="Cut every MIDI file under DIR into 8-bar phrases and index their key, mode, "
        "tempo, density, energy, instruments, chords and an embedded text description (derived "
        "data only, no notes); load it with `videobgm.retrieve.load_index(INDEX)`.",
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

    from videobgm import retrieve
    from videobgm.errors import OptionError

    if args.phrase_bars < 1:
        raise OptionError(f"--phrase-bars must be >= 1, got {args.phrase_bars}")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise OptionError(f"index output must be a folder, {out} is a file")
    skipped: list[str] = []
    if args.pop909:
        scores = list(retrieve.pop909_scores(args.dir, split=args.split))
        source = "pop909"
    else:
        scores = retrieve.midi_folder_scores(args.dir, on_error=lambda p, m: skipped.append(f"{p}: {m}"))
        source = ""
    index = retrieve.build_index(scores, out, phrase_bars=args.phrase_bars, source=source,
                                 embed=not args.no_embed)
    for s in skipped:
        print(f"skipped {s}", file=sys.stderr)
    if not args.quiet:
        print(f"indexed {len(index)} phrases from {len(scores)} file(s) -> {out}")
    return 0


# ----------------------------------------------------------------------------------------------
# batch (issue 8) / ui (issue 7)
# ----------------------------------------------------------------------------------------------


def _add_batch(sub: argparse._SubParsersAction) -> None:
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
    _add_music_options(p)
    p.set_defaults(func=_cmd_batch)


def _cmd_batch(args: argparse.Namespace) -> int:
    import os

    from videobgm.batch import print_summary, run_batch
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


def _add_ui(sub: argparse._SubParsersAction) -> None:
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
                               ("work_dir", args.work_dir)) if v is not None}
    for opt, k in (("--max-upload-mb", "max_upload_mb"), ("--max-duration", "max_duration_s"),
                   ("--concurrency", "concurrency_limit")):
        if k in ui_kw and not ui_kw[k] > 0:
            raise OptionError(f"{opt} must be > 0, got {ui_kw[k]:g}")
    cfg = config_from_args(args)
    untrained = bool(args.untrained)

    def factory(c):  # noqa: ANN001, ANN202
        from videobgm.pipeline import Pipeline

        return Pipeline(c, untrained=untrained)

    from videobgm.ui.app import launch

    print(f"videobgm ui: serving on http://{args.host}:{args.port} (Ctrl-C stops it)", file=sys.stderr)
    launch(args.host, args.port, config=cfg, ui_config=UIConfig(**ui_kw), pipeline_factory=factory,
           block=True, quiet=bool(args.quiet))
    return 0


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
    for add in (_add_score, _add_analyze, _add_describe, _add_compose, _add_index, _add_eval,
                _add_train, _add_batch, _add_ui):
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
