"""What the web UI does, as plain Python: :class:`UIHandlers` (no Gradio objects in or out).

Every Gradio event in :mod:`videobgm.apps.ui.app` calls one method here (``upload``, ``generate``,
``regenerate``), so the behaviour is unit-tested without a browser. User errors (not a video, too
long, too big, corrupt, bad bar range) come back as an :class:`Outcome` with ``ok=False`` and a
one-line status message; the server keeps serving.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from videobgm.apps.ui.storage import WorkStore
from videobgm.config import PipelineConfig, UIConfig
from videobgm.errors import InputError, OptionError, VideobgmError
from videobgm.music import lexicon
from videobgm.types import PITCH_CLASS_NAMES, Description, Result

log = logging.getLogger(__name__)

AUTO = "auto"
KEYS = PITCH_CLASS_NAMES
ProgressCb = Callable[..., Any]
PipelineFactory = Callable[[PipelineConfig], Any]


def _noop_progress(*_a: Any, **_k: Any) -> None:
    """Progress callback used when the caller gives none."""


class JobTimeout(VideobgmError):
    """A job ran past ``UIConfig.job_time_limit_s`` and was stopped."""


class ServerBusy(VideobgmError):
    """No worker slot or no disk space for a new job (the user may try again later)."""


class _Job:
    """One heavy job's deadline; :meth:`check` (called at every pipeline stage and progress
    update) stops the job once it has run longer than the limit."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = float(limit_s)
        self.deadline = time.monotonic() + self.limit_s

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise JobTimeout(f"the job took longer than this page's limit of "
                             f"{_fmt_limit(self.limit_s)} and was stopped; try a shorter video "
                             f"(or the `videobgm score` command)")


def vocabulary() -> dict[str, tuple[str, ...]]:
    """The planner's accepted moods, styles and instruments (what the page offers)."""
    return {"moods": tuple(lexicon.MOOD_NAMES), "styles": tuple(lexicon.STYLES),
            "instruments": tuple(lexicon.INSTRUMENTS)}


@dataclasses.dataclass
class MusicControls:
    """What the user set in the page; ``None`` / ``"auto"`` means: derive it from the video."""

    mood: str | None = None
    style: str | None = None
    tempo_bpm: float | None = None
    key: str | None = None
    mode: str | None = None
    instruments: tuple[str, ...] | None = None
    density_scale: float = 1.0
    seed: int = 0

    @classmethod
    def from_inputs(
        cls, mood: Any = None, style: Any = None, tempo: Any = None, key: Any = None,
        mode: Any = None, instruments: Any = None, density: Any = 1.0, seed: Any = 0,
    ) -> MusicControls:
        """Parse raw widget values (strings, floats, lists), refusing bad ones with OptionError."""

        def opt(v: Any) -> str | None:
            v = None if v is None else str(v).strip()
            return None if not v or v.lower() == AUTO else v

        tempo_f = None
        if tempo not in (None, "", 0, 0.0):
            tempo_f = float(tempo)
            lexicon.check_tempo(tempo_f, "tempo (0 = auto)")
        dens = 1.0 if density in (None, "") else float(density)
        if not 0.0 < dens <= 10.0:
            raise OptionError(f"density must be in (0, 10], got {dens:g}")
        seed_i = 0 if seed in (None, "") else int(seed)
        if seed_i < 0:
            raise OptionError(f"seed must be >= 0, got {seed_i}")
        inst = tuple(str(x) for x in instruments) if instruments else None
        return cls(mood=opt(mood), style=opt(style), tempo_bpm=tempo_f, key=opt(key),
                   mode=opt(mode), instruments=inst, density_scale=dens, seed=seed_i)

    def unchanged_as_auto(self, proposed: MusicControls) -> MusicControls:
        """These controls with every musical choice still equal to ``proposed`` set to auto.

        The page pre-fills the controls with what the upload's plan chose; when the user then
        edits the description text, the untouched controls must not override the new words.
        """
        def same(a: Any, b: Any) -> bool:
            if isinstance(a, float) and isinstance(b, float):
                return abs(a - b) < 0.05
            if isinstance(a, str) and isinstance(b, str):
                return a.lower() == b.lower()
            return a == b

        kw = {f: None if same(getattr(self, f), getattr(proposed, f)) else getattr(self, f)
              for f in ("mood", "style", "tempo_bpm", "key", "mode", "instruments")}
        return dataclasses.replace(self, **kw)

    def apply(self, config: PipelineConfig) -> PipelineConfig:
        """``config`` with these controls in its plan and sample sections."""
        plan = config.plan.replace(
            mood=self.mood or config.plan.mood, style=self.style or config.plan.style,
            tempo_bpm=self.tempo_bpm if self.tempo_bpm is not None else config.plan.tempo_bpm,
            key=self.key or config.plan.key, mode=self.mode or config.plan.mode,
            instruments=self.instruments or config.plan.instruments,
            density_scale=self.density_scale,
        )
        return config.replace(plan=plan, sample=config.sample.replace(seed=self.seed))


