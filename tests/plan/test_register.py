"""The melody's register arc from the sections' energies (plan/register.py)."""

import numpy as np

from videobgm.plan.register import register_arc
from videobgm.types import Section


def _secs(*spec):
    return [Section(a, b, f"s{i}", float(a), float(b), e) for i, (a, b, e) in enumerate(spec)]


def test_energetic_section_sits_higher_and_centred_on_melody_bars():
    arc = register_arc(_secs((0, 4, 0.2), (4, 8, 0.9)), 8)
    assert arc.shape == (8,)
    assert arc[4:].min() > arc[:4].max()  # the whole energetic section above the calm one
    assert abs(arc.mean()) < 1e-9
    assert 4.0 <= arc.max() - arc.min() <= 7.0  # about SPAN_SEMITONES plus the small arch
    mel = np.arange(8) >= 2
    assert abs(register_arc(_secs((0, 4, 0.2), (4, 8, 0.9)), 8, mel)[mel].mean()) < 1e-9


def test_peak_is_placed_late():
    arc = register_arc(_secs((0, 4, 0.3), (4, 8, 0.9), (8, 12, 0.3), (12, 16, 0.9), (16, 18, 0.3)), 18)
    assert 12 <= int(np.argmax(arc)) < 16  # of two equally energetic sections, the later one
    assert arc[12:16].mean() > arc[4:8].mean() > arc[:4].mean()
    assert np.argmax(arc[12:16]) >= 2  # inside the section: the arch rises to its last third


def test_no_contrast_no_arc():
    assert register_arc(_secs((0, 4, 0.5), (4, 8, 0.5)), 8) is None
    assert register_arc([], 8) is None


def test_melody_register_is_the_tessitura_plus_the_arc():
    from videobgm.plan.register import TESSITURA_MIDI, melody_register
    flat = melody_register(_secs((0, 4, 0.5), (4, 8, 0.5)), 8)
    assert np.array_equal(flat, np.full(8, TESSITURA_MIDI))
    reg = melody_register(_secs((0, 4, 0.2), (4, 8, 0.9)), 8, centre_midi=70.0)
    arc = register_arc(_secs((0, 4, 0.2), (4, 8, 0.9)), 8)
    assert np.allclose(reg, 70.0 + arc)
    assert reg[4:].min() > 70.0 > reg[:4].max()
