"""Checkpoint folder: save/load round trip, half precision, clear errors."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from videobgm.compose import checkpoint as ckpt  # noqa: E402
from videobgm.compose.tokens import Tokenizer  # noqa: E402
from videobgm.config import ModelConfig  # noqa: E402
from videobgm.errors import InputError, MissingDependencyError  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _inputs(tok: Tokenizer, n: int = 12):
    g = torch.Generator().manual_seed(3)
    x = torch.stack([torch.randint(0, s, (2, n), generator=g) for s in tok.field_sizes], -1)
    c = torch.stack([torch.randint(0, s, (2, n), generator=g) for s in tok.cond_sizes], -1)
    return x, c


def test_build_untrained_is_seeded():
    tok = Tokenizer()
    a = ckpt.build_untrained(ModelConfig.preset("tiny"), tok, seed=1)
    b = ckpt.build_untrained(ModelConfig.preset("tiny"), tok, seed=1)
    c = ckpt.build_untrained(ModelConfig.preset("tiny"), tok, seed=2)
    wa, wb, wc = (m.tok_emb[4].weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert list(a.field_sizes) == list(tok.field_sizes) and not a.training


def test_round_trip_gives_identical_logits(tmp_path):
    tok = Tokenizer()
    model = ckpt.build_untrained(ModelConfig.preset("tiny"), tok, seed=5)
    prov = {"steps": 3, "test_nll_per_field": {"pitch": 1.5}}
    ckpt.save_checkpoint(tmp_path / "ck", model, tok, prov)
    model2, tok2, meta = ckpt.load_checkpoint(tmp_path / "ck")
    assert tok2.to_json() == tok.to_json()
    assert meta["provenance"] == prov and meta["config"] == ModelConfig.preset("tiny").to_dict()
    x, c = _inputs(tok)
    with torch.no_grad():
        a, _ = model(x, c, targets=x)
        b, _ = model2(x, c, targets=x)
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    conf = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert conf["field_names"] == list(tok.field_names) and "tokenizer" in conf


def test_half_precision_is_smaller_and_close(tmp_path):
    tok = Tokenizer()
    model = ckpt.build_untrained(ModelConfig.preset("tiny"), tok, seed=5)
    ckpt.save_checkpoint(tmp_path / "full", model, tok)
    ckpt.save_checkpoint(tmp_path / "half", model, tok, half=True)
    full = (tmp_path / "full" / "model.pt").stat().st_size
    half = (tmp_path / "half" / "model.pt").stat().st_size
    assert half < 0.7 * full
    m2, _, _ = ckpt.load_checkpoint(tmp_path / "half")
    x, c = _inputs(tok)
    with torch.no_grad():
        a, _ = model(x, c, targets=x)
        b, _ = m2(x, c, targets=x)
    assert all(torch.allclose(p, q, atol=2e-2) for p, q in zip(a, b))


def test_errors(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="not found"):
        ckpt.load_checkpoint(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="model.pt"):
        ckpt.load_checkpoint(tmp_path / "empty")
    tok = Tokenizer()
    ckpt.save_checkpoint(tmp_path / "bad", ckpt.build_untrained(ModelConfig.preset("tiny"), tok), tok)
    (tmp_path / "bad" / "model.pt").write_bytes(b"garbage")
    with pytest.raises(InputError, match="unreadable"):
        ckpt.load_checkpoint(tmp_path / "bad")
    monkeypatch.setattr(ckpt, "packaged_checkpoint_dir", lambda name="small": tmp_path / "missing")
    with pytest.raises(MissingDependencyError, match="small"):
        ckpt.load_checkpoint(None)


def test_packaged_checkpoint_loads_when_present():
    folder = ckpt.packaged_checkpoint_dir("small")
    if not (folder / "model.pt").is_file():
        pytest.skip("no packaged checkpoint in this tree")
    model, tok, meta = ckpt.load_checkpoint()
    assert (folder / "model.pt").stat().st_size < 25e6
    assert meta["provenance"].get("test_nll_per_field")
