"""Local web UI over :class:`~videobgm.pipeline.Pipeline` (Gradio): ``videobgm ui``.

A creator uploads a video, sees its features (motion, visual beats, cuts, colour) with the planned
sections, edits the music description and controls, presses Generate, previews the scored video
and downloads MP4 / WAV / MIDI / stems; then regenerates only the bars they dislike (the rest is
kept note for note, ``Pipeline.regenerate``).

The logic lives in :class:`UIHandlers` (plain Python, no Gradio objects in or out except the
progress callback), so it is unit-tested without a browser; :func:`build_app` only lays out the
page and wires events to it. Gradio is imported inside functions: importing this module is cheap.

Long work reports progress per stage (``gr.Progress``) and runs through Gradio's queue with a
concurrency limit (:class:`~videobgm.config.UIConfig`), so extra users wait in line instead of
overloading a 2-core laptop. Every user error (not a video, too long, too big, corrupt) becomes a
status message in the page; the server keeps serving.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from videobgm.apps.ui.handlers import PipelineFactory, UIHandlers, cleanup
from videobgm.apps.ui.session import AUTO, KEYS, MusicControls, Outcome, SessionState, vocabulary
from videobgm.config import PipelineConfig, UIConfig
from videobgm.errors import OptionError

__all__ = ["build_app", "launch"]


# ---------------------------------------------------------------------------------------------
# the page
# ---------------------------------------------------------------------------------------------
CSS = """
.gradio-container {max-width: 1280px !important; margin: auto;}
#vbgm-title h1 {margin-bottom: 0.1em;}
#vbgm-title p {color: var(--body-text-color-subdued); margin-top: 0;}
#vbgm-status {border-left: 4px solid var(--color-accent); padding: 0.4em 0.9em;
              background: var(--block-background-fill); border-radius: 6px; min-height: 2.6em;}
.vbgm-step h3 {margin: 0.2em 0 0.4em 0;}
"""


def _theme() -> Any:
    import gradio as gr

    return gr.themes.Soft(primary_hue="indigo", secondary_hue="amber", neutral_hue="slate")


def build_app(
    config: PipelineConfig | None = None,
    *,
    pipeline_factory: PipelineFactory | None = None,
    ui_config: UIConfig | None = None,
) -> Any:
    """Lay out the page and wire its events to :class:`UIHandlers`.

    Parameters
    ----------
    config : PipelineConfig, optional
        Base settings (default ``PipelineConfig()``); the page's controls override plan/sample.
    pipeline_factory : callable, optional
        ``config -> Pipeline`` (tests inject one building an untrained tiny model).
    ui_config : UIConfig, optional
        Upload limits, queue size and concurrency, output folder.

    Returns
    -------
    gradio.Blocks
        With the queue configured; ``app.videobgm_handlers`` is the :class:`UIHandlers`.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    config = config or PipelineConfig()
    ui = ui_config or UIConfig()
    h = UIHandlers(config, ui, pipeline_factory=pipeline_factory)
    cache = _use_own_gradio_cache(h.work_root)
    import gradio as gr

    h.store.upload_root = Path(cache)
    vocab = vocabulary()
    # Gradio lets this many heavy events into the handlers at once; the handlers run
    # ``concurrency_limit`` of them and keep the others waiting for a slot, after the fast
    # checks (text length, controls, upload size), so a bad request is refused at once.
    work = {"concurrency_limit": int(ui.concurrency_limit) + int(ui.max_queue),
            "concurrency_id": "videobgm-work"}

    # uploads and result copies in Gradio's cache expire after UIConfig.upload_ttl_s
    with gr.Blocks(title="videobgm - music for your video", analytics_enabled=False,
                   delete_cache=(max(1, int(ui.sweep_interval_s)),
                                 max(1, int(ui.upload_ttl_s)))) as demo:
        widgets = _layout(gr, h, config, ui, vocab)
        _wire(gr, h, widgets, vocab, work)

    demo.queue(max_size=int(ui.max_queue), default_concurrency_limit=int(ui.concurrency_limit))
    demo.videobgm_handlers = h
    return demo