@dataclasses.dataclass
class SessionState:
    """One browser session's work (held in a ``gr.State``)."""

    video_path: str | None = None
    video_info: dict[str, Any] | None = None
    features: Any = None  # Features
    description: Description | None = None
    preview_plan: Any = None  # Plan planned at upload (for the plot)
    result: Result | None = None
    config: PipelineConfig | None = None  # the config ``result`` was made with
    work_dir: str | None = None
    version: int = 0
    history: list[str] = dataclasses.field(default_factory=list)
    proposed: MusicControls | None = None  # the controls as pre-filled after the upload
    owns_upload: bool = False  # video_path is the server's copy of the upload (deleted with the session)


@dataclasses.dataclass
class Outcome:
    """What a handler hands back to the page."""

    ok: bool
    status: str
    state: SessionState
    figure: Any = None
    video: str | None = None
    files: list[str] = dataclasses.field(default_factory=list)
    sections: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    description_text: str | None = None
    controls: MusicControls | None = None


def section_choices(plan: Any) -> list[tuple[str, str]]:
    """Dropdown choices ``(label, "a-b")`` for the plan's sections (bars 0-based, end exclusive)."""
    out = []
    for i, s in enumerate(plan.sections):
        label = (f"{i + 1}. {s.label}: bars {s.start_bar + 1}-{s.end_bar} "
                 f"({s.start_s:.1f}-{s.end_s:.1f} s)")
        out.append((label, f"{s.start_bar}-{s.end_bar}"))
    return out


def _fmt_limit(s: float) -> str:
    s = float(s)
    if s >= 60 and s % 60 == 0:
        return f"{s / 60:g} min"
    return f"{s:g} s"


