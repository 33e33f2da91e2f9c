"""bridges/text.py: the description in words."""

from __future__ import annotations

from tests.bridges.test_describe import make_features
from videobgm.bridges.describe import describe
from videobgm.bridges.text import format_description, mmss


def test_format_lists_every_reason():
    d = describe(make_features())
    out = format_description(d)
    assert out.startswith(d.text)
    assert all(k in out for k in d.reasons)


def test_mmss_known_answers():
    assert mmss(75.3) == "1:15" and mmss(0) == "0:00" and mmss(-3) == "0:00"
