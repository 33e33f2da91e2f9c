"""Command-line options shared by ``score``, ``compose``, ``batch`` and ``ui``: the user's
overrides of the plan, sampler, renderer and mixer, turned into a :class:`PipelineConfig`."""

from __future__ import annotations

import argparse
from typing import NoReturn


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``videobgm: error: ...``, exit 2).

    argparse prints the whole usage block before the error (15 lines for ``score --tempo abc``);
    the usage stays one ``--help`` away. Subcommand parsers inherit this class.
    """

    def error(self, message: str) -> NoReturn:
        hint = f" (see `{self.prog} --help`)"
        self.exit(2, f"videobgm: error: {' '.join(message.split())}{hint}\n")


def add_clip_option(p: argparse.ArgumentParser) -> None:
    """``--clip-model PATH`` (score, describe): the optional image-text model (``videobgm.features.clip``)."""
    p.add_argument("--clip-model", default=None, metavar="DIR",
                   help="local open_clip model folder (open_clip_config.json + weights): scores "
                        "every section's frames against the mood/style/instrument anchors")


def add_music_options(p: argparse.ArgumentParser) -> None:
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
    m.add_argument("--soundfont", default=None,
                   help="a .sf2/.sf3 file or a bank: fluidr3, musescore, timgm6mb "
                        "(default: the best installed, in that order)")
    m.add_argument("--loudness", type=float, default=None, metavar="LUFS",
                   help="integrated loudness of the music (default -14; e.g. -16, -23 for broadcast)")


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
    from videobgm.music import lexicon
    if plan_kw.get("tempo_bpm") is not None:  # the one tempo range (lexicon.TEMPO_LIMITS_BPM)
        lexicon.check_tempo(plan_kw["tempo_bpm"], "--tempo")
    for k in ("density_scale", "strength_scale"):  # the one scale range (lexicon.SCALE_RANGE)
        if k in plan_kw:
            lexicon.check_scale(plan_kw[k], f"--{k.replace('_', '-')}")
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
    if getattr(args, "loudness", None) is not None:
        if not (-40.0 <= args.loudness <= -6.0):
            raise OptionError(f"--loudness must be between -40 and -6 LUFS, got {args.loudness:g}")
        render_kw["target_lufs"] = args.loudness
    mux_kw = {}
    if getattr(args, "original_audio", None):
        mux_kw["original_audio"] = args.original_audio
    if getattr(args, "original_level", None) is not None:
        if not (0.0 <= args.original_level <= 4.0):
            raise OptionError(f"--original-level must be in [0, 4], got {args.original_level:g}")
        mux_kw["original_level"] = args.original_level
    feat_kw = {}
    if getattr(args, "clip_model", None):  # the image-text model's folder, checked once here
        from videobgm.features.clip import check_model_folder

        feat_kw["clip_model"] = str(check_model_folder(args.clip_model))
    cfg = cfg.replace(
        features=cfg.features.replace(**feat_kw), plan=cfg.plan.replace(**plan_kw),
        sample=cfg.sample.replace(**sample_kw), render=cfg.render.replace(**render_kw),
        mux=cfg.mux.replace(**mux_kw),
    )
    from videobgm.plan.planner import validate_config

    validate_config(cfg.plan)  # a bad --mood / --key / --instruments fails before any work
    return cfg
