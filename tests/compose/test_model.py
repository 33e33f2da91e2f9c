"""Music transformer on the ``tiny`` preset with a made-up field spec: shapes, causality, KV cache."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from videobgm.compose.model import MusicTransformer, field_losses, field_nll_sums  # noqa: E402
from videobgm.config import ModelConfig  # noqa: E402

FIELDS = [6, 17, 110, 6, 129, 22, 9]
CONDS = [9, 9, 9, 110, 25]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _model(**changes) -> MusicTransformer:
    torch.manual_seed(0)
    return MusicTransformer(ModelConfig.preset("tiny").replace(**changes), FIELDS, CONDS).eval()


def _batch(b: int, n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    tok = torch.stack([torch.randint(0, s, (b, n), generator=g) for s in FIELDS], -1)
    cond = torch.stack([torch.randint(0, s, (b, n), generator=g) for s in CONDS], -1)
    return tok, cond


def test_shapes_and_build_time():
    import time

    t0 = time.perf_counter()
    m = _model()
    assert time.perf_counter() - t0 < 1.0
    tok, cond = _batch(3, 11)
    logits, cache = m(tok, cond)
    assert cache is None
    assert [tuple(x.shape) for x in logits] == [(3, 11, v) for v in FIELDS]
    with pytest.raises(ValueError):
        m(tok[..., :3], cond)


def test_causality_later_token_does_not_change_earlier_logits():
    m = _model()
    tok, cond = _batch(1, 20)
    tok2, cond2 = tok.clone(), cond.clone()
    tok2[0, 12:] = torch.tensor([(v + 1) % s for v, s in zip(tok2[0, 12].tolist(), FIELDS)])
    cond2[0, 15] = (cond2[0, 15] + 1) % torch.tensor(CONDS)
    with torch.no_grad():
        a, _ = m(tok, cond, targets=tok)
        b, _ = m(tok2, cond2, targets=tok)
    for la, lb in zip(a, b):
        assert torch.allclose(la[:, :12], lb[:, :12], atol=1e-6)
        assert not torch.allclose(la[:, 12:], lb[:, 12:], atol=1e-6)


def test_head_cascade_uses_earlier_target_fields():
    m = _model()
    tok, cond = _batch(1, 8)
    tgt2 = tok.clone()
    tgt2[..., 0] = (tgt2[..., 0] + 1) % FIELDS[0]  # another type -> other field heads change
    with torch.no_grad():
        a, _ = m(tok, cond, targets=tok)
        b, _ = m(tok, cond, targets=tgt2)
    assert torch.equal(a[0], b[0])  # the type head itself does not see the target
    assert not torch.allclose(a[4], b[4])


@pytest.mark.parametrize("window", [256, 7])
def test_kv_cache_equals_full_recomputation(window: int):
    m = _model(max_len=window)
    tok, cond = _batch(2, 30)
    with torch.no_grad():
        full, _ = m(tok, cond, targets=tok)
        cache = m.new_cache()
        parts, i = [], 0
        for n in (4, 1, 1, 9, 1, 1, 1, 12):
            out, cache = m(tok[:, i:i + n], cond[:, i:i + n], targets=tok[:, i:i + n], cache=cache)
            parts.append(out)
            i += n
    assert i == 30 and cache.pos == 30 and len(cache) <= window - 1
    for k in range(len(FIELDS)):
        inc = torch.cat([p[k] for p in parts], dim=1)
        assert torch.allclose(inc, full[k], atol=1e-5), k


def test_window_limits_attention():
    m = _model(max_len=5)
    tok, cond = _batch(1, 12)
    tok2 = tok.clone()
    tok2[0, 0] = torch.tensor([(v + 1) % s for v, s in zip(tok[0, 0].tolist(), FIELDS)])
    with torch.no_grad():
        a, _ = m(tok, cond, targets=tok)
        b, _ = m(tok2, cond, targets=tok)
    # receptive field of position p: p - n_layers * (window - 1) .. p, so token 0 reaches
    # positions < 1 + 2 * 4 = 9 (through two layers) and no further
    assert torch.equal(a[0][:, 9:], b[0][:, 9:])
    assert not torch.allclose(a[0][:, 1:9], b[0][:, 1:9], atol=1e-7)


def test_losses_ignore_none_targets_and_learn():
    torch.manual_seed(0)
    m = MusicTransformer(ModelConfig.preset("tiny"), FIELDS, CONDS)
    tok, cond = _batch(4, 24)
    tok[..., 2] = 0  # field 2 never used -> zero loss, no NaN
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        logits, _ = m(tok[:, :-1], cond[:, :-1], targets=tok[:, 1:])
        losses = field_losses(logits, tok[:, 1:])
        assert losses[2].item() == 0.0 and torch.isfinite(losses).all()
        loss = losses.sum()
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.6 * first
    sums, counts = field_nll_sums(logits, tok[:, 1:])
    assert counts[2].item() == 0 and counts[0].item() == int((tok[:, 1:, 0] != 0).sum())


def test_one_token_steps_equal_full_recomputation_past_the_window():
    """The incremental path (ring-buffer cache, rotation matrices) over 3 windows of 1-token steps."""
    m = _model(max_len=6)
    tok, cond = _batch(2, 21, seed=3)
    with torch.no_grad():
        full, _ = m(tok, cond, targets=tok)
        h_full = m.hidden(tok, cond)
        cache = m.new_cache()
        steps = [m(tok[:, i:i + 1], cond[:, i:i + 1], targets=tok[:, i:i + 1], cache=cache)[0]
                 for i in range(20)]
        copy = cache.clone()
        copy.k[0].zero_()  # the clone's buffers are its own: the original is untouched
        a = m.hidden(tok[:, 20:], cond[:, 20:], cache=cache)
        b = m.hidden(tok[:, 20:], cond[:, 20:], cache=copy)
    assert cache.pos == 21 and len(cache) == 5 and copy.pos == 21
    for k in range(len(FIELDS)):
        assert torch.allclose(torch.cat([s[k] for s in steps], dim=1), full[k][:, :20], atol=1e-5), k
    assert torch.allclose(a[:, 0], h_full[:, 20], atol=1e-5)
    assert not torch.allclose(b[:, 0], h_full[:, 20], atol=1e-5)


def test_inference_caches_follow_training_and_casts():
    """Stacked input tables and gathered weights must not go stale after an optimiser step or .to()."""
    m = _model()
    tok, cond = _batch(1, 12, seed=4)

    def incremental_equals_full(model, dtype):
        full = [x.detach() for x in model(tok, cond, targets=tok)[0]]  # module path (gradients on)
        with torch.no_grad():
            cache = model.new_cache()
            inc = [model(tok[:, i:i + 1], cond[:, i:i + 1], targets=tok[:, i:i + 1], cache=cache)[0][4]
                   for i in range(12)]
        assert full[4].dtype == dtype
        return torch.allclose(torch.cat(inc, dim=1), full[4], atol=1e-5)

    assert incremental_equals_full(m, torch.float32)
    before = m(tok, cond, targets=tok)[0][4].detach()
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    m.train()
    field_losses(m(tok[:, :-1], cond[:, :-1], targets=tok[:, 1:])[0], tok[:, 1:]).sum().backward()
    opt.step()
    m.eval()
    with torch.no_grad():
        after, _ = m(tok, cond, targets=tok)
    assert not torch.allclose(after[4], before, atol=1e-4)  # the step changed the model ...
    assert incremental_equals_full(m, torch.float32)  # ... and the cached paths see the change
    m = m.to(torch.float64)
    assert incremental_equals_full(m, torch.float64)


def test_out_of_range_ids_are_refused_without_gradients():
    m = _model()
    tok, cond = _batch(1, 3)
    tok[0, 1, 0] = FIELDS[0]  # one past the type vocabulary (would index the next table)
    with torch.no_grad(), pytest.raises(IndexError):
        m.hidden(tok, cond)
    with torch.no_grad(), pytest.raises(IndexError):
        m.hidden(tok[:, 1:2], cond[:, 1:2], cache=m.new_cache())
