"""[7] Score / MIDI -> audio: a performed, mixed and mastered soundfont rendering of the music.

This module owns the synthesis (one stem per track), the mix/master call, the stems and the WAV
files; the soundfont and backend are chosen by :mod:`videobgm.audio.soundfont`.

A :class:`Score` is first performed (:mod:`videobgm.audio.perform`: per-style timing, velocities,
sustain pedal; hit points stay exact), then every track is synthesised on its own (one stem per
track, one soundfont load per process), then mixed and mastered (:mod:`videobgm.audio.master`: high-pass,
gain staging, pan, reverb, bus compression, fades, loudness to ``RenderConfig.target_lufs`` with
a true-peak ceiling). The processed stems add up to the mix. The output is cut or zero-padded to
exactly ``duration_s``; rendering is deterministic (same input and seed, same samples).

Music longer than :data:`STREAM_ABOVE_S` is rendered and mastered in chunks with the audio on
disk (:mod:`videobgm.audio.stream`; the same chain, same results up to float rounding and the
synthesiser's chunk cuts), so memory does not grow with length; the mix and stems are then
``DiskAudio`` objects read by slices (``write_wav`` and ``mux.mux`` take them as they are).

The per-track events come from :mod:`videobgm.audio.events`; tinysoundfont gets them with the
sustain pedal applied (:func:`~videobgm.audio.events.with_pedal`, it ignores CC64), FluidSynth gets
the CC64 events themselves. Other control changes of a MIDI file (volume, pan, expression) are
passed to the synthesiser.
"""

from __future__ import annotations

import math
import os
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.audio.events import Event, TrackEvents, load_events, with_pedal
from videobgm.audio.soundfont import choose_soundfont, loaded_synth, resolve_backend
from videobgm.config import RenderConfig
from videobgm.errors import InputError, OptionError
from videobgm.io import atomic_path
from videobgm.types import TRACKS, Plan, Score

STREAM_ABOVE_S = 240.0  # longer music is rendered and mastered in chunks on disk (flat memory)


def _check_cfg(cfg: RenderConfig) -> None:
    if not (8000 <= int(cfg.sample_rate) <= 192000):
        raise OptionError(f"sample rate must be 8000..192000 Hz, got {cfg.sample_rate}")
    if not (-70.0 <= float(cfg.target_lufs) <= 0.0):
        raise OptionError(f"target loudness must be -70..0 LUFS, got {cfg.target_lufs}")
    if not (-20.0 <= float(cfg.true_peak_dbtp) <= 0.0):
        raise OptionError(f"true-peak ceiling must be -20..0 dBTP, got {cfg.true_peak_dbtp}")
    if cfg.fade_in_s < 0 or cfg.fade_out_s < 0:
        raise OptionError("fade lengths must be >= 0 s")


# ----------------------------------------------------------------------------------------------
# synthesis
# ----------------------------------------------------------------------------------------------


def _play(events: list[Event], n_samples: int, sr: int, generate: Any, send: Any) -> np.ndarray:
    """Run ``events`` (sorted) through a synthesiser: ``generate(k)`` -> (k, 2) float32 samples,
    ``send(kind, channel, key, value)`` for each event at its sample."""
    out = np.zeros((n_samples, 2), dtype=np.float32)
    pos = 0
    for t, _, kind, ch, key, vel in events:
        at = min(n_samples, max(0, int(round(t * sr))))
        if at > pos:
            out[pos:at] = generate(at - pos)
            pos = at
        if at >= n_samples:
            break
        send(kind, ch, key, vel)
    if pos < n_samples:
        out[pos:] = generate(n_samples - pos)
    return out


def _synth_tinysoundfont(track_events: TrackEvents, n_samples: int, sr: int, soundfont: Path,
                         disk_step: int | None = None) -> dict[str, Any]:
    """One stem per track: (n, 2) arrays, or with ``disk_step`` (videobgm.audio.disk.DiskAudio, per-channel
    sum) pairs synthesised to disk ``disk_step`` rows at a time."""
    st = soundfont.stat()
    synth, sfid, lock = loaded_synth(str(soundfont), st.st_mtime_ns, st.st_size, sr)

    def generate(k: int) -> np.ndarray:
        return np.frombuffer(synth.generate_simple(k), dtype=np.float32).reshape(-1, 2)

    def send(kind: str, ch: int, key: int, vel: int) -> None:
        if kind == "on":
            synth.noteon(ch, key, vel)
        elif kind == "off":
            synth.noteoff(ch, key)
        else:
            synth.control_change(ch, key, vel)

    stems: dict[str, np.ndarray] = {}
    with lock:
        for track, (events, setup) in track_events.items():
            _reset(synth)
            for ch, (prog, drums) in setup.items():
                try:
                    synth.program_select(ch, sfid, 128 if drums else 0, 0 if drums else prog, is_drums=drums)
                except RuntimeError:  # preset missing from this soundfont: fall back to bank 0 / piano
                    synth.program_select(ch, sfid, 0, 0, is_drums=drums)
            if disk_step is None:
                stems[track] = _play(with_pedal(events), n_samples, sr, generate, send)
            else:
                from videobgm.audio.disk import DiskAudio
                from videobgm.audio.stream import play_to_disk

                out = DiskAudio(n_samples)
                stems[track] = (out, play_to_disk(with_pedal(events), out, sr, generate, send, disk_step))
        _reset(synth)
    return stems


