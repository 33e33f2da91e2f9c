"""mux.py on synthetic videos: stream copy, AAC length, replace/mix/duck, safety."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from videobgm.audio.mux import mux
from videobgm.config import MuxConfig
from videobgm.errors import InputError, OptionError

SR = 44100


@pytest.fixture(scope="module")
def tone_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s video with an original audio track: a 440 Hz tone."""
    from videobgm.testing import synthetic_videos as synth
    d = tmp_path_factory.mktemp("mux")
    return synth.write_video(d / "tone.mp4", synth.oscillating_square(period_s=1.0),
                             duration_s=3.0, audio_tone_hz=440, width=160, height=120)


def music(seconds: float, hz: float = 220.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.stack([x, x], axis=1)


def packets(path: Path, kind: str) -> list[tuple[int | None, bytes]]:
    import av

    with av.open(str(path)) as c:
        st = c.streams.video[0] if kind == "video" else c.streams.audio[0]
        return [(p.pts, bytes(p)) for p in c.demux(st) if p.size]


def decode_audio(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        st = c.streams.audio[0]
        assert st.codec_context.name == "aac"
        chunks = [f.to_ndarray() for f in c.decode(st)]
    return np.concatenate(chunks, axis=1).T  # (n, channels)


def tone_level(x: np.ndarray, hz: float) -> float:
    """Amplitude of the ``hz`` component of mono ``x`` (Hann-windowed DFT)."""
    w = np.hanning(x.size)
    spec = np.abs(np.fft.rfft(x * w)) * 2 / w.sum()
    f = np.fft.rfftfreq(x.size, 1 / SR)
    k = int(np.argmin(np.abs(f - hz)))
    return float(spec[k - 2:k + 3].max())


def test_video_stream_is_copied_and_audio_is_aac_of_video_length(square_video: dict, tmp_path: Path) -> None:
    out = tmp_path / "scored.mp4"
    dur = square_video["duration_s"]
    info = mux(square_video["path"], music(dur + 1.0), SR, out, MuxConfig())  # longer music is cut
    assert info["video_copied"] and info["original_audio"] == "replace"
    assert packets(out, "video") == packets(square_video["path"], "video")  # bit-identical packets
    audio = decode_audio(out)
    assert abs(audio.shape[0] / SR - dur) <= 0.05
    assert audio.shape[1] == 2
    mid = audio[int(1 * SR):int(9 * SR), 0]
    assert tone_level(mid, 220) > 0.2
    # shorter music is padded with silence up to the video's length
    out2 = tmp_path / "short.mp4"
    mux(square_video["path"], music(2.0), SR, out2, MuxConfig())
    a2 = decode_audio(out2)
    assert abs(a2.shape[0] / SR - dur) <= 0.05
    assert np.sqrt(np.mean(a2[int(4 * SR):] ** 2)) < 1e-3


def test_replace_mix_duck(tone_video: Path, tmp_path: Path) -> None:
    levels = {}
    for mode in ("replace", "mix", "duck"):
        out = tmp_path / f"{mode}.mp4"
        info = mux(tone_video, music(3.0), SR, out, MuxConfig(original_audio=mode, original_level=0.5,
                                                              duck_level=0.25))
        assert info["original_audio"] == mode
        a = decode_audio(out)[int(0.8 * SR):int(2.5 * SR), 0]
        levels[mode] = (tone_level(a, 220), tone_level(a, 440))
        assert packets(out, "video") == packets(tone_video, "video")
    music_r, orig_r = levels["replace"]
    music_m, orig_m = levels["mix"]
    music_d, orig_d = levels["duck"]
    assert music_r > 0.25 and orig_r < 0.01  # original dropped
    assert abs(music_m - music_r) < 0.03 and abs(orig_m - 0.15) < 0.03  # 0.3 tone x 0.5
    # the original tone is on all the time, so the music sits at the duck level throughout
    assert abs(music_d / music_m - 0.25) < 0.05 and abs(orig_d - orig_m) < 0.03


def test_mix_without_original_audio_falls_back(square_video: dict, tmp_path: Path) -> None:
    info = mux(square_video["path"], music(12.0), SR, tmp_path / "o.mp4", MuxConfig(original_audio="mix"))
    assert info["original_audio"] == "replace" and "no audio" in info["notes"][0]


def test_refuses_output_equal_to_input(tone_video: Path, tmp_path: Path) -> None:
    before = tone_video.read_bytes()
    with pytest.raises(OptionError, match="is the input"):
        mux(tone_video, music(3.0), SR, tone_video, MuxConfig())
    other = Path(os.path.relpath(tone_video, Path.cwd()))  # another spelling of the same file
    with pytest.raises(OptionError, match="is the input"):
        mux(tone_video, music(3.0), SR, other, MuxConfig())
    link = tmp_path / "link.mp4"
    link.symlink_to(tone_video)
    with pytest.raises(OptionError, match="is the input"):
        mux(tone_video, music(3.0), SR, link, MuxConfig())
    assert tone_video.read_bytes() == before


@pytest.mark.parametrize("kw,exc,needle", [
    ({"original_audio": "blend"}, OptionError, "accepted: replace, mix, duck"),
    ({"original_level": -1.0}, OptionError, "original level"),
    ({"audio_bitrate": 10}, OptionError, "bitrate"),
])
def test_bad_options(tone_video: Path, tmp_path: Path, kw: dict, exc: type, needle: str) -> None:
    with pytest.raises(exc, match=needle):
        mux(tone_video, music(3.0), SR, tmp_path / "x.mp4", MuxConfig(**kw))
    assert not (tmp_path / "x.mp4").exists()


def test_bad_paths(tone_video: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        mux(tmp_path / "nope.mp4", music(1.0), SR, tmp_path / "x.mp4", MuxConfig())
    with pytest.raises(OptionError, match="accepted: .mp4"):
        mux(tone_video, music(1.0), SR, tmp_path / "x.avi", MuxConfig())
    audio_only = tmp_path / "audio.m4a"
    import av

    with av.open(str(audio_only), "w", format="mp4") as c:
        st = c.add_stream("aac", rate=SR)
        st.layout = "stereo"
        for k in range(0, SR, 1024):
            fr = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
            fr.sample_rate, fr.pts = SR, k
            for p in st.encode(fr):
                c.mux(p)
        for p in st.encode():
            c.mux(p)
    with pytest.raises(InputError, match="no video stream"):
        mux(audio_only, music(1.0), SR, tmp_path / "x.mp4", MuxConfig())
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(InputError):
        mux(bad, music(1.0), SR, tmp_path / "x.mp4", MuxConfig())
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            with pytest.raises(OptionError, match="not writable"):
                mux(tone_video, music(3.0), SR, ro / "x.mp4", MuxConfig())
        finally:
            ro.chmod(0o700)


def test_interrupted_write_leaves_no_file(tone_video: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import videobgm.audio.mux as m

    real = m._encode_until
    calls = {"n": 0}

    def interrupt(*a, **k):  # noqa: ANN002, ANN003, ANN202
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(m, "_encode_until", interrupt)
    out = tmp_path / "out" / "scored.mp4"
    with pytest.raises(KeyboardInterrupt):
        mux(tone_video, music(3.0), SR, out, MuxConfig())
    assert calls["n"] == 3
    assert list(out.parent.iterdir()) == []


def test_rotation_metadata_is_kept(tmp_path: Path) -> None:
    """A phone-style display matrix (tkhd) on the input survives the stream copy."""
    import struct

    from videobgm.config import VideoConfig
    from videobgm.testing import synthetic_videos as synth
    from videobgm.video import decode as video

    src = synth.write_video(tmp_path / "rot.mp4", synth.static(width=160, height=96),
                            duration_s=1.0, width=160, height=96)
    data = bytearray(src.read_bytes())
    i = data.find(b"tkhd")
    at = i + 4 + 4 + (32 if data[i + 4] == 1 else 20) + 8 + 8
    data[at:at + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)  # 90 deg
    src.write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    mux(src, music(1.0), SR, out, MuxConfig())
    a, b = video.probe(src, VideoConfig()), video.probe(out, VideoConfig())
    assert a.rotation_deg == 90
    assert (b.rotation_deg, b.width, b.height) == (a.rotation_deg, a.width, a.height)
