"""Fuzzed and truncated MKV (H.264 + AAC) and WebM (VP9 + Opus) files (issue 13).

The same contract and mutations as the MP4 fuzz in ``test_reliability.py`` (byte flips anywhere /
in the head / in the tail, truncation): probe + features give a consistent result or one
``InputError`` line; the whole pipeline gives a complete output (copied or re-encoded into
.mp4/.mov/.mkv/.webm) or one clean line and no file. Hypothesis runs are derandomized.
Default tier: 20 analysis examples (both containers) and 4 whole-pipeline ones; ``VIDEOBGM_SLOW=1``: 150 + 150
analysis and 80 whole-pipeline examples (both containers).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests._reliability import _flip, _score_damaged, check_video, flips_st

_COMMON = {"deadline": None, "derandomize": True,
           "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}
FUZZ = settings(max_examples=20, **_COMMON)
HEAVY = settings(max_examples=150, **_COMMON)
PIPE = settings(max_examples=4, **_COMMON)
PIPE_HEAVY = settings(max_examples=80, **_COMMON)
KINDS = {"mkv": ("matroska", "libx264", "aac"), "webm": ("webm", "libvpx-vp9", "libopus")}


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, bytes]:
    """2 s, 160x96, 15 fps: a moving square with a cut, and a 330 Hz tone, in MKV and WebM."""
    import av
    import numpy as np

    from videobgm.testing import synthetic_videos as synth
    d = tmp_path_factory.mktemp("fuzzc")
    sq = synth.oscillating_square(period_s=0.8, width=160, height=96, size=16)
    out = {}
    for ext, (fmt, vcodec, acodec) in KINDS.items():
        p = d / f"sample.{ext}"
        with av.open(str(p), "w", format=fmt, options={"fflags": "+bitexact"}) as c:  # same bytes
            vs = c.add_stream(vcodec, rate=15)
            vs.width, vs.height, vs.pix_fmt = 160, 96, "yuv420p"
            rate = 48000
            aus = c.add_stream(acodec, rate=rate)
            aus.layout = "mono"
            for i in range(30):
                img = sq(i / 15) if i < 15 else 255 - sq(i / 15)
                for pkt in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    c.mux(pkt)
            for k in range(0, 2 * rate, 960):
                x = (0.2 * np.sin(2 * np.pi * 330 * (k + np.arange(960)) / rate)).astype(np.float32)
                fr = av.AudioFrame.from_ndarray(x[None], format="fltp", layout="mono")
                fr.sample_rate, fr.pts = rate, k
                for pkt in aus.encode(fr):
                    c.mux(pkt)
            for s in (vs, aus):
                for pkt in s.encode():
                    c.mux(pkt)
        assert check_video(p) == "ok"
        out[ext] = p.read_bytes()
    return out


def _analyse(tmp_path: Path, data: bytes, kind: str) -> str:
    p = tmp_path / f"fuzzed.{kind}"
    p.write_bytes(data)
    return check_video(p)


containers = st.sampled_from(sorted(KINDS))
outputs = st.sampled_from([".mp4", ".mov", ".mkv", ".webm"])


@FUZZ
@given(kind=containers, flips=flips_st, region=st.sampled_from(["all", "head", "tail"]),
       frac=st.floats(0.05, 1))
def test_fuzz_mkv_webm_analysis(tmp_path, samples, kind, flips, region, frac):
    data = samples[kind]
    event(f"{kind}: {_analyse(tmp_path, _flip(data[: max(1, int(frac * len(data)))], flips, region), kind)}")


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
@HEAVY
@given(flips=flips_st, region=st.sampled_from(["all", "head", "tail"]), frac=st.floats(0.05, 1))
def test_fuzz_analysis_heavy(tmp_path, samples, kind, flips, region, frac):
    data = samples[kind]
    event(_analyse(tmp_path, _flip(data[: max(1, int(frac * len(data)))], flips, region), kind))


def _pipeline_case(tmp_path, samples, pipe, kind, flips, frac, ext) -> None:  # noqa: ANN001
    data = samples[kind]
    _score_damaged(tmp_path, _flip(data[: max(1, int(frac * len(data)))], flips, "all"), pipe,
                   suffix=f".{kind}", out_suffix=ext)


@PIPE
@given(kind=containers, flips=st.lists(st.tuples(st.floats(0.1, 1), st.integers(1, 255)), min_size=1,
                                       max_size=20), frac=st.floats(0.5, 1), ext=outputs)
def test_fuzz_mkv_webm_whole_pipeline(tmp_path, samples, tiny_pipeline, kind, flips, frac, ext):
    _pipeline_case(tmp_path, samples, tiny_pipeline, kind, flips, frac, ext)


@pytest.mark.slow
@PIPE_HEAVY
@given(kind=containers, flips=flips_st, frac=st.floats(0.3, 1), ext=outputs)
def test_fuzz_mkv_webm_whole_pipeline_heavy(tmp_path, samples, tiny_pipeline, kind, flips, frac, ext):
    _pipeline_case(tmp_path, samples, tiny_pipeline, kind, flips, frac, ext)