def _reset(synth: Any) -> None:
    """Back to the state of a fresh load: tsf's reset only starts a quick release of the playing
    voices, so a short silence is rendered (and dropped) to let them end."""
    for sf in synth.soundfonts.values():
        sf.reset()
    synth.generate_simple(int(synth.samplerate * 0.2))


def _synth_fluidsynth(track_events: TrackEvents, n_samples: int, sr: int,
                      soundfont: Path) -> dict[str, np.ndarray]:  # pragma: no cover
    import fluidsynth

    stems: dict[str, np.ndarray] = {}
    for track, (events, setup) in track_events.items():
        fs = fluidsynth.Synth(samplerate=float(sr))
        sfid = fs.sfload(str(soundfont))
        for ch, (prog, drums) in setup.items():
            fs.program_select(ch, sfid, 128 if drums else 0, 0 if drums else prog)

        def generate(k: int, fs: Any = fs) -> np.ndarray:
            return (np.asarray(fs.get_samples(k), dtype=np.float32).reshape(-1, 2) / 32768.0)

        def send(kind: str, ch: int, key: int, vel: int, fs: Any = fs) -> None:
            {"on": lambda: fs.noteon(ch, key, vel), "off": lambda: fs.noteoff(ch, key),
             "cc": lambda: fs.cc(ch, key, vel)}[kind]()

        stems[track] = _play(sorted(events), n_samples, sr, generate, send)  # FluidSynth does CC64
        fs.delete()
    return stems


# ----------------------------------------------------------------------------------------------
# render = perform + synthesise + master
# ----------------------------------------------------------------------------------------------
@dataclass
class Rendered:
    """A render: the mastered mix (n, 2) float32 in [-1, 1], the processed stems (track ->
    (n, 2), summing to the mix) when asked for, and ``info`` (bank, backend, style, mastering
    report) with ``notes`` (one line each: the bank used, fallbacks)."""

    mix: Any  # ndarray, or a videobgm.audio.disk.DiskAudio for a streamed (long) render
    stems: dict[str, Any] | None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def notes(self) -> list[str]:
        return list(self.info.get("notes", []))


def render(score_or_midi: Any, duration_s: float, cfg: RenderConfig, *,
           tracks: Sequence[str] | None = None, plan: Plan | None = None,
           stems: bool = False, stream: bool | None = None) -> Rendered:
    """Perform, synthesise, mix and master the music to exactly ``duration_s`` seconds.

    Parameters
    ----------
    score_or_midi : Score, pretty_midi.PrettyMIDI or path
        The music. A :class:`Score` is timed by its own beat grid (``score.step_times()``) and
        played with ``score.programs`` (drums on the GM percussion channel).
    duration_s : float
        Output length in seconds (the video's duration): longer music is cut, shorter padded.
    cfg : RenderConfig
        Sample rate, backend, soundfont, loudness target, true-peak ceiling, fades.
    tracks : sequence of str, optional
        Render only these tracks (Score track names / MIDI instrument names).
    plan : Plan, optional
        The plan of a Score: its style (performance and mix), hit points (accent steps and section
        starts, kept exact), sections (phrase arcs) and seed. Without it: pop, no hit points.
    stems : bool
        Also return the processed stems.
    stream : bool, optional
        Render and master in chunks with the audio on disk (:mod:`videobgm.audio.stream`: flat
        memory; the mix and stems are then ``DiskAudio``, read by slices). Default: for music
        longer than :data:`STREAM_ABOVE_S` with the tinysoundfont backend.

    Raises
    ------
    InputError
        Missing/unreadable MIDI or soundfont file, or a bank name that is not installed.
    OptionError
        Invalid backend, sample rate, loudness target or duration.
    MissingDependencyError
        The requested backend is not installed.
    """
    from videobgm.audio.master import Mastered, master, pedalboard_available
    from videobgm.audio.meters import melody_band_hz
    from videobgm.audio.perform import style_performance

    _check_cfg(cfg)
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise OptionError(f"audio duration must be > 0 s, got {duration_s}")
    backend = resolve_backend(cfg)
    bank = choose_soundfont(cfg, backend)
    track_events, perf = load_events(score_or_midi, tracks, plan, cfg)
    sr = int(cfg.sample_rate)
    n = int(round(duration_s * sr))
    if stream is None:
        stream = n > STREAM_ABOVE_S * sr
    stream = bool(stream) and backend == "tinysoundfont"
    settings = perf.settings if perf is not None else style_performance(None)
    if perf is not None:
        pitches = [p.pitch for p in perf.notes if p.track == "melody"]
    else:
        pitches = [ev[4] for ev in track_events.get("melody", ([], {}))[0] if ev[2] == "on"]
    if stream:
        from videobgm.audio.stream import CHUNK_S, master_stream

        pairs = _synth_tinysoundfont(track_events, n, sr, bank.path, disk_step=int(CHUNK_S * sr))
        del track_events
        mix, out_stems, report = master_stream({t: p[0] for t, p in pairs.items()},
                                               {t: p[1] for t, p in pairs.items()}, sr, cfg, settings,
                                               band_hz=melody_band_hz(pitches), keep_stems=stems)
        done = Mastered(mix, out_stems, report)
    else:
        fn = _synth_fluidsynth if backend == "fluidsynth" else _synth_tinysoundfont
        raw = fn(track_events, n, sr, bank.path)
        done = master(raw, sr, cfg, settings, band_hz=melody_band_hz(pitches), keep_stems=stems)
    notes = [bank.describe()] + ([bank.note] if bank.note else [])
    if not pedalboard_available():
        notes.append("pedalboard not installed: mastering without reverb, SciPy high-pass "
                     "(pip install pedalboard)")
    info = {"soundfont": str(bank.path), "bank": bank.label, "backend": backend,
            "style": perf.style if perf is not None else None,
            "humanize": bool(cfg.humanize and perf is not None),
            "mastering": "pedalboard" if pedalboard_available() else "scipy (no reverb)",
            "streamed": stream, **{k: _finite(v) for k, v in done.report.items()}, "notes": notes}
    if not stream:  # (the streamed mix is clipped as it is written)
        np.clip(done.mix, -1.0, 1.0, out=done.mix)
    return Rendered(done.mix, done.stems, info)


