"""[7] Score / MIDI -> audio: soundfont synthesis fitted to the video.

Default backend: ``tinysoundfont`` (a pip wheel, no system packages) with the General MIDI
soundfont that ships inside the ``pretty_midi`` wheel (``pretty_midi/TimGM6mb.sf2``). Optional:
FluidSynth through ``pyfluidsynth`` (only when importable) and a user soundfont path.

Mastering, in order: the synthesised audio is cut or zero-padded to exactly ``duration_s``,
loudness-normalised to ``RenderConfig.target_lufs`` (ITU-R BS.1770-4 gated loudness, computed
chunk by chunk with SciPy so memory stays bounded; identical to pyloudnorm's), limited to a
-1 dBFS peak by a plain gain, and given a raised-cosine fade-in and fade-out. Rendering is sample-accurate and deterministic: the same
input gives the same samples.
"""

from __future__ import annotations

import importlib.util
import math
import os
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.config import RenderConfig
from videobgm.errors import InputError, MissingDependencyError, OptionError
from videobgm.fileio import atomic_path
from videobgm.types import TRACKS, Score

BACKENDS = ("auto", "tinysoundfont", "fluidsynth")
PEAK_LIMIT = 10 ** (-1.0 / 20)  # -1 dBFS
DRUM_CHANNEL = 9
# Per-track mixing gains (linear): accompaniment a little under the melody.
TRACK_GAIN = {"melody": 1.0, "bridge": 0.7, "piano": 0.75, "bass": 0.8, "drums": 0.6}

# one event: (time_s, order, kind, channel, key, velocity); order puts note-offs before note-ons
Event = tuple[float, int, str, int, int, int]


# ----------------------------------------------------------------------------------------------
# soundfont and backend
# ----------------------------------------------------------------------------------------------
def default_soundfont() -> Path:
    """Path of the GM soundfont inside the installed ``pretty_midi`` package (not imported)."""
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("pretty_midi", "pip install pretty_midi (it ships TimGM6mb.sf2)")
    path = Path(next(iter(spec.submodule_search_locations))) / "TimGM6mb.sf2"
    if not path.is_file():
        raise MissingDependencyError("the GM soundfont TimGM6mb.sf2", f"not found at {path}")
    return path


def resolve_soundfont(cfg: RenderConfig) -> Path:
    """The soundfont to use: ``cfg.soundfont`` (must exist) or :func:`default_soundfont`."""
    if cfg.soundfont:
        p = Path(cfg.soundfont).expanduser()
        if not p.is_file():
            raise InputError(f"soundfont not found: {p}")
        if p.suffix.lower() not in (".sf2", ".sf3"):
            raise InputError(f"soundfont must be an .sf2/.sf3 file, got {p.name}")
        return p
    return default_soundfont()


def resolve_backend(cfg: RenderConfig) -> str:
    """``"tinysoundfont"`` or ``"fluidsynth"`` for ``cfg.backend`` (refusing unavailable ones)."""
    b = str(cfg.backend).lower()
    if b not in BACKENDS:
        raise OptionError(f"unknown render backend {cfg.backend!r}; accepted: {', '.join(BACKENDS)}")
    if b == "fluidsynth":
        if importlib.util.find_spec("fluidsynth") is None:
            raise MissingDependencyError("the FluidSynth backend",
                                         "pip install pyfluidsynth (and the fluidsynth library)")
        return b
    if importlib.util.find_spec("tinysoundfont") is None:
        if b == "auto" and importlib.util.find_spec("fluidsynth") is not None:
            return "fluidsynth"
        raise MissingDependencyError("the tinysoundfont backend", "pip install tinysoundfont")
    return "tinysoundfont"


def _check_cfg(cfg: RenderConfig) -> None:
    if not (8000 <= int(cfg.sample_rate) <= 192000):
        raise OptionError(f"sample rate must be 8000..192000 Hz, got {cfg.sample_rate}")
    if not (-70.0 <= float(cfg.target_lufs) <= 0.0):
        raise OptionError(f"target loudness must be -70..0 LUFS, got {cfg.target_lufs}")
    if cfg.fade_in_s < 0 or cfg.fade_out_s < 0:
        raise OptionError("fade lengths must be >= 0 s")