def _layout(gr: Any, h: UIHandlers, config: PipelineConfig, ui: UIConfig,
            vocab: dict[str, tuple[str, ...]]) -> SimpleNamespace:
    """The page's components, in the open ``gr.Blocks``: upload, result, description and
    controls, regeneration. Returns them by name."""
    MOODS, STYLES, INSTRUMENTS = vocab["moods"], vocab["styles"], vocab["instruments"]  # noqa: N806
    # a session's outputs and upload are deleted when its tab closes or its state expires
    state = gr.State(SessionState(), time_to_live=float(ui.output_ttl_s),
                     delete_callback=h.end_session)
    gr.Markdown("# videobgm\nBackground music composed for your video: its motion, cuts and "
                "colours set the tempo, sections and mood. Everything runs on this computer.",
                elem_id="vbgm-title")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320, elem_classes="vbgm-step"):
            gr.Markdown("### 1 · Upload a video")
            video_in = gr.Video(label="Video", sources=["upload"], height=260,
                                elem_id="vbgm-upload")
            with gr.Accordion("…or a still image", open=False):
                image_in = gr.Image(label="Still image (PNG, JPEG, WebP)", type="filepath",
                                    sources=["upload"], height=160, elem_id="vbgm-image")
                still_len = gr.Number(value=float(ui.still_duration_s), minimum=1,
                                      maximum=h.max_duration_s,
                                      label="Music length for a still image (s)",
                                      elem_id="vbgm-still-duration")
            gr.Markdown(h.limits_text(), elem_id="vbgm-limits")
        with gr.Column(scale=3, min_width=420, elem_classes="vbgm-step"):
            gr.Markdown("### 3 · Result")
            video_out = gr.Video(label="Scored video", interactive=False, height=260,
                                 elem_id="vbgm-result")
            files_out = gr.File(label="Downloads: MP4, WAV, MIDI, stems (zip), plan",
                                file_count="multiple", interactive=False,
                                elem_id="vbgm-files")
    status = gr.Markdown("Upload a video to start.", elem_id="vbgm-status")
    plot = gr.Plot(label="Features and planned sections", show_label=False, elem_id="vbgm-plot")
    with gr.Group(elem_classes="vbgm-step"):
        gr.Markdown("### 2 · Describe the music", padding=True)
        desc = gr.Textbox(label="Description (edit freely: words like 'calm', 'piano', "
                          "'90 bpm', 'minor' are understood)", lines=3, elem_id="vbgm-desc")
        with gr.Row():
            mood = gr.Dropdown([AUTO, *MOODS], value=AUTO, label="Mood", allow_custom_value=True)
            style = gr.Dropdown([AUTO, *STYLES], value=AUTO, label="Style",
                                allow_custom_value=True)
            tempo = gr.Number(value=0, label="Tempo (BPM, 0 = auto)", minimum=0, maximum=300)
            key = gr.Dropdown([AUTO, *KEYS], value=AUTO, label="Key")
            mode = gr.Dropdown([AUTO, "major", "minor"], value=AUTO, label="Mode")
        with gr.Row():
            instruments = gr.Dropdown(list(INSTRUMENTS), value=[], multiselect=True,
                                      label="Instruments (empty = chosen by the style)", scale=3)
            density = gr.Slider(0.25, 3.0, value=config.plan.density_scale, step=0.05,
                                label="Density ×", scale=1)
            seed = gr.Number(value=config.sample.seed, precision=0, minimum=0, label="Seed",
                             scale=1)
    generate_btn = gr.Button("Generate music", variant="primary", size="lg",
                             elem_id="vbgm-generate")
    with gr.Group(elem_classes="vbgm-step"):
        gr.Markdown("### 4 · Regenerate a section (the other bars are kept note for note)",
                    padding=True)
        with gr.Row(equal_height=True):
            section = gr.Dropdown([], label="Section (fills the bar range)", value=None,
                                  scale=3, elem_id="vbgm-section")
            first_bar = gr.Number(value=1, precision=0, minimum=1, label="From bar", scale=1,
                                  elem_id="vbgm-first-bar")
            last_bar = gr.Number(value=1, precision=0, minimum=1, label="To bar", scale=1,
                                 elem_id="vbgm-last-bar")
            new_seed = gr.Number(value=config.sample.seed + 1, precision=0, minimum=0,
                                 label="New seed", scale=1)
        regen_btn = gr.Button("Regenerate these bars", variant="primary",
                              elem_id="vbgm-regenerate")

    return SimpleNamespace(
        state=state, video_in=video_in, image_in=image_in, still_len=still_len, video_out=video_out,
        files_out=files_out, status=status, plot=plot, desc=desc, mood=mood, style=style, tempo=tempo,
        key=key, mode=mode, instruments=instruments, density=density, seed=seed,
        generate_btn=generate_btn, section=section, first_bar=first_bar, last_bar=last_bar,
        new_seed=new_seed, regen_btn=regen_btn)


