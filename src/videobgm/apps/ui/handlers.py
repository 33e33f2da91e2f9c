"""What the web UI does, as plain Python: :class:`UIHandlers` (no Gradio objects in or out).

Every Gradio event in :mod:`videobgm.apps.ui.app` calls one method here (``upload``, ``generate``,
``regenerate``), so the behaviour is unit-tested without a browser. User errors (not a video, too
long, too big, corrupt, bad bar range) come back as an :class:`Outcome` with ``ok=False`` and a
one-line status message; the server keeps serving.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from videobgm.apps.ui.limits import Job, ServerBusy, check_text, check_upload, fmt_limit, fmt_time
from videobgm.apps.ui.session import (
    MusicControls,
    Outcome,
    SessionState,
    edited_description,
    section_choices,
)
from videobgm.apps.ui.storage import WorkStore
from videobgm.config import PipelineConfig, UIConfig
from videobgm.errors import OptionError, VideobgmError
from videobgm.types import PITCH_CLASS_NAMES, Description, Result

log = logging.getLogger(__name__)

ProgressCb = Callable[..., Any]
PipelineFactory = Callable[[PipelineConfig], Any]


def _noop_progress(*_a: Any, **_k: Any) -> None:
    """Progress callback used when the caller gives none."""


class UIHandlers:
    """The UI's behaviour as plain methods (what the Gradio events call).

    Parameters
    ----------
    config : PipelineConfig
        Base settings; the page's controls override its ``plan`` and ``sample`` parts per run.
    ui_config : UIConfig
        Upload limits, queue size, where the outputs go.
    pipeline_factory : callable, optional
        ``config -> Pipeline``-like object (``analyze``, ``describe``, ``plan``, ``compose``,
        ``write_outputs``, ``regenerate``). Default: ``videobgm.pipeline.Pipeline(config)``.
        The model loaded by the first pipeline is reused by the later ones.
    """

    def __init__(self, config: PipelineConfig, ui_config: UIConfig | None = None, *,
                 pipeline_factory: PipelineFactory | None = None) -> None:
        self.config = config
        self.ui = ui_config or UIConfig()
        self._factory = pipeline_factory or _default_factory
        self._model_lock = threading.Lock()
        self._model: tuple[Any, Any, dict[str, Any]] | None = None
        root = self.ui.work_dir or os.path.join(tempfile.gettempdir(), "videobgm-ui")
        self.work_root = Path(root)
        self.work_root.mkdir(parents=True, exist_ok=True)
        self.store = WorkStore(self.work_root, self.ui)  # expiry, quota, uploads per session
        self._slots = threading.BoundedSemaphore(max(1, int(self.ui.concurrency_limit)))

    # ------------------------------------------------------------------ helpers
    @property
    def max_duration_s(self) -> float:
        return min(float(self.ui.max_duration_s), float(self.config.video.max_duration_s))

    def limits_text(self) -> str:
        """One line telling the user what uploads are accepted."""
        return (f"Accepted: a video file (MP4, MOV, MKV, WebM, AVI) up to "
                f"{self.ui.max_upload_mb:g} MB and {fmt_limit(self.max_duration_s)} long.")

    def pipeline(self, config: PipelineConfig, job: Job | None = None) -> Any:
        """A pipeline for ``config`` that shares the already loaded model (if any); with ``job``
        its stages stop once the job's time limit is past."""
        pipe = self._factory(config)
        if job is not None:
            with contextlib.suppress(AttributeError):  # a pipeline-like object without the hook
                pipe.stage_check = job.check
        with self._model_lock:
            if self._model is None and hasattr(pipe, "load_model"):
                pipe.load_model()
                self._model = pipe.model_bundle
            elif self._model is not None and hasattr(pipe, "use_model"):
                pipe.use_model(*self._model)
        return pipe

    def _new_work_dir(self, state: SessionState) -> Path:
        if state.work_dir and Path(state.work_dir).is_dir():
            return Path(state.work_dir)
        d = Path(tempfile.mkdtemp(prefix="session-", dir=self.work_root))
        state.work_dir = str(d)
        return d

    @contextlib.contextmanager
    def _heavy(self, state: SessionState, progress: ProgressCb) -> Iterator[Job]:
        """Run a heavy job: wait for a worker slot (``UIConfig.concurrency_limit``), sweep and
        check the disk quota, then yield the job's deadline. Fast checks happen before this, so
        a bad request is answered at once even while another user's job runs."""
        progress(0.0, desc="waiting for a free worker")
        if not self._slots.acquire(timeout=float(self.ui.job_time_limit_s)):
            raise ServerBusy("the server is busy with other users' jobs; try again in a few minutes")
        try:
            with self.store.job(self._new_work_dir(state)):
                self.store.sweep()
                used_mb = self.store.used_bytes() / 1e6
                if used_mb > self.ui.max_work_mb:
                    raise ServerBusy(f"the server's disk quota for results ({self.ui.max_work_mb:g} "
                                     f"MB) is full ({used_mb:.0f} MB in use); try again later")
                yield Job(self.ui.job_time_limit_s)
        finally:
            self._slots.release()

    def sweep(self, now: float | None = None) -> list[str]:
        """Delete expired and over-quota sessions now (:meth:`WorkStore.sweep`)."""
        return self.store.sweep(now)

    def end_session(self, state: SessionState | None, *, keep: str | None = None) -> None:
        """A browser session ended (tab closed, state expired) or was replaced by a new upload:
        delete its outputs and its upload (unless a job of it is still running, or the upload
        is ``keep``, the file being uploaded again)."""
        if isinstance(state, SessionState):
            self.store.end_session(state.work_dir, state.video_path if state.owns_upload else None,
                                   keep=keep)

    def _outputs_dir(self, state: SessionState) -> Path:
        state.version += 1
        d = self._new_work_dir(state) / f"v{state.version:03d}"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _write(self, pipe: Any, result: Result, state: SessionState, *,
               regenerate: tuple[tuple[int, int], int] | None = None) -> tuple[Result, list[str]]:
        out = self._outputs_dir(state)
        stem = Path(state.video_path or "video").stem[:40] or "video"
        paths = {
            "output": out / f"{stem}.scored.mp4", "midi": out / f"{stem}.mid",
            "wav": out / f"{stem}.wav", "stems": out / "stems", "plan_json": out / f"{stem}.plan.json",
        }
        if not self.ui.stems:
            paths.pop("stems")
        kw: dict[str, str | None] = {k: str(v) for k, v in paths.items()}
        if (state.video_info or {}).get("still_image"):
            kw["output"] = None  # nothing to mux the music into: WAV, MIDI, stems and plan
        if regenerate is None:
            result = pipe.write_outputs(result, video=state.video_path, **kw)
        else:
            bars, seed = regenerate
            result = pipe.regenerate(result, bars=bars, seed=seed, video=state.video_path, **kw)
        files = [p for p in (result.output_path, result.wav_path, result.midi_path) if p]
        if result.stems_dir and Path(result.stems_dir).is_dir():
            files.append(str(_zip_dir(Path(result.stems_dir), out / f"{stem}.stems.zip")))
        if result.plan_path:
            files.append(result.plan_path)
        return result, files

    # ------------------------------------------------------------------ events
    def upload(self, video_path: str | None, state: SessionState | None,
               progress: ProgressCb = _noop_progress, still_duration_s: Any = None) -> Outcome:
        """A video (or a still image with ``still_duration_s``) was uploaded: check it, analyse
        it, describe it, plan a preview. The previous upload's session is deleted."""
        return _guarded("analysing the upload", SessionState(), self._upload, video_path, state,
                        progress, still_duration_s)

    def generate(self, state: SessionState | None, description_text: str | None,
                 controls: MusicControls, progress: ProgressCb = _noop_progress) -> Outcome:
        """Compose music for the uploaded video with the page's description and controls."""
        return _guarded("generating", state or SessionState(), self._generate, state,
                        description_text, controls, progress)

    def regenerate(self, state: SessionState | None, first_bar: Any, last_bar: Any, seed: Any,
                   progress: ProgressCb = _noop_progress) -> Outcome:
        """Regenerate bars ``first_bar..last_bar`` (1-based, inclusive) with ``seed``.

        Every note outside those bars is kept exactly; the video, WAV, MIDI and stems are rewritten.
        """
        return _guarded("regenerating", state or SessionState(), self._regenerate, state,
                        first_bar, last_bar, seed, progress)

    def _upload(self, video_path: str | None, state: SessionState | None,
                progress: ProgressCb, still_duration_s: Any = None) -> Outcome:
        if state is not None:  # a new upload replaces the session: its files go
            self.end_session(state, keep=str(video_path) if video_path else None)
        state = SessionState()
        try:
            progress(0.0, desc="checking the upload")
            info = check_upload(video_path, still_duration_s, max_upload_mb=self.ui.max_upload_mb,
                                max_duration_s=self.max_duration_s, video_config=self.config.video)
            state.video_path, state.video_info = str(video_path), info
            state.owns_upload = self.store.owns(state.video_path)
            with self._heavy(state, progress) as job:
                if state.owns_upload and state.work_dir:
                    self.store.add_upload(state.work_dir, state.video_path)
                pipe = self.pipeline(self.config, job)
                progress(0.1, desc="analysing motion, beats, cuts and colour")
                features = pipe.analyze(video_path, duration_s=info.get("duration_s")
                                        if info.get("still_image") else None)
                state.features = features
                progress(0.7, desc="describing the music")
                description = _try_describe(pipe, features)
                state.description = description
                progress(0.85, desc="planning sections")
                plan = pipe.plan(features, description=description)
                state.preview_plan = plan
                if getattr(plan, "description", None) is not None:
                    description = plan.description  # with the planner's values written back
                    state.description = description
        except VideobgmError as exc:
            msg = str(exc)
            if video_path:  # the upload's temporary path means nothing to the user
                msg = msg.replace(str(video_path), Path(str(video_path)).name)
            self.end_session(state)
            return Outcome(False, f"**Upload refused:** {msg}", SessionState())
        from videobgm.apps.ui.plot import feature_figure

        fig = feature_figure(features, plan)
        d = description
        ctrl = MusicControls(
            mood=(d.mood if d and d.mood else plan.mood), style=(d.style if d and d.style else plan.style),
            tempo_bpm=round(float(plan.tempo_bpm), 1),
            key=PITCH_CLASS_NAMES[plan.controls.key_tonic], mode=plan.controls.mode,
            instruments=tuple(d.instruments) if d and d.instruments else None,
            density_scale=self.config.plan.density_scale, seed=self.config.sample.seed,
        )
        state.proposed = ctrl
        text = d.text if d and d.text else _fallback_text(features, plan)
        if d is None or not d.text:
            state.description = Description(text=text, source="video")
        cuts = len(features.cut_times_s)
        what = (f"still image, music of {fmt_time(info['duration_s'])}" if info.get("still_image")
                else f"{fmt_time(info['duration_s'])}, {info['width']}x{info['height']} at "
                     f"{info['fps']:.1f} fps")
        status = (f"**Analysed** {Path(str(video_path)).name}: {what}; "
                  f"{len(features.visual_beat_times_s)} visual beats, {cuts} cut{'s' * (cuts != 1)}; "
                  f"plan {plan.tempo_bpm:.0f} bpm, {plan.n_bars} bars, {len(plan.sections)} sections. "
                  f"Edit the description or controls, then press **Generate**.")
        return Outcome(True, status, state, figure=fig, sections=section_choices(plan),
                       description_text=text, controls=ctrl)

    def _generate(self, state: SessionState | None, description_text: str | None,
                  controls: MusicControls, progress: ProgressCb) -> Outcome:
        state = state if state is not None else SessionState()
        base = state.description.text if state.description else None
        try:
            if (description_text or "").strip() != (base or "").strip():  # edited: to be parsed
                check_text(description_text, self.ui.max_text_chars)  # first: a huge text is refused at once
        except VideobgmError as exc:
            return Outcome(False, f"**Generation failed:** {exc}", state)
        if state.features is None or not state.video_path:
            return Outcome(False, "**Nothing to score:** upload a video first.", state)
        base_text = (state.description.text or "").strip() if state.description else ""
        if state.proposed is not None and (description_text or "").strip() != base_text:
            controls = controls.unchanged_as_auto(state.proposed)  # the edited words decide
        try:
            cfg = controls.apply(self.config)
            description = edited_description(state.description, description_text, controls,
                                             int(self.ui.max_text_chars))
            with self._heavy(state, progress) as job:
                pipe = self.pipeline(cfg, job)
                progress(0.05, desc="planning and composing")
                result = pipe.make_music(state.features, description)  # the pipeline's stages [3]-[5]
                progress(0.6, desc="writing MIDI, rendering audio, muxing the video")
                result, files = self._write(pipe, result, state)
        except VideobgmError as exc:
            return Outcome(False, f"**Generation failed:** {exc}", state)
        state.result, state.config = result, cfg
        if result.description is not None:  # the box shows what plays
            state.description = result.description
        state.history.append(f"v{state.version}: generated with seed {controls.seed}")
        from videobgm.apps.ui.plot import feature_figure

        fig = feature_figure(state.features, result.plan, result.score)
        n_notes = len(result.score.notes)
        status = (f"**Done (v{state.version})** - {result.plan.tempo_bpm:.0f} bpm, "
                  f"{PITCH_CLASS_NAMES[result.plan.controls.key_tonic]} {result.plan.controls.mode}, "
                  f"{result.plan.n_bars} bars, {n_notes} notes, seed {controls.seed}. "
                  f"{_timings(result)}")
        return Outcome(True, status, state, figure=fig, video=result.output_path, files=files,
                       sections=section_choices(result.plan),
                       description_text=result.description.text if result.description else None)

    def _regenerate(self, state: SessionState | None, first_bar: Any, last_bar: Any, seed: Any,
                    progress: ProgressCb) -> Outcome:
        state = state if state is not None else SessionState()
        if state.result is None or state.config is None:
            return Outcome(False, "**Nothing to regenerate:** press Generate first.", state)
        try:
            n = state.result.plan.n_bars
            try:
                a, b = int(first_bar) - 1, int(last_bar)
                seed_i = int(seed)
            except (TypeError, ValueError):
                raise OptionError("bars and seed must be whole numbers") from None
            if not (0 <= a < b <= n):
                raise OptionError(f"choose bars between 1 and {n} with first <= last "
                                  f"(got {first_bar}-{last_bar})")
            if seed_i < 0:
                raise OptionError(f"seed must be >= 0, got {seed_i}")
            with self._heavy(state, progress) as job:
                pipe = self.pipeline(state.config, job)
                progress(0.1, desc=f"regenerating bars {a + 1}-{b}")
                result, files = self._write(pipe, state.result, state, regenerate=((a, b), seed_i))
        except VideobgmError as exc:
            return Outcome(False, f"**Regeneration failed:** {exc}", state)
        state.result = result
        state.history.append(f"v{state.version}: bars {a + 1}-{b} regenerated with seed {seed_i}")
        from videobgm.apps.ui.plot import feature_figure

        fig = feature_figure(state.features, result.plan, result.score, highlight_bars=(a, b))
        status = (f"**Done (v{state.version})** - bars {a + 1}-{b} regenerated with seed {seed_i}; "
                  f"every other note kept. {_timings(result)}")
        return Outcome(True, status, state, figure=fig, video=result.output_path, files=files,
                       sections=section_choices(result.plan))

# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def _guarded(action: str, fallback: SessionState, fn: Callable[..., Outcome], *args: Any) -> Outcome:
    """Run a handler; a bug (not a user error) is logged with its traceback and reported in the
    page as one line, so the server keeps serving and the user is told something went wrong."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - logged with traceback, shown to the user
        log.exception("internal error while %s", action)
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        return Outcome(False, f"**Internal error while {action}** (a bug; the server log has the "
                       f"traceback): {msg}", fallback)


def _default_factory(config: PipelineConfig) -> Any:
    from videobgm.pipeline import Pipeline

    return Pipeline(config)


def _try_describe(pipe: Any, features: Any) -> Description | None:
    """The video's description (text bridge), or None where that stage is unavailable."""
    if not hasattr(pipe, "describe"):
        return None
    try:
        return pipe.describe(features)
    except (VideobgmError, ImportError) as exc:
        log.info("no description: %s", exc)
        return None


def _fallback_text(features: Any, plan: Any) -> str:
    return (f"{plan.mood} {plan.style} music at {plan.tempo_bpm:.0f} bpm in "
            f"{PITCH_CLASS_NAMES[plan.controls.key_tonic]} {plan.controls.mode}, "
            f"{len(plan.sections)} sections following the video's cuts.")


def _timings(result: Result) -> str:
    t = result.timings_s or {}
    if not t:
        return ""
    total = sum(t.values())
    parts = ", ".join(f"{k} {v:.1f}s" for k, v in t.items() if v >= 0.05)
    return f"({total:.1f} s: {parts})"


def _zip_dir(folder: Path, zip_path: Path) -> Path:
    tmp = zip_path.with_suffix(".part.zip")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(folder))
    os.replace(tmp, zip_path)
    return zip_path


def cleanup(handlers: UIHandlers, *, outputs: bool = True) -> None:
    """At shutdown: remove the server's copies of uploads (Gradio's cache, when it is the app's
    own) and, with ``outputs``, every session folder under the work root."""
    root = handlers.store.upload_root
    if root is not None and os.environ.get("_VIDEOBGM_UI_GRADIO_CACHE") == str(root):
        shutil.rmtree(root, ignore_errors=True)
    if outputs:
        shutil.rmtree(handlers.work_root, ignore_errors=True)