def _finite(v: Any) -> Any:
    """Report values for JSON: floats rounded to 0.01, non-finite ones None."""
    if isinstance(v, float):
        return round(v, 2) if math.isfinite(v) else None
    return v


def render_audio(score_or_midi: Any, duration_s: float, cfg: RenderConfig, *,
                 tracks: Sequence[str] | None = None, plan: Plan | None = None) -> np.ndarray:
    """The mastered mix of :func:`render`: float32 (round(duration_s * sample_rate), 2) in [-1, 1]."""
    return render(score_or_midi, duration_s, cfg, tracks=tracks, plan=plan).mix


def write_wav(audio: Any, sample_rate: int, path: str | os.PathLike[str]) -> Path:
    """Write float audio (n, channels) in [-1, 1] as 16-bit PCM WAV, atomically; return the path.
    ``audio``: an array, or a ``videobgm.audio.disk.DiskAudio`` (written a chunk at a time)."""
    from videobgm.audio.disk import is_disk

    x = audio if is_disk(audio) else np.asarray(audio, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] not in (1, 2):
        raise OptionError(f"audio must have shape (n,) or (n, 1|2), got {x.shape}")
    step = 1 << 18
    with atomic_path(path) as tmp:
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(x.shape[1])
            w.setsampwidth(2)
            w.setframerate(int(sample_rate))
            for a in range(0, x.shape[0], step):
                c = np.asarray(x[a:a + step], dtype=np.float64)
                w.writeframes(np.round(np.clip(c, -1.0, 1.0) * 32767).astype("<i2").tobytes())
    return Path(path)


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM WAV as float32 (n, channels) in [-1, 1] and its sample rate."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise InputError(f"only 16-bit PCM WAV is supported: {path}")
        sr, ch = w.getframerate(), w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return (data.reshape(-1, ch).astype(np.float32) / 32767.0), sr


def write_stem_wavs(score: Score, out_dir: str | os.PathLike[str], duration_s: float,
                    cfg: RenderConfig, *, plan: Plan | None = None,
                    rendered: Rendered | None = None) -> list[Path]:
    """Write one WAV per track of ``score`` (``TRACK.wav``) into ``out_dir``.

    The stems went through the mix's chain (same gains, compression, limiting and fades, each with
    its own reverb send), so they add up to the mix. ``rendered``: a :func:`render` result with
    stems to write (else the score is rendered). Returns the paths in :data:`TRACKS` order.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptionError(f"cannot create stems directory {out}: {exc.strerror}") from None
    if rendered is None or rendered.stems is None:
        rendered = render(score, duration_s, cfg, plan=plan, stems=True)
    assert rendered.stems is not None
    present = [t for t in TRACKS if t in rendered.stems] + sorted(set(rendered.stems) - set(TRACKS))
    return [write_wav(rendered.stems[t], int(cfg.sample_rate), out / f"{t}.wav") for t in present]
