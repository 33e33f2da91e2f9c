"""soundfont.py: which General MIDI bank a render uses (a user path, a bank name, the preference
order per backend, the TimGM6mb fallback) and that a bad file is refused."""

from __future__ import annotations

import pytest

from tests.audio.test_render import CFG, SR, rms, song
from videobgm.audio import soundfont
from videobgm.audio.render import render, render_audio
from videobgm.audio.soundfont import choose_soundfont, default_soundfont
from videobgm.config import RenderConfig
from videobgm.errors import InputError


def test_soundfont_ships_with_pretty_midi() -> None:
    assert default_soundfont().stat().st_size > 1_000_000


def test_user_soundfont_path(tmp_path) -> None:  # noqa: ANN001
    import shutil

    sf = tmp_path / "my.sf2"
    shutil.copy(default_soundfont(), sf)
    a = render_audio(song(), 2.0, RenderConfig(sample_rate=SR, soundfont=str(sf)))
    assert a.tobytes() == render_audio(song(), 2.0, CFG).tobytes()
    txt = tmp_path / "x.txt"
    txt.write_text("not a soundfont")
    with pytest.raises(InputError, match=".sf2"):
        render_audio(song(), 2.0, RenderConfig(soundfont=str(txt)))
    junk = tmp_path / "junk.sf2"
    junk.write_bytes(b"RIFF" + bytes(100))
    with pytest.raises(InputError, match="cannot load soundfont"):
        render_audio(song(), 2.0, RenderConfig(soundfont=str(junk)))


def test_bank_choice_order_and_fallback_note(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """FluidR3_GM > MuseScore General > TimGM6mb (MuseScore first with FluidSynth); a user path or
    bank name wins; none installed -> TimGM6mb and a note."""
    muse, fluid = tmp_path / "MuseScore_General.sf3", tmp_path / "FluidR3_GM.sf2"
    banks = (("musescore", "MuseScore General", (str(muse),)), ("fluidr3", "FluidR3_GM", (str(fluid),)))
    monkeypatch.setattr(soundfont, "BANKS", banks)
    auto = RenderConfig(sample_rate=SR)
    none = choose_soundfont(auto)
    assert none.name == "timgm6mb" and none.path == default_soundfont() and "TimGM6mb" in none.note
    r = render(song(1), 1.0, auto)
    assert r.info["bank"] == "TimGM6mb" and len(r.notes) == 2 and all("\n" not in n for n in r.notes)
    muse.write_bytes(b"x")
    assert choose_soundfont(auto).path == muse and choose_soundfont(auto).note is None
    fluid.write_bytes(b"x")
    assert choose_soundfont(auto).label == "FluidR3_GM"
    assert choose_soundfont(auto, "fluidsynth").label == "MuseScore General"
    assert choose_soundfont(RenderConfig(soundfont="FluidR3")).path == fluid
    assert choose_soundfont(RenderConfig(soundfont=str(default_soundfont()))).name == "user"
    fluid.unlink()
    with pytest.raises(InputError, match="not installed"):
        choose_soundfont(RenderConfig(soundfont="fluidr3"))


@pytest.mark.slow  # decoding the 40 MB sf3 takes 2.5 s idle, 10 s on a busy machine
@pytest.mark.skipif(not any(p.is_file() for p in map(__import__("pathlib").Path, soundfont.BANKS[0][2])),
                    reason="MuseScore General (sf3) not installed (scripts/install_soundfonts.sh)")
def test_sf3_bank_renders() -> None:
    r = render(song(2), 2.0, RenderConfig(sample_rate=SR, soundfont="musescore"), stems=True)
    assert r.info["soundfont"].endswith((".sf3", ".sf2"))
    assert r.stems is not None and all(rms(x) > 1e-3 for x in r.stems.values())
