"""The one module that wires the stages together: [1] video .. [8] mux.

``Pipeline(config).score(video, output)`` runs every stage in order and returns a
:class:`~videobgm.types.Result` holding every intermediate (features, plan, score, paths,
timings). The CLI, web UI and batch runner are thin layers over this class.

Stages:

1. ``video.probe``                 path -> VideoInfo
2. ``features.extract_features``   path -> Features
3. ``describe`` / ``retrieve``     optional text bridge and music bridge
3. ``plan.make_plan``              Features (+ description, references) -> Plan
4-5. ``sample.generate``           Plan.controls -> Score (compound tokens, model, sampling)
6. ``midi.write_midi``             Score -> .mid (+ stems)
7. ``render.render_audio``         Score -> audio (n, 2) at the render sample rate
8. ``mux.mux``                     video + audio -> MP4
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from videobgm.config import PipelineConfig
from videobgm.errors import OptionError
from videobgm.features.still import IMAGE_SUFFIXES
from videobgm.progress import ProgressFn, checked_progress, null_progress, stage_bar
from videobgm.types import Description, Features, Plan, Reference, Result, Score

N_STAGES = 8


def _same_file(a: str | Path, b: str | Path) -> bool:
    pa, pb = Path(a), Path(b)
    try:
        if pa.exists() and pb.exists():
            return pa.samefile(pb)
    except OSError:
        pass
    return pa.resolve() == pb.resolve()


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
        self.labels_model_path = labels_model
        self.index_path = index
        self._labels_model: Any = None
        self._index: Any = None
        if labels_model is not None:  # fail before any long work when the model is unusable
            from videobgm.features.semantics import load_labels_model

            self._labels_model = load_labels_model(labels_model)

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
            from videobgm import checkpoint as ckpt

            if self.untrained:
                from videobgm.tokens import Tokenizer

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
            from videobgm import video as video_mod
            from videobgm.features import extract_features

            with self._stage(1, "probe"):
                video_mod.probe(path, self.config.video)
            with self._stage(2, "features") as update:
                features = extract_features(path, self.config.features, self.config.video,
                                            progress=update)
        if self._labels_model is not None:
            from videobgm.features.semantics import labels_for_input

            with self._stage(2, "labels"):
                features.labels = labels_for_input(path, self._labels_model, self.config.video)
        return features

    def describe(self, features: Features) -> Description:
        """[3a] text bridge: the video's music description."""
        from videobgm.describe import describe

        with self._stage(3, "describe"):
            return describe(features, labels=features.labels or None)

    def retrieve(self, description: Description, *, k: int = 3) -> list[Reference]:
        """[3b] music bridge: passages from the library that fit the description."""
        from videobgm.retrieve import load_index, search

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
    ) -> Plan:
        """[3] features (+ bridges, user controls) -> musical plan."""
        from videobgm.plan import make_plan

        with self._stage(3, "plan"):
            return make_plan(
                features, self.config.plan, description=description, references=references,
                seed=self.config.sample.seed,
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
        from videobgm.sample import generate

        model, tok = self.load_model()
        cfg = self.config.sample if seed is None else self.config.sample.replace(seed=int(seed))
        with self._stage(5, "compose") as update:
            # bass and drums, which POP909 lacks, are added by rule inside the sampler (arrange.py)
            score = generate(
                plan.controls, model, tok, cfg, keep=keep, regenerate_bars=regenerate_bars,
                progress=update,
            )
        from videobgm.dynamics import shape

        # velocities follow the sections' energy and the phrases (only the bars just sampled)
        score = shape(score, plan.sections, plan.controls.accent_steps, cfg=cfg, bars=regenerate_bars)
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
        """Fail fast (before any analysis) on outputs that could not be written."""
        from videobgm.fileio import check_output_path

        for p in outputs:
            if p is None:
                continue
            if video is not None and _same_file(p, video):
                raise OptionError(f"output path {p} is the input video; choose another name")
            check_output_path(p)
        if stems is not None:
            check_output_path(Path(stems) / "stem.mid")

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
        """[6]-[8]: MIDI, stems, audio, plan JSON and the muxed video (each written atomically)."""
        from videobgm import midi as midi_mod
        from videobgm import render as render_mod

        cfg = self.config
        score, plan = result.score, result.plan
        self._check_outputs(video, output, midi, wav, plan_json, stems=stems)
        with self._stage(6, "midi"):
            if midi is not None:
                midi_mod.write_midi(score, midi, cfg.midi)
                result.midi_path = str(midi)
            if stems is not None:
                midi_mod.write_stems(score, stems, cfg.midi)
        audio = None
        if output is not None or wav is not None or stems is not None:
            with self._stage(7, "render"):
                audio = render_mod.render_audio(score, plan.duration_s, cfg.render)
                if wav is not None:
                    render_mod.write_wav(audio, cfg.render.sample_rate, wav)
                    result.wav_path = str(wav)
                if stems is not None:
                    render_mod.write_stem_wavs(score, stems, plan.duration_s, cfg.render)
                    result.stems_dir = str(stems)
        if output is not None:
            if video is None:
                raise OptionError("an output video needs an input video")
            from videobgm import mux as mux_mod

            with self._stage(8, "mux"):
                mux_mod.mux(video, audio, cfg.render.sample_rate, output, cfg.mux,
                            duration_s=plan.duration_s)
            result.output_path = str(output)
        if plan_json is not None:
            from videobgm.fileio import write_json

            write_json(plan_json, self.plan_record(result))
            result.plan_path = str(plan_json)
        result.timings_s = dict(self.timings_s)
        return result

    def plan_record(self, result: Result) -> dict[str, Any]:
        """The plan/description JSON saved beside the outputs (with the config and model used)."""
        from videobgm.plan import plan_to_dict

        return {
            "plan": plan_to_dict(result.plan),
            "description": result.description.to_dict() if result.description else None,
            "references": [dataclasses.asdict(r) for r in result.references],
            "config": self.config.to_dict(),
            "model": self._model_meta,
            "timings_s": dict(self.timings_s),
        }

    # ------------------------------------------------------------------ main job
    def score(
        self,
        video: str | Path,
        output: str | Path | None,
        *,
        midi: str | Path | None = None,
        wav: str | Path | None = None,
        stems: str | Path | None = None,
        plan_json: str | Path | None = None,
        description: Description | None = None,
        use_description: bool = False,
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
            A (user-edited) music description that overrides the video-derived choices.
        use_description : bool
            Build the video's own description (text bridge) and plan from it.
        use_retrieval : bool
            Condition the plan on passages retrieved from the music library (music bridge).
        duration_s : float, optional
            Length of the music for a still image.
        """
        self.timings_s = {}
        self._check_outputs(video, output, midi, wav, plan_json, stems=stems)
        features = self.analyze(video, duration_s=duration_s)
        if description is None and (use_description or use_retrieval):
            description = self.describe(features)
        references = self.retrieve(description) if (use_retrieval and description) else []
        plan = self.plan(features, description=description, references=references or None)
        score = self.compose(plan)
        result = Result(features=features, plan=plan, score=score, description=description,
                        references=references)
        is_image = Path(video).suffix.lower() in IMAGE_SUFFIXES
        if is_image and output is not None:
            raise OptionError("a still image has no video stream to mux into; use --wav/--midi")
        return self.write_outputs(
            result, video=video, output=output, midi=midi, wav=wav, stems=stems, plan_json=plan_json
        )

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
        features = neutral_features(duration_s)
        references = self.retrieve(description) if use_retrieval else []
        plan = self.plan(features, description=description, references=references or None)
        score = self.compose(plan)
        result = Result(features=features, plan=plan, score=score, description=description,
                        references=references)
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
        """Regenerate bars ``[a, b)`` of ``result`` with a new seed; every other note is kept."""
        a, b = int(bars[0]), int(bars[1])
        n = result.plan.n_bars
        if not (0 <= a < b <= n):
            raise OptionError(f"bar range must satisfy 0 <= start < end <= {n}, got [{a}, {b})")
        self.timings_s = {}
        score = self.compose(result.plan, keep=result.score, regenerate_bars=(a, b), seed=seed)
        new = dataclasses.replace(result, score=score, output_path=None, midi_path=None,
                                  wav_path=None, stems_dir=None, plan_path=None)
        return self.write_outputs(new, video=video, output=output, midi=midi, wav=wav,
                                  stems=stems, plan_json=plan_json)


def score_video(video: str | Path, output: str | Path, *, config: PipelineConfig | None = None,
                **kwargs: Any) -> Result:
    """Convenience: ``Pipeline(config).score(video, output, **kwargs)``."""
    return Pipeline(config).score(video, output, **kwargs)