def _wire(gr: Any, h: UIHandlers, w: SimpleNamespace, vocab: dict[str, tuple[str, ...]],
          work: dict[str, Any]) -> None:
    """The page's events: upload (video or image), clear, generate, regenerate, section pick,
    each calling one :class:`UIHandlers` method; ``work``: the queue settings of heavy events."""
    MOODS, STYLES, INSTRUMENTS = vocab["moods"], vocab["styles"], vocab["instruments"]  # noqa: N806
    state, video_in, image_in, still_len = w.state, w.video_in, w.image_in, w.still_len
    status, plot, desc, section, video_out, files_out = w.status, w.plot, w.desc, w.section, w.video_out, w.files_out
    first_bar, last_bar, new_seed = w.first_bar, w.last_bar, w.new_seed
    mood, style, tempo, key, mode = w.mood, w.style, w.tempo, w.key, w.mode
    instruments, density, seed = w.instruments, w.density, w.seed
    generate_btn, regen_btn = w.generate_btn, w.regen_btn
    controls = [mood, style, tempo, key, mode, instruments, density, seed]

    def on_upload(video: str | None, st: SessionState, length: Any,
                  progress=gr.Progress()):  # noqa: B008
        o = h.upload(video, st, progress, still_duration_s=length)
        if not o.ok:
            gr.Warning(o.status.replace("**", ""), duration=6)
            # clear the refused file so the upload box is ready for the next one
            return (o.status, None, gr.update(), *[gr.update()] * len(controls),
                    gr.update(choices=[], value=None), None, None, o.state, None)
        c = o.controls or MusicControls()
        inst = [i for i in (c.instruments or ()) if i in INSTRUMENTS]
        return (o.status, o.figure, o.description_text,
                _choice(c.mood, MOODS), _choice(c.style, STYLES), c.tempo_bpm or 0,
                _choice(c.key, KEYS), _choice(c.mode, ("major", "minor")), inst,
                c.density_scale, c.seed,
                gr.update(choices=o.sections, value=None), None, None, o.state, gr.update())

    def on_generate(st: SessionState, text: str, mo, sty, tem, k, mde, ins, den, sd,
                    progress=gr.Progress()):  # noqa: B008
        try:
            ctrl = MusicControls.from_inputs(mo, sty, tem, k, mde, ins, den, sd)
        except (OptionError, ValueError, TypeError) as exc:
            msg = f"**Check the controls:** {exc}"
            return msg, gr.update(), gr.update(), gr.update(), gr.update(), st, gr.update(), gr.update()
        o = h.generate(st, text, ctrl, progress)
        return _result_updates(o)

    def on_regenerate(st: SessionState, a, b, sd, progress=gr.Progress()):  # noqa: B008
        o = h.regenerate(st, a, b, sd, progress)
        out = _result_updates(o)
        nxt = gr.update(value=int(sd) + 1) if o.ok else gr.update()
        return (*out, nxt)

    def _result_updates(o: Outcome):
        if not o.ok:
            gr.Warning(o.status.replace("**", ""), duration=6)
            return (o.status, gr.update(), gr.update(), gr.update(), gr.update(), o.state,
                    gr.update(), gr.update())
        keep = gr.update(choices=o.sections)
        # the description box shows what plays (the planner's values written back)
        text = o.description_text if o.description_text is not None else gr.update()
        return o.status, o.figure, o.video, o.files, keep, o.state, gr.update(), text

    def on_section(value: str | None):
        if not value:
            return gr.update(), gr.update()
        a, b = (int(x) for x in str(value).split("-"))
        return a + 1, b

    upload_outs = [status, plot, desc, *controls, section, video_out, files_out, state,
                   video_in]
    video_in.upload(on_upload, [video_in, state, still_len], upload_outs, api_name="upload",
                    show_progress_on=[plot], **work)
    image_outs = [*upload_outs[:-1], image_in]
    image_in.upload(on_upload, [image_in, state, still_len], image_outs,
                    api_name="upload_image", show_progress_on=[plot], **work)
    def on_clear(st: SessionState):
        h.end_session(st)
        return "Upload a video to start.", None, SessionState()

    video_in.clear(on_clear, [state], [status, plot, state], queue=False)
    result_outs = [status, plot, video_out, files_out, section, state, first_bar, desc]
    generate_btn.click(on_generate, [state, desc, *controls], result_outs,
                       api_name="generate", show_progress_on=[plot, video_out], **work)
    regen_btn.click(on_regenerate, [state, first_bar, last_bar, new_seed],
                    [*result_outs, new_seed], api_name="regenerate",
                    show_progress_on=[plot, video_out], **work)
    section.change(on_section, [section], [first_bar, last_bar], queue=False)