def _fmt_time(s: float) -> str:
    m, sec = divmod(float(s), 60.0)
    return f"{int(m)}:{sec:04.1f}"


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
                f"{self.ui.max_upload_mb:g} MB and {_fmt_limit(self.max_duration_s)} long.")

    def pipeline(self, config: PipelineConfig, job: _Job | None = None) -> Any:
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
    def _heavy(self, state: SessionState, progress: ProgressCb) -> Iterator[_Job]:
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
                yield _Job(self.ui.job_time_limit_s)
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

    def check_text(self, text: str | None) -> None:
        """Refuse an edited description longer than ``UIConfig.max_text_chars`` (before any work)."""
        n = len(text or "")
        if n > int(self.ui.max_text_chars):
            raise OptionError(f"the description is {n} characters long; this page accepts up to "
                              f"{int(self.ui.max_text_chars)} (describe the music in a few words)")

    def check_upload(self, video_path: str | os.PathLike[str] | None,
                     still_duration_s: Any = None) -> dict[str, Any]:
        """Refuse what the page does not take; return the probed video's info as a dict.

        A still image (PNG, JPEG, ...) is accepted with ``still_duration_s`` (the page's
        "Music length for a still image" field): the music gets that length.

        Raises
        ------
        InputError
            No file, too big, not a video / corrupt (from ``video.probe``), too long.
        """
        if not video_path:
            raise InputError("no video uploaded: drop a video file in the upload box")
        path = Path(video_path)
        if not path.is_file():
            raise InputError(f"uploaded file not found: {path.name}")
        size_mb = path.stat().st_size / 1e6
        if size_mb > self.ui.max_upload_mb:
            raise InputError(f"{path.name} is {size_mb:.1f} MB; this page accepts videos up to "
                             f"{self.ui.max_upload_mb:g} MB")
        if path.stat().st_size == 0:
            raise InputError(f"{path.name} is empty (0 bytes)")
        from videobgm.features.still import IMAGE_SUFFIXES

        if path.suffix.lower() in IMAGE_SUFFIXES:
            d = _still_duration(still_duration_s, self.max_duration_s)
            return {"path": str(path), "duration_s": d, "width": 0, "height": 0, "fps": 0.0,
                    "still_image": True}
        from videobgm.video import decode as video_mod
        try:
            info = video_mod.probe(path, self.config.video)
        except VideobgmError:
            raise
        except Exception as exc:  # a decoder error on a corrupt file is the user's input, say so
            log.info("probe failed for %s: %r", path, exc)
            raise InputError(f"{path.name} is not a readable video (corrupt or unsupported)") from exc
        if not info.duration_s > 0:
            raise InputError(f"{path.name} has no video frames")
        if info.duration_s > self.max_duration_s:
            raise InputError(f"{path.name} is {info.duration_s:.1f} s long; this page accepts "
                             f"videos up to {_fmt_limit(self.max_duration_s)} (use the "
                             f"`videobgm score` command for longer ones)")
        return info.to_dict()

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
            info = self.check_upload(video_path, still_duration_s)
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
        what = (f"still image, music of {_fmt_time(info['duration_s'])}" if info.get("still_image")
                else f"{_fmt_time(info['duration_s'])}, {info['width']}x{info['height']} at "
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
                self.check_text(description_text)  # first: a huge text is refused at once
        except VideobgmError as exc:
            return Outcome(False, f"**Generation failed:** {exc}", state)
        if state.features is None or not state.video_path:
            return Outcome(False, "**Nothing to score:** upload a video first.", state)
        base_text = (state.description.text or "").strip() if state.description else ""
        if state.proposed is not None and (description_text or "").strip() != base_text:
            controls = controls.unchanged_as_auto(state.proposed)  # the edited words decide
        try:
            cfg = controls.apply(self.config)
            description = self._description(state, description_text, controls)
            with self._heavy(state, progress) as job:
                pipe = self.pipeline(cfg, job)
                progress(0.05, desc="planning")
                plan = pipe.plan(state.features, description=description)
                progress(0.2, desc=f"composing {plan.n_bars} bars")
                score = pipe.compose(plan)
                result = Result(features=state.features, plan=plan, score=score,
                                description=getattr(plan, "description", None) or description)
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

    def _description(self, state: SessionState, text: str | None,
                     controls: MusicControls) -> Description | None:
        """The description to plan from: the edited text (parsed) with the controls on top."""
        base = state.description
        text = (text or "").strip()
        if not text and base is None:
            return None
        desc = base
        if base is None or text != (base.text or "").strip():
            desc = _parse_text(text, int(self.ui.max_text_chars)) if text else None
            if desc is None:
                desc = Description(text=text, source="edited")
            elif base is not None:
                # keep the video-derived timing (sections, energy) that the text does not carry
                desc = dataclasses.replace(
                    desc, sections=desc.sections or base.sections,
                    energy_curve=desc.energy_curve or base.energy_curve, source="edited",
                )
        overrides = {k: v for k, v in (
            ("mood", controls.mood), ("style", controls.style), ("tempo_bpm", controls.tempo_bpm),
            ("key", controls.key), ("mode", controls.mode),
            ("instruments", list(controls.instruments) if controls.instruments else None),
        ) if v is not None}
        return dataclasses.replace(desc, **overrides) if overrides else desc


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


def _parse_text(text: str, max_chars: int | None = None) -> Description | None:
    try:
        from videobgm.bridges.resolve import parse_description
    except ImportError:
        return None
    return parse_description(text, max_prompt_chars=max_chars)


def _still_duration(value: Any, max_s: float) -> float:
    """The page's "music length for a still image" field, checked."""
    try:
        d = float(value)
    except (TypeError, ValueError):
        d = float("nan")
    if not 0.0 < d <= max_s:  # also refuses NaN
        raise OptionError(f"a still image needs a music length: set \"Music length for a still "
                          f"image\" to 1..{max_s:g} seconds (got {value!r})")
    return d


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