# ----------------------------------------------------------------------------------------------
# events
# ----------------------------------------------------------------------------------------------
def _events_from_score(score: Score, tracks: Sequence[str] | None) -> tuple[list[Event], dict[int, tuple[int, bool, float]]]:
    """Note events in seconds from the Score's own grid (``score.step_times()``)."""
    st = score.step_times()
    last = st.size - 1
    # extend the grid past the end with the last step length (notes that ring past the last bar)
    step_len = float(st[-1] - st[-2]) if st.size > 1 else 60.0 / score.tempo_bpm / 4

    def t_of(step: int) -> float:
        return float(st[step]) if step <= last else float(st[-1] + (step - last) * step_len)

    names = [t for t in TRACKS if t in {n.track for n in score.notes}]
    names += sorted({n.track for n in score.notes} - set(names))
    if tracks is not None:
        names = [t for t in names if t in tracks]
    channels: dict[str, int] = {}
    setup: dict[int, tuple[int, bool, float]] = {}
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    for t in names:
        if t == "drums":
            ch = DRUM_CHANNEL
            setup[ch] = (0, True, TRACK_GAIN["drums"])
        else:
            if not free:
                raise InputError("more than 15 pitched tracks; cannot assign MIDI channels")
            ch = free.pop(0)
            setup[ch] = (int(score.programs.get(t, 0)) % 128, False, TRACK_GAIN.get(t, 0.8))
        channels[t] = ch
    events: list[Event] = []
    for n in score.notes:
        if n.track not in channels or n.onset_16th < 0:
            continue
        ch = channels[n.track]
        on, off = t_of(n.onset_16th), t_of(n.onset_16th + max(1, n.duration_16th))
        vel = int(np.clip(n.velocity, 1, 127))
        events.append((on, 1, "on", ch, int(np.clip(n.pitch, 0, 127)), vel))
        events.append((off, 0, "off", ch, int(np.clip(n.pitch, 0, 127)), 0))
    return events, setup


def _events_from_midi(pm: Any, tracks: Sequence[str] | None) -> tuple[list[Event], dict[int, tuple[int, bool, float]]]:
    """Note events from a ``pretty_midi.PrettyMIDI`` (one channel per instrument, drums on 10)."""
    events: list[Event] = []
    setup: dict[int, tuple[int, bool, float]] = {}
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    prog_channel: dict[tuple[int, bool], int] = {}
    for inst in pm.instruments:
        name = (inst.name or "").strip().lower()
        if tracks is not None and name not in tracks:
            continue
        key = (int(inst.program), bool(inst.is_drum))
        if inst.is_drum:
            ch = DRUM_CHANNEL
        elif key in prog_channel:
            ch = prog_channel[key]
        elif free:
            ch = free.pop(0)
        else:  # more instruments than channels: share the last one
            ch = 15
        prog_channel[key] = ch
        setup.setdefault(ch, (int(inst.program), bool(inst.is_drum), TRACK_GAIN.get(name, 0.8)))
        for n in inst.notes:
            events.append((float(n.start), 1, "on", ch, int(np.clip(n.pitch, 0, 127)), int(np.clip(n.velocity, 1, 127))))
            events.append((float(n.end), 0, "off", ch, int(np.clip(n.pitch, 0, 127)), 0))
    return events, setup


def _load_events(score_or_midi: Any, tracks: Sequence[str] | None):  # noqa: ANN202
    if isinstance(score_or_midi, Score):
        return _events_from_score(score_or_midi, tracks)
    if isinstance(score_or_midi, (str, os.PathLike)):
        p = Path(score_or_midi)
        if not p.is_file():
            raise InputError(f"MIDI file not found: {p}")
        import pretty_midi

        try:
            pm = pretty_midi.PrettyMIDI(str(p))
        except Exception as exc:  # noqa: BLE001 - any parse failure is a bad input file
            raise InputError(f"cannot read MIDI file {p.name}: {exc}") from None
        return _events_from_midi(pm, tracks)
    if hasattr(score_or_midi, "instruments"):
        return _events_from_midi(score_or_midi, tracks)
    raise InputError(f"cannot render a {type(score_or_midi).__name__}; give a Score, PrettyMIDI or MIDI path")


