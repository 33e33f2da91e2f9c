"""Bad input files for the video/analyze tests (each must be refused with one line, exit 2)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def _tiny_mp4(path: Path, n: int = 30, *, faststart: bool = False) -> Path:
    import av

    opts = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=opts) as out:
        vs = out.add_stream("libx264", rate=Fraction(30))
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        for i in range(n):
            img = np.full((48, 64, 3), (i * 8) % 256, np.uint8)
            for pkt in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
    return path


def make_bad_inputs(folder: Path) -> dict[str, Path]:
    """Write one file per kind of bad input into ``folder``; return {kind: path}."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {"missing": folder / "does_not_exist.mp4"}

    text = folder / "notes.mp4"
    text.write_text("this is a text file, not a video\n" * 20)
    files["text"] = text

    empty = folder / "empty.mp4"
    empty.write_bytes(b"")
    files["zero_bytes"] = empty

    zero = folder / "zero_frames.mp4"  # a valid container that holds no frame at all
    out = av.open(str(zero), "w")
    vs = out.add_stream("libx264", rate=30)
    vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
    out.start_encoding()
    out.close()
    files["zero_length"] = zero

    audio = folder / "tone.m4a"
    with av.open(str(audio), "w") as out:
        aus = out.add_stream("aac", rate=22050)
        aus.layout = "mono"
        for start in range(0, 22050, 1024):
            x = (0.2 * np.sin(2 * np.pi * 440 * (start + np.arange(1024)) / 22050)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(x[None, :], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 22050, start
            for pkt in aus.encode(frame):
                out.mux(pkt)
        for pkt in aus.encode():
            out.mux(pkt)
    files["audio_only"] = audio

    good = _tiny_mp4(folder / "good.mp4")
    data = good.read_bytes()
    trunc = folder / "truncated.mp4"  # moov atom at the end is cut off
    trunc.write_bytes(data[: len(data) // 2])
    files["truncated"] = trunc

    fast = _tiny_mp4(folder / "faststart.mp4", faststart=True)
    fdata = fast.read_bytes()
    cut = fdata.index(b"mdat") + 8
    corrupt = folder / "corrupt_payload.mp4"  # header intact, frame data replaced by garbage
    rng = np.random.default_rng(0)
    corrupt.write_bytes(fdata[:cut] + rng.integers(0, 256, len(fdata) - cut, dtype=np.uint8).tobytes())
    files["corrupt_payload"] = corrupt

    rand = folder / "random.mp4"
    rand.write_bytes(rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    files["random_bytes"] = rand

    codec = folder / "unknown_codec.mp4"  # fourcc patched to one no decoder knows
    assert data.count(b"avc1") >= 1
    codec.write_bytes(data.replace(b"avc1", b"zzz9"))
    files["unknown_codec"] = codec
    return files
