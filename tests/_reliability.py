"""Helpers and fixtures of the reliability tests (bad, odd and hostile inputs end in a result or one clean line).

The contract (docs/reliability.md):

- library calls (``video.probe``, ``features.extract_features``, ``midi.read_midi``) return a valid
  object or raise :class:`~videobgm.errors.InputError` with a one-line message; nothing else;
- the CLI exits 0 with a valid output, or exits 2 with exactly one line on stderr (no traceback);
- nothing half-written is ever visible at a final output path (only the ``.NAME.part.*`` temp).

The tests: video decoding in tests/video/test_decode.py, MIDI reading in tests/music/test_midi.py,
the CLI in tests/apps/cli/test_main.py, the whole pipeline in tests/test_reliability.py; the
fixtures below reach them through tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

from tests.conftest import POP909, SHARED_VIDEOS
from videobgm.config import FeaturesConfig, VideoConfig
from videobgm.errors import InputError, VideobgmError
from videobgm.testing import synthetic_videos as synth

VCFG = VideoConfig(analysis_fps=15.0, analysis_max_side=96)


FCFG = FeaturesConfig()


FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


HEAVY = settings(max_examples=300, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


TINY = ["--preset", "tiny", "--untrained"]


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: int):
    """Fail (instead of hanging the suite) when the block runs longer than ``seconds``."""

    def handler(signum, frame):  # noqa: ANN001, ARG001
        raise Hang(f"no answer after {seconds} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def assert_one_line(msg: str) -> None:
    assert msg and "\n" not in msg and "Traceback" not in msg, msg


def cli(*args: str, timeout: float = 240, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "videobgm", "-q", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def assert_cli_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 2, exactly one stderr line starting 'videobgm: error:', no traceback."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("videobgm: error: "), proc.stderr[-2000:]
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def _outcome(exc: InputError, path: Path) -> str:
    """Check the one-line message and reduce it to its kind (for hypothesis statistics)."""
    msg = str(exc)
    assert_one_line(msg)
    return "error: " + msg.replace(str(path), "FILE").split(" (")[0].split(": FILE")[0]


def check_video(path: Path) -> str:
    """probe + features: a consistent result ('ok') or a one-line InputError ('error: ...')."""
    from videobgm.features.analyze import extract_features
    from videobgm.video import decode as video
    try:
        with time_limit(60):
            info = video.probe(path, VCFG)
            assert info.duration_s > 0 and info.width > 0 and info.height > 0 and info.fps > 0
            f = extract_features(path, FCFG, VCFG)
    except InputError as exc:
        return _outcome(exc, path)
    t = f.frame_times_s
    n = t.shape[0]
    assert n >= 1 and np.all(np.isfinite(t)) and np.all(np.diff(t) > 0)
    for name in ("motion_speed", "saliency", "brightness", "saturation", "warmth"):
        arr = getattr(f, name)
        assert arr.shape == (n,) and np.all(np.isfinite(arr)), name
    assert f.hue_hist.shape == (n, 12)
    assert np.all((f.visual_beat_times_s >= 0) & (f.visual_beat_times_s <= info.duration_s + 1.0))
    return "ok"


def valid_mp4(path: Path) -> tuple[float, bool]:
    """(video duration s, has audio) of a complete, decodable MP4; raises if it is not."""
    import av

    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        n = sum(1 for _ in c.decode(vs))
        has_audio = bool(c.streams.audio)
        dur = float(c.duration / 1e6) if c.duration else 0.0
    assert n > 0
    return dur, has_audio


def tolerant_frames(path: Path) -> int:
    """Video frames that decode, skipping packets the decoder rejects (damaged input data)."""
    import av

    n = 0
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        for pkt in c.demux(vs):
            try:
                n += len(pkt.decode())
            except av.FFmpegError:
                continue
    return n


def check_scored_copy(src: Path, out: Path) -> None:
    """``out`` is complete: audio decodes fully, and its (copied) video stream yields as many
    frames as the damaged input's does."""
    import av

    with av.open(str(out)) as c:
        assert c.streams.video and c.streams.audio
        assert sum(f.samples for f in c.decode(audio=0)) > 0
    assert tolerant_frames(out) >= tolerant_frames(src) - 2


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except FileNotFoundError:
        return 0


