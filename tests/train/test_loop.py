"""Training loop on a tiny synthetic corpus: the loss falls, checkpoints resume exactly."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from videobgm.compose import checkpoint as ckpt  # noqa: E402
from videobgm.compose.tokens import Tokenizer  # noqa: E402
from videobgm.config import ModelConfig  # noqa: E402
from videobgm.errors import OptionError  # noqa: E402
from videobgm.train.loop import TrainSettings, fixed_windows, lr_at, train  # noqa: E402
from videobgm.types import Chord, Note, Score  # noqa: E402


def _song(shift: int, n_bars: int = 8) -> Score:
    """A repetitive song: an arpeggio per bar over I-vi-IV-V, transposed by ``shift``."""
    prog = [(0, "maj"), (9, "min"), (5, "maj"), (7, "maj")]
    notes, chords = [], []
    for b in range(n_bars):
        root, q = prog[b % 4]
        chords.append(Chord(b * 16, (root + shift) % 12, q))
        third = 3 if q == "min" else 4
        for i, s in enumerate(range(0, 16, 4)):
            notes.append(Note(b * 16 + s, "melody", 72 + shift + root + (0, third, 7, 12)[i] - 12 * (root > 6), 4, 90))
        notes.append(Note(b * 16, "piano", 48 + shift + root, 16, 60))
    return Score(notes=notes, n_bars=n_bars, chords=chords, key_tonic=shift % 12)


@pytest.fixture(scope="module")
def corpus():
    tok = Tokenizer()
    enc = [tok.encode(_song(k)) for k in range(-3, 4)]
    return {"train": enc[:5], "val": enc[5:6], "test": enc[6:]}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _settings(**kw) -> TrainSettings:
    base = dict(preset="tiny", steps=40, batch_size=4, seq_len=64, lr=3e-3, warmup_steps=5,
                ckpt_every=20, eval_every=20, val_windows=4, log_every=10, transpose=False, threads=1)
    base.update(kw)
    return TrainSettings(**base)


def test_schedule():
    s = _settings(steps=100, warmup_steps=10, lr=1.0, min_lr_ratio=0.1)
    assert lr_at(0, s) == pytest.approx(0.1) and lr_at(9, s) == pytest.approx(1.0)
    assert lr_at(99, s) == pytest.approx(0.1, abs=1e-3) and lr_at(55, s) < lr_at(20, s)


def test_fixed_windows_cover_each_target_once(corpus):
    tok, _ = corpus["train"][0]
    w = fixed_windows(corpus["train"][:1], 10)
    assert sum(x.shape[0] - 1 for x, _ in w) == tok.shape[0] - 1
    assert len(fixed_windows(corpus["train"], 10, limit=3)) == 3


def test_loss_falls_and_provenance(tmp_path, corpus):
    losses: list[float] = []
    prov = train(None, tmp_path / "ck", _settings(), dataset=corpus, command="test",
                 on_step=lambda step, loss: losses.append(loss))
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    assert prov["steps"] == 40 and prov["finished"] and prov["command"] == "test"
    assert set(prov["test_nll_per_field"]) == set(Tokenizer.field_names)
    assert prov["history"][-1]["val_nll"] < prov["history"][0]["val_nll"] + 1e-9
    model, _, meta = ckpt.load_checkpoint(tmp_path / "ck")
    assert meta["provenance"]["val_loss"] == pytest.approx(prov["val_loss"])
    assert model.cfg.max_len == 64


def test_resume_matches_uninterrupted_run(tmp_path, corpus):
    s = _settings(steps=12, ckpt_every=6, eval_every=6)
    train(None, tmp_path / "full", s, dataset=corpus)

    class Stop(Exception):
        pass

    def stop_at_7(step: int, loss: float) -> None:
        if step == 7:
            raise Stop

    with pytest.raises(Stop):
        train(None, tmp_path / "part", s, dataset=corpus, on_step=stop_at_7)
    prov = train(None, tmp_path / "part", s, dataset=corpus, resume=True)  # resumes at step 6
    assert prov["steps"] == 12
    a, _, _ = ckpt.load_checkpoint(tmp_path / "full")
    b, _, _ = ckpt.load_checkpoint(tmp_path / "part")
    for (n, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(p, q, atol=1e-6), n


def test_bad_settings(tmp_path, corpus):
    with pytest.raises(OptionError):
        train(None, tmp_path / "x", _settings(steps=0), dataset=corpus)
    with pytest.raises(OptionError, match="resume"):
        train(None, tmp_path / "none", _settings(), dataset=corpus, resume=True)
    assert ModelConfig.preset("tiny").max_len >= 64


def test_cli_train_errors(tmp_path, capsys):
    from videobgm.apps.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["train"])  # --out is required
    assert exc.value.code == 2
    assert main(["train", "--out", str(tmp_path / "none"), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("videobgm: error: --resume: no checkpoint")


def test_warm_start_continues_from_the_weights_and_snapshots(tmp_path, corpus):
    first = train(None, tmp_path / "a", _settings(steps=20, eval_every=10), dataset=corpus)
    s = _settings(steps=10, eval_every=5, snapshot_every=5)
    prov = train(None, tmp_path / "b", s, dataset=corpus, init_from=tmp_path / "a")
    # the warm start records where it began and begins where that run ended, not at random weights
    assert prov["init"]["steps"] == 20 and prov["init"]["history"] == first["history"]
    assert prov["steps"] == 10
    cold = train(None, tmp_path / "c", s, dataset=corpus)
    assert prov["history"][0]["val_nll"] < cold["history"][0]["val_nll"]
    # a weights-only copy every 5 steps; the last one holds the final weights
    snaps = sorted(p.name for p in (tmp_path / "b" / "snapshots").iterdir())
    assert snaps == ["step_000005", "step_000010"]
    m5, _, meta5 = ckpt.load_checkpoint(tmp_path / "b" / "snapshots" / "step_000005")
    assert meta5["provenance"]["steps"] == 5 and meta5["provenance"]["init"]["steps"] == 20
    m10, _, _ = ckpt.load_checkpoint(tmp_path / "b" / "snapshots" / "step_000010")
    final, _, _ = ckpt.load_checkpoint(tmp_path / "b")
    for p, q in zip(m10.state_dict().values(), final.state_dict().values()):
        assert torch.equal(p, q)
    assert any(not torch.equal(p, q) for p, q in zip(m5.state_dict().values(), final.state_dict().values()))


def test_warm_start_errors(tmp_path, corpus):
    with pytest.raises(OptionError, match="--init: no checkpoint"):
        train(None, tmp_path / "x", _settings(), dataset=corpus, init_from=tmp_path / "missing")
    train(None, tmp_path / "a", _settings(steps=2, seq_len=16), dataset=corpus)
    with pytest.raises(OptionError, match="attends to 16 tokens"):
        train(None, tmp_path / "y", _settings(steps=2, seq_len=32), dataset=corpus, init_from=tmp_path / "a")
    with pytest.raises(OptionError, match="snapshot"):
        train(None, tmp_path / "z", _settings(snapshot_every=0), dataset=corpus)
