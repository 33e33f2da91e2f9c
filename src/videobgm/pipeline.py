"""The one module that wires the stages together: [1] video .. [8] mux.

``Pipeline(config).run(video, output)`` runs every stage in order and returns a
:class:`~videobgm.types.Result` holding every intermediate (features, plan, score, paths,
timings). The CLI, web UI and batch runner are thin layers over this class.

Stages:

1. ``video.probe``                 path -> VideoInfo
2. ``features.extract_features``   path -> Features
3. ``describe``                    Features (+ edited description / text, user options) -> the
                                   one Description (``resolve.resolve_description``)
3. ``retrieve``                    optional music bridge
3. ``plan.make_plan``              Features (timing) + Description (everything musical) -> Plan
4-5. ``sample.generate``           Plan.controls -> Score (compound tokens, model, sampling)
6. ``midi.write_midi``             Score -> .mid (+ stems)
7. ``render.render``               Score (+ plan) -> performed, mastered audio (n, 2) and stems
8. ``mux.mux``                     video + audio -> MP4
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from videobgm.config import PipelineConfig
from videobgm.errors import OptionError
from videobgm.io import IMAGE_SUFFIXES
from videobgm.progress import (
    ProgressFn,
    checked_progress,
    null_progress,
    pause_for_tests,
    paused_once,
    stage_bar,
)
from videobgm.types import TRACKS, Description, Features, Plan, Reference, Result, Score

N_STAGES = 8
STEM_FILES = tuple(f"{t}.{e}" for t in TRACKS for e in ("mid", "wav"))  # what a stems folder holds


class Pipeline:
    """Score videos with one loaded model.

    Parameters
    ----------
    config : PipelineConfig
        Every stage's settings (``PipelineConfig.preset("tiny")`` for tests).
    checkpoint : str or Path, optional
        Checkpoint folder; default ``config.sample.checkpoint`` or the packaged ``small`` one.
        With ``untrained=True`` a randomly initialised model of ``config.model`` is used instead
        (tests, benchmarks of the untrained baseline).
    progress : bool
        Show one progress bar per stage on the terminal.
    labels_model : str or Path, optional
        Local path of a visual-labels model (``features.semantics``); its labels feed the
        description. Loaded at construction so a bad path fails at once.
    index : str or Path, optional
        Music-library index folder for retrieval (default: the index shipped with the package).
    """

    def __init__(
        self,
        config: PipelineConfig | None = None,
        *,
        checkpoint: str | Path | None = None,
        untrained: bool = False,
        progress: bool = False,
        labels_model: str | Path | None = None,
        index: str | Path | None = None,
    ) -> None:
        self.config = config or PipelineConfig()
        self.checkpoint = checkpoint if checkpoint is not None else self.config.sample.checkpoint
        self.untrained = untrained
        self.show_progress = progress
        self._model: Any = None
        self._tokenizer: Any = None
        self._model_meta: dict[str, Any] = {}
        self.timings_s: dict[str, float] = {}
        # called at every stage start and progress update; raising there stops the run (the web
        # UI's per-job time limit, ``UIConfig.job_time_limit_s``)
        self.stage_check: Callable[[], None] | None = None
        self.mux_info: dict[str, Any] | None = None  # what the last mux did (plan JSON "mux")
        self.render_info: dict[str, Any] | None = None  # the last render's bank and mastering
        self.labels_model_path = labels_model
        self.index_path = index
        self._labels_model: Any = None
        self._clip_model: Any = None
        self._index: Any = None
        if labels_model is not None:  # fail before any long work when the model is unusable
            from videobgm.features.semantics import load_labels_model

            self._labels_model = load_labels_model(labels_model)
        if self.config.features.clip_model:  # the image-text model, the same way
            from videobgm.features.clip import check_sampling, load_clip_model

            fc = self.config.features
            check_sampling(fc.clip_every_s, fc.clip_max_frames)
            self._clip_model = load_clip_model(fc.clip_model)

    # ------------------------------------------------------------------ helpers
    @contextmanager
    def _stage(self, index: int, name: str) -> Iterator[ProgressFn]:
        t0 = time.perf_counter()
        check = self.stage_check
        if check is not None:
            check()
        if self.show_progress:
            with stage_bar(f"[{index}/{N_STAGES}] {name:<9}") as update:
                yield update if check is None else checked_progress(update, check)
        else:
            yield null_progress if check is None else checked_progress(null_progress, check)
        self.timings_s[name] = self.timings_s.get(name, 0.0) + time.perf_counter() - t0

    @property
    def model_bundle(self) -> tuple[Any, Any, dict[str, Any]] | None:
        """``(model, tokenizer, meta)`` once loaded, else None (share it with :meth:`use_model`)."""
        if self._model is None:
            return None
        return self._model, self._tokenizer, dict(self._model_meta)

    def use_model(self, model: Any, tokenizer: Any, meta: dict[str, Any] | None = None) -> Pipeline:
        """Use an already loaded model (e.g. shared between the per-request pipelines of a server)."""
        self._model, self._tokenizer, self._model_meta = model, tokenizer, dict(meta or {})
        return self

    def load_model(self) -> tuple[Any, Any]:
        """Load (once) and return ``(model, tokenizer)``."""
        if self._model is None:
            from videobgm.compose import checkpoint as ckpt
            if self.untrained:
                from videobgm.compose.tokens import Tokenizer

                tok = Tokenizer()
                self._model = ckpt.build_untrained(self.config.model, tok, seed=self.config.sample.seed)
                self._tokenizer = tok
                self._model_meta = {"checkpoint": None, "untrained": True}
            else:
                self._model, self._tokenizer, self._model_meta = ckpt.load_checkpoint(self.checkpoint)
        return self._model, self._tokenizer

    # ------------------------------------------------------------------ stages
    def analyze(self, video: str | Path, *, duration_s: float | None = None) -> Features:
        """[1]-[2]: probe and analyse a video (or a still image with ``duration_s``)."""
        path = Path(video)
        if path.suffix.lower() in IMAGE_SUFFIXES:
            if duration_s is None or not duration_s > 0:
                raise OptionError("a still image needs --duration SECONDS (> 0)")
            from videobgm.features.still import still_image_features

            with self._stage(2, "features"):
                features = still_image_features(path, duration_s)
        else:
            from videobgm.features.analyze import extract_features
            from videobgm.video import decode as video_mod
            with self._stage(1, "probe"):
                video_mod.probe(path, self.config.video)
            with self._stage(2, "features") as update:
                pause_for_tests("features")
                features = extract_features(path, self.config.features, self.config.video,
                                            progress=update)
        if self._labels_model is not None:
            from videobgm.features.semantics import labels_for_input

            with self._stage(2, "labels"):
                features.labels = labels_for_input(path, self._labels_model, self.config.video)
        if self._clip_model is not None:
            self.add_clip_scores(features, path)
        return features

    def add_clip_scores(self, features: Features, path: str | Path) -> Features:
        """[2] the image-text model's frame scores into ``features.meta["clip"]`` (the
        description's sections read them, ``clip_labels.join_description``)."""
        from videobgm.features.clip import clip_scores

        fc = self.config.features
        with self._stage(2, "clip"):
            features.meta = {**(features.meta or {}), "clip": clip_scores(
                path, self._clip_model, self.config.video, duration_s=features.duration_s,
                every_s=fc.clip_every_s, max_frames=fc.clip_max_frames)}
        return features

    def describe(self, features: Features, edit: Description | None = None) -> Description:
        """[3a] text bridge: the one description -- the video's, with ``edit`` (an edited
        description or free text) and the user's options (``config.plan``) laid over it."""
        from videobgm.bridges.resolve import resolve_description

        with self._stage(3, "describe"):
            return resolve_description(features, self.config.plan, edit)

    def retrieve(self, description: Description, *, k: int = 3) -> list[Reference]:
        """[3b] music bridge: passages from the library that fit the description."""
        from videobgm.bridges.retrieve import load_index, search

        with self._stage(3, "retrieve"):
            if self._index is None:
                self._index = load_index(self.index_path)
            return search(description, k=k, index=self._index)

    def plan(
        self,
        features: Features,
        *,
        description: Description | None = None,
        references: list[Reference] | None = None,
        resolved: bool = False,
    ) -> Plan:
        """[3] features (timing) + the description (everything musical) -> musical plan."""
        from videobgm.plan.planner import make_plan

        with self._stage(3, "plan"):
            return make_plan(
                features, self.config.plan, description=description, references=references,
                seed=self.config.sample.seed, resolved=resolved,
            )

    def compose(
        self,
        plan: Plan,
        *,
        keep: Score | None = None,
        regenerate_bars: tuple[int, int] | None = None,
        seed: int | None = None,
    ) -> Score:
        """[4]-[5] plan -> Score (model sampling, controls enforced); timing from the plan."""
        from videobgm.compose.dynamics import phrase_ends, section_breaths, shape
        from videobgm.compose.phrasing import solo_tracks
        from videobgm.compose.sampler import generate
        from videobgm.music.motif import layout_of_plan

        model, tok = self.load_model()
        cfg = self.config.sample if seed is None else self.config.sample.replace(seed=int(seed))
        with self._stage(5, "compose") as update:
            pause_for_tests("compose")
            # bass and drums, which POP909 lacks, are added by rule inside the sampler (arrange.py)
            from videobgm.compose.arrange import styled_controls

            score = generate(
                styled_controls(plan, cfg.seed), model, tok, cfg, keep=keep,
                regenerate_bars=regenerate_bars, progress=update,
                phrase_ends=phrase_ends(plan, cfg.melody_phrase_bars) if cfg.melody_phrase_bars else None,
                breath_bars=section_breaths(plan) if cfg.section_breath else None,
                motif=layout_of_plan(plan) if cfg.motif else None,
                solo_tracks=solo_tracks(plan.instruments),  # a flute plays one note at a time
            )

        # semitone clashes between tracks only where the idiom wants them (tense tension bars)
        from videobgm.compose.clashes import resolve_score_clashes

        score = resolve_score_clashes(score, plan, regenerate_bars)
        # the cuts' hit points: the pitched parts clear just before them, so that the hit re-attacks
        from videobgm.compose.hit_marks import clear_plan_hits

        score = clear_plan_hits(score, plan, cfg, regenerate_bars)
        # velocities follow the sections' energy and the phrases (only the bars just sampled)
        score = shape(score, plan.sections, plan.controls.accent_steps, cfg=cfg, bars=regenerate_bars,
                      hits=plan.controls.hits)
        score.beat_times_s = plan.beat_times_s
        score.tempo_bpm = plan.tempo_bpm
        score.programs = dict(plan.programs)
        score.key_tonic, score.mode = plan.controls.key_tonic, plan.controls.mode
        score.chords = list(plan.controls.chords)
        return score

    # ------------------------------------------------------------------ outputs
    @staticmethod
    def _check_outputs(video: str | Path | None, *outputs: str | Path | None,
                       stems: str | Path | None = None) -> None:
        """Fail fast, before any analysis, on outputs that could not be written (one line each,
        see :func:`videobgm.io.check_outputs`)."""
        from videobgm.io import check_outputs

        check_outputs([p for p in outputs if p is not None], source=video, folder=stems,
                      folder_names=STEM_FILES)

    @staticmethod
    def _check_video_output(video: str | Path, output: str | Path) -> None:
        """Copy or re-encode, decided from the input codec and the container before any work;
        a one-line error when no output is possible (e.g. an encoder missing)."""
        from videobgm.audio.transcode import plan_output

        plan_output(video, output)

    def write_outputs(
        self,
        result: Result,
        *,
        video: str | Path | None,
        output: str | Path | None,
        midi: str | Path | None = None,
        wav: str | Path | None = None,
        stems: str | Path | None = None,
        plan_json: str | Path | None = None,
    ) -> Result:
        """[6]-[8]: MIDI, stems, audio, plan JSON and the muxed video, all or nothing.

        Every output is written to a temporary name in its own folder and renamed into place
        only when all of them are ready (:class:`~videobgm.io.OutputSet`): after an error,
        Ctrl-C or SIGTERM none is left and earlier files at the output paths are untouched.
        """
        from videobgm.audio import render as render_mod
        from videobgm.io import OutputSet
        from videobgm.music import midi as midi_mod
        from videobgm.plan.planner import plan_render_config

        cfg = self.config
        score, plan = result.score, result.plan
        self.mux_info = None
        if output is not None and video is None:
            raise OptionError("an output video needs an input video")
        self._check_outputs(video, output, midi, wav, plan_json, stems=stems)
        self.render_info = None
        if output is not None:
            self._check_video_output(video, output)
        with OutputSet() as outs:
            stems_tmp = None
            if stems is not None:
                stems_tmp = outs.folder(stems, owned=STEM_FILES)
            with self._stage(6, "midi"):
                if midi is not None:
                    midi_mod.write_midi(score, outs.file(midi), cfg.midi)
                if stems_tmp is not None:
                    midi_mod.write_stems(score, stems_tmp, cfg.midi)
            audio = None
            if output is not None or wav is not None or stems is not None:
                with self._stage(7, "render"):
                    pause_for_tests("render")
                    rcfg = plan_render_config(plan, cfg.render)  # the fade covers the ring-out
                    rendered = render_mod.render(score, plan.duration_s, rcfg, plan=plan,
                                                 stems=stems_tmp is not None)
                    self.render_info = rendered.info
                    if self.show_progress:  # which bank, and any fallback (one line each)
                        for line in rendered.notes:
                            print(f"videobgm: {line}", file=sys.stderr)
                    audio = rendered.mix
                    if wav is not None:
                        render_mod.write_wav(audio, cfg.render.sample_rate, outs.file(wav))
                    if stems_tmp is not None:
                        render_mod.write_stem_wavs(score, stems_tmp, plan.duration_s, rcfg,
                                                   rendered=rendered)
            if output is not None:
                from videobgm.audio import mux as mux_mod
                with self._stage(8, "mux") as update:
                    info = mux_mod.mux(video, audio, cfg.render.sample_rate, outs.file(output),
                                       cfg.mux, duration_s=plan.duration_s,
                                       progress=paused_once("mux", update))
                self.mux_info = {**info, "output": str(output)}
            result.timings_s = dict(self.timings_s)
            if plan_json is not None:
                from videobgm.io import write_json

                write_json(outs.file(plan_json), self.plan_record(result))
            pause_for_tests("commit")
        for attr, path in (("midi_path", midi), ("wav_path", wav), ("stems_dir", stems),
                           ("output_path", output), ("plan_path", plan_json)):
            if path is not None:  # committed: every requested output is in place
                setattr(result, attr, str(path))
        return result

    def plan_record(self, result: Result) -> dict[str, Any]:
        """The plan/description JSON saved beside the outputs (with the config and model used)."""
        from videobgm.plan.plan_json import plan_to_dict

        return {
            "plan": plan_to_dict(result.plan),
            # the description that plays (the planner's final values written back)
            "description": (result.plan.description or result.description).to_dict()
            if (result.plan.description or result.description) else None,
            "references": [dataclasses.asdict(r) for r in result.references],
            "config": self.config.to_dict(),
            "model": self._model_meta,
            "mux": self.mux_info,  # copied or re-encoded, and why (None: no video output)
            "render": self.render_info,  # sound bank, style, mastering report (None: not rendered)
            "timings_s": dict(self.timings_s),
        }

    # ------------------------------------------------------------------ main job
    def run(
        self,
        video: str | Path,
        output: str | Path | None,
        *,
        midi: str | Path | None = None,
        wav: str | Path | None = None,
        stems: str | Path | None = None,
        plan_json: str | Path | None = None,
        description: Description | None = None,
        use_retrieval: bool = False,
        duration_s: float | None = None,
    ) -> Result:
        """Score ``video``: every stage, every requested output. Returns the :class:`Result`.

        Parameters
        ----------
        video : path
            Input video (or still image, with ``duration_s``).
        output : path or None
            Muxed MP4 to write (None: no video output).
        midi, wav, stems, plan_json : path, optional
            Extra outputs: MIDI file, WAV file, stems folder (one MIDI + WAV per track), plan JSON.
        description : Description, optional
            An edited description or free text: an edit of the video's own description (the
            score always plans through the one description; ``Result.description`` is what
            plays).
        use_retrieval : bool
            Condition the plan on passages retrieved from the music library (music bridge).
        duration_s : float, optional
            Length of the music for a still image.
        """
        self.timings_s = {}
        self._check_outputs(video, output, midi, wav, plan_json, stems=stems)
        if output is not None:
            if Path(video).suffix.lower() in IMAGE_SUFFIXES:
                raise OptionError("a still image has no video stream to mux into; use --wav/--midi")
            self._check_video_output(video, output)
        features = self.analyze(video, duration_s=duration_s)
        return self.write_outputs(self.make_music(features, description, use_retrieval=use_retrieval), video=video,
                                  output=output, midi=midi, wav=wav, stems=stems, plan_json=plan_json)

    def make_music(self, features: Features, description: Description | None = None, *,
                   use_retrieval: bool = False) -> Result:
        """[3]-[5] on analysed features: the one description, retrieval, plan, score (no outputs
        written; :meth:`write_outputs` does that). ``run`` and ``compose_from_description`` call
        it after their analysis; the UI, which analyses at upload, calls it on generate."""
        description = self.describe(features, description)
        references = self.retrieve(description) if use_retrieval else []
        plan = self.plan(features, description=description, references=references or None,
                         resolved=True)
        score = self.compose(plan)
        return Result(features=features, plan=plan, score=score, description=plan.description,
                      references=references)

    def compose_from_description(
        self,
        description: Description,
        duration_s: float,
        *,
        midi: str | Path | None = None,
        wav: str | Path | None = None,
        stems: str | Path | None = None,
        plan_json: str | Path | None = None,
        use_retrieval: bool = False,
    ) -> Result:
        """Text-to-music: a description (e.g. parsed from a prompt) and a length, no video."""
        from videobgm.features.still import neutral_features

        self.timings_s = {}
        self._check_outputs(None, midi, wav, plan_json, stems=stems)
        if not duration_s > 0:
            raise OptionError(f"--duration must be > 0 seconds, got {duration_s}")
        result = self.make_music(neutral_features(duration_s), description, use_retrieval=use_retrieval)
        return self.write_outputs(result, video=None, output=None, midi=midi, wav=wav,
                                  stems=stems, plan_json=plan_json)

    def regenerate(
        self,
        result: Result,
        *,
        bars: tuple[int, int],
        seed: int,
        video: str | Path | None = None,
        output: str | Path | None = None,
        midi: str | Path | None = None,
        wav: str | Path | None = None,
        stems: str | Path | None = None,
        plan_json: str | Path | None = None,
    ) -> Result:
        """Regenerate bars ``[a, b)`` of ``result`` with a new seed; every other note is kept.

        The chords of those bars are re-sampled too, by the learned harmony model with the
        chords around them as context (:func:`videobgm.plan.harmony.regenerate_chords`)."""
        from videobgm.plan.harmony import regenerate_chords

        a, b = int(bars[0]), int(bars[1])
        n = result.plan.n_bars
        if not (0 <= a < b <= n):
            raise OptionError(f"bar range must satisfy 0 <= start < end <= {n}, got [{a}, {b})")
        self.timings_s = {}
        plan = regenerate_chords(result.plan, (a, b), seed)
        score = self.compose(plan, keep=result.score, regenerate_bars=(a, b), seed=seed)
        plan = dataclasses.replace(plan, regenerations=[
            *plan.regenerations, {"bars": [a, b], "seed": int(seed)}])  # recorded in plan.json
        new = dataclasses.replace(result, plan=plan, score=score, output_path=None, midi_path=None,
                                  wav_path=None, stems_dir=None, plan_path=None)
        return self.write_outputs(new, video=video, output=output, midi=midi, wav=wav,
                                  stems=stems, plan_json=plan_json)


def score_video(video: str | Path, output: str | Path, *, config: PipelineConfig | None = None,
                **kwargs: Any) -> Result:
    """Convenience: ``Pipeline(config).run(video, output, **kwargs)``."""
    return Pipeline(config).run(video, output, **kwargs)