def visible_files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if not p.name.startswith("."))


# ----------------------------------------------------------------------------------------------
# sample files (real content where ../shared is present, synthetic otherwise)
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("rel")


@pytest.fixture(scope="module")
def sample_video(files) -> bytes:
    """2 s excerpt of a real sample video at 192 px (or a synthetic clip), as bytes."""
    import av

    out = files / "sample.mp4"
    src = SHARED_VIDEOS / "bottle-detection.mp4"
    if not src.exists():
        synth.write_video(out, synth.hard_cut(cut_times_s=[1.0], width=192, height=108),
                          duration_s=2.0, fps=15.0, width=192, height=108)
        return out.read_bytes()
    frames = []
    with av.open(str(src)) as c:
        for fr in c.decode(video=0):
            if fr.time is not None and fr.time >= 2.0:
                break
            frames.append(fr.to_ndarray(format="rgb24", width=192, height=108))
    synth.write_video(out, lambda t: frames[min(len(frames) - 1, int(t * 15))], duration_s=2.0,
                      fps=15.0, width=192, height=108, audio_tone_hz=330.0)
    return out.read_bytes()


@pytest.fixture(scope="module")
def sample_midi(files) -> bytes:
    src = POP909 / "001" / "001.mid"
    if src.exists():
        return src.read_bytes()
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=100)
    inst = pretty_midi.Instrument(0, name="PIANO")
    inst.notes = [pretty_midi.Note(90, 60 + (i % 12), i * 0.3, i * 0.3 + 0.25) for i in range(64)]
    pm.instruments.append(inst)
    pm.write(str(files / "s.mid"))
    return (files / "s.mid").read_bytes()


def write_vfr(path: Path, *, duration_s: float = 4.0, seed: int = 0) -> np.ndarray:
    """H.264 with irregular frame intervals (20..100 ms, 1 ms time base); returns the pts (s)."""
    import av

    rng = np.random.default_rng(seed)
    fn = synth.oscillating_square(period_s=1.0, width=160, height=120, size=20)
    pts, t = [], 0
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        s.options = {"preset": "ultrafast"}
        while t < duration_s * 1000:
            f = av.VideoFrame.from_ndarray(fn(t / 1000), format="rgb24")
            f.pts, f.time_base = t, Fraction(1, 1000)
            for p in s.encode(f):
                out.mux(p)
            pts.append(t / 1000)
            t += int(rng.choice([20, 33, 50, 100]))
        for p in s.encode():
            out.mux(p)
    return np.asarray(pts)


def write_audio_only(path: Path, seconds: float = 1.0) -> None:
    import av

    with av.open(str(path), "w") as out:
        a = out.add_stream("aac", rate=44100)
        a.layout = "mono"
        for start in range(0, int(44100 * seconds), 1024):
            x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(start, start + 1024) / 44100)).astype(np.float32)
            fr = av.AudioFrame.from_ndarray(x[None], format="fltp", layout="mono")
            fr.sample_rate, fr.pts = 44100, start
            for p in a.encode(fr):
                out.mux(p)
        for p in a.encode():
            out.mux(p)


def set_mp4_rotation(path: Path, degrees_cw: int) -> None:
    """Write the display matrix of the video track's ``tkhd`` box (what phones do) in place."""
    m = {90: (0, 1, -1, 0), 180: (-1, 0, 0, -1), 270: (0, -1, 1, 0)}[degrees_cw]
    data = bytearray(path.read_bytes())
    i = data.find(b"tkhd")
    assert i > 0
    version = data[i + 4]
    matrix_at = i + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
    a, b, c, d = (v * 0x10000 for v in m)
    data[matrix_at:matrix_at + 36] = struct.pack(">9i", a, b, 0, c, d, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))