def _choice(value: str | None, choices: tuple[str, ...]) -> str:
    """Widget value for ``value``: itself if offered, else a case-insensitive match, else auto."""
    if not value:
        return AUTO
    for c in choices:
        if c.lower() == str(value).lower():
            return c
    return str(value)


def launch(
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    config: PipelineConfig | None = None,
    ui_config: UIConfig | None = None,
    pipeline_factory: PipelineFactory | None = None,
    block: bool = True,
    quiet: bool = False,
) -> Any:
    """Build the app and serve it at ``http://host:port``.

    Parameters
    ----------
    host, port : str, int
        Where to listen (``0.0.0.0`` to serve the local network).
    config, ui_config, pipeline_factory
        As in :func:`build_app`.
    block : bool
        Serve until interrupted (True) or return at once with the server running in a thread.
    quiet : bool
        Do not print the URL banner.

    Returns
    -------
    gradio.Blocks
        The running app (``app.close()`` stops it).
    """
    ui = ui_config or UIConfig()
    demo = build_app(config, pipeline_factory=pipeline_factory, ui_config=ui)
    h = demo.videobgm_handlers
    try:
        demo.launch(
            server_name=host, server_port=int(port), share=False, inbrowser=False,
            prevent_thread_lock=True, quiet=quiet, show_error=True, ssr_mode=False,
            max_file_size=f"{int(ui.max_upload_mb * 1e6)}b" if ui.max_upload_mb else None,
            allowed_paths=[str(h.work_root)], footer_links=[],
            theme=_theme(), css=CSS,
        )
    except OSError as exc:
        raise OptionError(f"cannot serve on {host}:{port}: {exc}") from None
    sweeper = _Sweeper(h, float(ui.sweep_interval_s))
    sweeper.start()
    close = demo.close

    def close_and_sweep(verbose: bool = True) -> None:
        sweeper.stop()
        close(verbose)

    demo.close = close_and_sweep
    if block:
        # SIGTERM (systemd, docker stop) stops the server like Ctrl-C, so the outputs and the
        # cache are removed on the way out (the batch runner's handler, main thread only)
        from videobgm.errors import sigterm_raises

        with sigterm_raises(KeyboardInterrupt):
            try:
                demo.block_thread()
            finally:
                demo.close()
                # Gradio's cache (uploads, result copies) always goes with the server; the
                # outputs too unless they were asked for in --work-dir
                cleanup(h, outputs=ui.work_dir is None)
    return demo


class _Sweeper:
    """Calls ``UIHandlers.sweep`` every ``interval_s`` in a daemon thread (expiry and quota)."""

    def __init__(self, handlers: UIHandlers, interval_s: float) -> None:
        import threading

        self.handlers, self.interval_s = handlers, max(1.0, float(interval_s))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="videobgm-ui-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        import logging

        while not self._stop.wait(self.interval_s):
            try:
                removed = self.handlers.sweep()
            except OSError as exc:  # a vanished folder: try again next time
                logging.getLogger(__name__).warning("sweep failed: %s", exc)
                continue
            if removed:
                logging.getLogger(__name__).info("swept %d expired/over-quota path(s)", len(removed))


_OWN_CACHE_ENV = "_VIDEOBGM_UI_GRADIO_CACHE"


def _use_own_gradio_cache(work_root: Path) -> str:
    """Point Gradio's upload/result cache at ``<work root>/gradio-cache`` (removed at shutdown),
    unless the user chose one with ``GRADIO_TEMP_DIR``; return the cache folder."""
    current = os.environ.get("GRADIO_TEMP_DIR")
    if current and current != os.environ.get(_OWN_CACHE_ENV):
        return current  # the user's own choice: used, never deleted
    cache = str(Path(work_root) / "gradio-cache")
    os.environ["GRADIO_TEMP_DIR"] = os.environ[_OWN_CACHE_ENV] = cache
    return cache