# ----------------------------------------------------------------------------------------------
# synthesis
# ----------------------------------------------------------------------------------------------
def _synth_tinysoundfont(events: list[Event], setup: dict[int, tuple[int, bool, float]],
                         n_samples: int, sr: int, soundfont: Path) -> np.ndarray:
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=sr, gain=-3.0)
    try:
        sfid = synth.sfload(str(soundfont))
    except (tinysoundfont.SoundFontException, OSError, RuntimeError) as exc:
        raise InputError(f"cannot load soundfont {soundfont.name}: {exc}") from None
    for ch, (prog, drums, gain) in setup.items():
        try:
            synth.program_select(ch, sfid, 128 if drums else 0, 0 if drums else prog, is_drums=drums)
        except RuntimeError:  # preset missing from this soundfont: fall back to bank 0 / piano
            synth.program_select(ch, sfid, 0, 0, is_drums=drums)
        synth.control_change(ch, 7, int(round(127 * min(1.0, gain))))  # channel volume
    out = np.zeros((n_samples, 2), dtype=np.float32)
    pos = 0
    for t, _, kind, ch, key, vel in sorted(events):
        at = min(n_samples, max(0, int(round(t * sr))))
        if at > pos:
            buf = synth.generate_simple(at - pos)
            out[pos:at] = np.frombuffer(buf, dtype=np.float32).reshape(-1, 2)
            pos = at
        if at >= n_samples:
            break
        if kind == "on":
            synth.noteon(ch, key, vel)
        else:
            synth.noteoff(ch, key)
    if pos < n_samples:
        buf = synth.generate_simple(n_samples - pos)
        out[pos:] = np.frombuffer(buf, dtype=np.float32).reshape(-1, 2)
    return out


def _synth_fluidsynth(events: list[Event], setup: dict[int, tuple[int, bool, float]],
                      n_samples: int, sr: int, soundfont: Path) -> np.ndarray:  # pragma: no cover
    import fluidsynth

    fs = fluidsynth.Synth(samplerate=float(sr))
    sfid = fs.sfload(str(soundfont))
    for ch, (prog, drums, gain) in setup.items():
        fs.program_select(ch, sfid, 128 if drums else 0, 0 if drums else prog)
        fs.cc(ch, 7, int(round(127 * min(1.0, gain))))
    chunks, pos = [], 0
    for t, _, kind, ch, key, vel in sorted(events):
        at = min(n_samples, max(0, int(round(t * sr))))
        if at > pos:
            chunks.append(np.asarray(fs.get_samples(at - pos), dtype=np.float32))
            pos = at
        if at >= n_samples:
            break
        if kind == "on":
            fs.noteon(ch, key, vel)
        else:
            fs.noteoff(ch, key)
    if pos < n_samples:
        chunks.append(np.asarray(fs.get_samples(n_samples - pos), dtype=np.float32))
    fs.delete()
    x = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return (x.reshape(-1, 2) / 32768.0).astype(np.float32)


def _synthesize(score_or_midi: Any, duration_s: float, cfg: RenderConfig,
                tracks: Sequence[str] | None = None) -> np.ndarray:
    _check_cfg(cfg)
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise OptionError(f"audio duration must be > 0 s, got {duration_s}")
    backend = resolve_backend(cfg)
    soundfont = resolve_soundfont(cfg)
    events, setup = _load_events(score_or_midi, tracks)
    sr = int(cfg.sample_rate)
    n = int(round(duration_s * sr))
    fn = _synth_fluidsynth if backend == "fluidsynth" else _synth_tinysoundfont
    return fn(events, setup, n, sr, soundfont)