def marker_frames(width: int = 160, height: int = 96):
    """A frame with a white block in the top-left corner (to see which way it was turned)."""
    img = np.full((height, width, 3), 20, np.uint8)
    img[: height // 4, : width // 4] = 240
    return lambda t: img


MEASURE = r"""
import json, sys
from videobgm.video import decode as video
from videobgm.config import FeaturesConfig, VideoConfig
from videobgm.features.analyze import extract_features
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

vcfg = VideoConfig(analysis_fps=float(sys.argv[2]), analysis_max_side=int(sys.argv[3]))
video.probe(sys.argv[4], vcfg); extract_features(sys.argv[4], FeaturesConfig(), vcfg)  # imports, caches
before = status("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
info = video.probe(sys.argv[1], vcfg)
f = extract_features(sys.argv[1], FeaturesConfig(), vcfg)
print(json.dumps({"duration_s": info.duration_s, "width": info.width, "height": info.height,
                  "n": int(f.frame_times_s.size), "rss_before_mb": before,
                  "peak_growth_mb": status("VmHWM:") - before}))
"""


def measure(path: Path, warm: Path, fps: float = 15.0, side: int = 128) -> dict:
    """Peak memory growth (MiB) of probe + features on ``path``, after a warm-up run on ``warm``."""
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path), str(fps), str(side), str(warm)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------
# fuzzed and truncated videos (hypothesis mutation of a real sample)
# ----------------------------------------------------------------------------------------------
def _flip(data: bytes, flips: list[tuple[float, int]], region: str) -> bytes:
    b = bytearray(data)
    lo, hi = {"all": (0, len(b)), "head": (0, min(len(b), 4096)),
              "tail": (max(0, len(b) - 4096), len(b))}[region]
    for pos, val in flips:
        b[lo + int(pos * (hi - lo - 1))] ^= val
    return bytes(b)


# (position in [0, 1], xor mask): single-bit flips and random bytes
flips_st = st.lists(st.tuples(st.floats(0, 1), st.one_of(st.integers(0, 7).map(lambda k: 1 << k),
                                                          st.integers(1, 255))), min_size=1, max_size=40)


@pytest.fixture(scope="module")
def sample_faststart(files, sample_video) -> bytes:
    """The sample remuxed with the index (moov) first, as streaming sites serve MP4."""
    import av

    (files / "s_in.mp4").write_bytes(sample_video)
    with av.open(str(files / "s_in.mp4")) as src, av.open(
            str(files / "s_fast.mp4"), "w", options={"movflags": "faststart"}) as dst:
        m = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for pkt in src.demux():
            if pkt.dts is not None:
                pkt.stream = m[pkt.stream.index]
                dst.mux(pkt)
    data = (files / "s_fast.mp4").read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    return data


# ----------------------------------------------------------------------------------------------
# end to end through the CLI (real pipeline, tiny preset)
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def short_clip(files) -> Path:
    return synth.write_video(files / "clip.mp4", synth.oscillating_square(period_s=1.0, width=160, height=96,
                                                                          size=16),
                             duration_s=3.0, fps=15.0, width=160, height=96)


def _score_damaged(tmp_path: Path, data: bytes, pipeline, *, suffix: str = ".mp4",  # noqa: ANN001
                   out_suffix: str = ".mp4") -> None:
    """Score damaged bytes: a complete scored copy or one clean line and no output, never a crash."""
    import tempfile

    d = Path(tempfile.mkdtemp(dir=tmp_path))  # hypothesis reuses tmp_path across examples
    src = d / f"damaged{suffix}"
    src.write_bytes(data)
    out = d / "o" / f"scored{out_suffix}"
    try:
        with time_limit(120):
            pipeline.run(src, out)
    except VideobgmError as exc:
        assert_one_line(str(exc))
        assert not out.exists()
        event("error: " + str(exc).replace(str(src), "FILE").split(" (")[0][:60])
        return
    check_scored_copy(src, out)
    event("ok")