# ----------------------------------------------------------------------------------------------
# mastering
# ----------------------------------------------------------------------------------------------
def _k_weighting(fs: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """ITU-R BS.1770 K-weighting at ``fs`` (high shelf +4 dB at 1.5 kHz, high-pass at 38 Hz),
    RBJ biquads with the parameters pyloudnorm uses."""
    out = []
    for kind, gain_db, q, fc in (("shelf", 4.0, 1 / math.sqrt(2), 1500.0), ("hp", 0.0, 0.5, 38.0)):
        a_ = 10 ** (gain_db / 40)
        w0 = 2 * math.pi * fc / fs
        alpha, cw = math.sin(w0) / (2 * q), math.cos(w0)
        if kind == "shelf":
            sq = 2 * math.sqrt(a_) * alpha
            b = [a_ * ((a_ + 1) + (a_ - 1) * cw + sq), -2 * a_ * ((a_ - 1) + (a_ + 1) * cw),
                 a_ * ((a_ + 1) + (a_ - 1) * cw - sq)]
            a = [(a_ + 1) - (a_ - 1) * cw + sq, 2 * ((a_ - 1) - (a_ + 1) * cw),
                 (a_ + 1) - (a_ - 1) * cw - sq]
        else:
            b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
            a = [1 + alpha, -2 * cw, 1 - alpha]
        out.append((np.array(b) / a[0], np.array(a) / a[0]))
    return out


def loudness_lufs(audio: np.ndarray, sample_rate: int, *, chunk_s: float = 10.0) -> float:
    """Integrated loudness (ITU-R BS.1770-4, gated) of ``audio`` (n, channels) in LUFS.

    Filtered chunk by chunk (filter state carried over), so memory stays bounded for long audio;
    agrees with pyloudnorm within 0.01 LU. -inf when silent or shorter than one 400 ms block.
    """
    from scipy.signal import lfilter

    x = np.asarray(audio)
    if x.ndim == 1:
        x = x[:, None]
    sr = int(sample_rate)
    hop = int(round(0.1 * sr))  # 100 ms sub-blocks; a 400 ms block = 4 of them (75 % overlap)
    if x.size == 0 or x.shape[0] < 4 * hop or not np.any(x):
        return -math.inf
    filters = _k_weighting(sr)
    state = [np.zeros((2, x.shape[1])) for _ in filters]
    step = max(1, int(chunk_s * sr) // hop) * hop
    sub = []  # per sub-block mean square, (n_sub, channels)
    for start in range(0, x.shape[0], step):
        y = x[start:start + step].astype(np.float64)
        for k, (b, a) in enumerate(filters):
            y, state[k] = lfilter(b, a, y, axis=0, zi=state[k])
        m = y.shape[0] // hop
        if m:
            sub.append((y[: m * hop] ** 2).reshape(m, hop, -1).mean(axis=1))
    z_sub = np.concatenate(sub)
    n_blocks = z_sub.shape[0] - 3
    z = (z_sub[:-3] + z_sub[1:-2] + z_sub[2:-1] + z_sub[3:]) / 4 if n_blocks > 0 else z_sub[:0]
    power = z.sum(axis=1)  # channel weights 1 (L, R)
    with np.errstate(divide="ignore"):
        blk = -0.691 + 10 * np.log10(power)
    keep = blk > -70.0
    if not keep.any():
        return -math.inf
    rel = -0.691 + 10 * math.log10(float(power[keep].mean())) - 10.0
    keep &= blk > rel
    return -0.691 + 10 * math.log10(float(power[keep].mean()))


def _apply_fades(x: np.ndarray, sr: int, fade_in_s: float, fade_out_s: float) -> None:
    """Raised-cosine fade-in/out applied in place to the edges of ``x`` (n, channels)."""
    n = x.shape[0]
    fi = min(n // 2, int(round(fade_in_s * sr)))
    fo = min(n // 2, int(round(fade_out_s * sr)))
    if fi > 0:
        x[:fi] *= (0.5 - 0.5 * np.cos(np.pi * np.arange(fi) / fi)).astype(np.float32)[:, None]
    if fo > 0:
        x[n - fo:] *= (0.5 + 0.5 * np.cos(np.pi * (np.arange(fo) + 1) / fo)).astype(np.float32)[:, None]


def master_gain(audio: np.ndarray, cfg: RenderConfig) -> float:
    """Linear gain that brings ``audio`` to ``cfg.target_lufs`` with the peak at most -1 dBFS."""
    lufs = loudness_lufs(audio, int(cfg.sample_rate))
    if not math.isfinite(lufs):
        return 1.0
    gain = 10 ** ((float(cfg.target_lufs) - lufs) / 20)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak * gain > PEAK_LIMIT:
        gain = PEAK_LIMIT / peak
    return float(gain)


def _master(raw: np.ndarray, cfg: RenderConfig, gain: float | None) -> tuple[np.ndarray, float]:
    """Gain, fades and clipping, in place on ``raw`` (float32, owned by the caller)."""
    g = master_gain(raw, cfg) if gain is None else gain
    raw *= np.float32(g)
    _apply_fades(raw, int(cfg.sample_rate), cfg.fade_in_s, cfg.fade_out_s)
    np.clip(raw, -1.0, 1.0, out=raw)
    return raw, g


def render_audio(score_or_midi: Any, duration_s: float, cfg: RenderConfig, *,
                 tracks: Sequence[str] | None = None) -> np.ndarray:
    """Synthesise music to exactly ``duration_s`` seconds of mastered stereo audio.

    Parameters
    ----------
    score_or_midi : Score, pretty_midi.PrettyMIDI or path
        The music. A :class:`Score` is timed by its own beat grid (``score.step_times()``) and
        played with ``score.programs`` (drums on the GM percussion channel).
    duration_s : float
        Output length in seconds (the video's duration): longer music is cut, shorter padded.
    cfg : RenderConfig
        Sample rate, backend, soundfont, loudness target and fades.
    tracks : sequence of str, optional
        Render only these tracks (Score track names / MIDI instrument names).

    Returns
    -------
    ndarray of float32, shape (round(duration_s * sample_rate), 2)
        Samples in [-1, 1].

    Raises
    ------
    InputError
        Missing/unreadable MIDI or soundfont file.
    OptionError
        Invalid backend, sample rate, loudness target or duration.
    MissingDependencyError
        The requested backend is not installed.
    """
    raw = _synthesize(score_or_midi, duration_s, cfg, tracks)
    return _master(raw, cfg, None)[0]


def write_wav(audio: np.ndarray, sample_rate: int, path: str | os.PathLike[str]) -> Path:
    """Write float audio (n, channels) in [-1, 1] as 16-bit PCM WAV, atomically; return the path."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] not in (1, 2):
        raise OptionError(f"audio must have shape (n,) or (n, 1|2), got {x.shape}")
    pcm = np.round(np.clip(x, -1.0, 1.0) * 32767).astype("<i2")
    with atomic_path(path) as tmp:
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(x.shape[1])
            w.setsampwidth(2)
            w.setframerate(int(sample_rate))
            w.writeframes(pcm.tobytes())
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
                    cfg: RenderConfig) -> list[Path]:
    """Write one WAV per track of ``score`` (``TRACK.wav``) into ``out_dir``.

    Every stem gets the gain of the full mix (so the stems sum to the mix before clipping) and
    the same fades. Returns the written paths in :data:`TRACKS` order.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptionError(f"cannot create stems directory {out}: {exc.strerror}") from None
    mix_raw = _synthesize(score, duration_s, cfg)
    gain = master_gain(mix_raw, cfg)
    present = [t for t in TRACKS if any(n.track == t for n in score.notes)]
    paths = []
    for t in present:
        audio, _ = _master(_synthesize(score, duration_s, cfg, tracks=[t]), cfg, gain)
        paths.append(write_wav(audio, int(cfg.sample_rate), out / f"{t}.wav"))
    return paths
