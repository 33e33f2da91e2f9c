"""[5] The Controllable Music Transformer: compound token ids + control conditioning -> logits.

A decoder-only transformer over CMT-style compound tokens (one integer per token field: type,
position, chord, track, pitch, duration, velocity, as defined by :mod:`videobgm.compose.tokens`). Pure
PyTorch: scaled-dot-product attention with rotary positions and a key/value cache for incremental
decoding. No I/O, no sampling, no device choice: the caller does those (``sample.py``,
``train/loop.py``, ``checkpoint.py``).

Input side: every token field has its own embedding table and every conditioning field (per-bar
density, per-beat strength, progress, chord, key, ...) has one too; the embeddings of one step are
summed into a ``d_model`` vector.

Output side (CP-transformer head, generalised to a cascade): the backbone's hidden state ``h``
predicts the next token's *type* first; each following field ``k`` is predicted from
``h + sum_{j<k} E_j(y_j)``, the hidden state plus the embeddings of the fields already chosen for
that next token (teacher-forced from the targets in training, the sampled values in generation).
So the pitch head knows it is predicting a NOTE on the piano track, and the velocity head knows the
pitch and duration.

Index 0 of every field means "none / not used for this token type"; :func:`field_losses` ignores
it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from videobgm.config import ModelConfig


class KVCache:
    """Keys and values of past tokens for incremental decoding, in preallocated ring buffers.

    The token at absolute position ``p`` is stored in slot ``p % window``, so appending a token
    is a copy into the buffer, not a concatenation. Keys are stored after the rotary embedding
    (absolute positions), and attention does not depend on the order of the keys, so the ring
    order does not matter.

    Attributes
    ----------
    pos : int
        Absolute index of the next token to be fed (number of tokens seen so far).
    window : int
        Attention window in tokens: a token sees itself and the ``window - 1`` tokens before it.
    k, v : list of Tensor or None
        Per layer, shape (B, n_heads, window, head_dim); None until the first token is fed.
    """

    def __init__(self, n_layers: int, window: int) -> None:
        self.pos = 0
        self.window = int(window)
        self.k: list[torch.Tensor | None] = [None] * n_layers
        self.v: list[torch.Tensor | None] = [None] * n_layers

    def __len__(self) -> int:
        """Number of past tokens the next token attends to (at most ``window - 1``)."""
        return min(self.pos, self.window - 1)

    def slot_positions(self, device: torch.device | None = None) -> torch.Tensor:
        """Absolute position held by each slot, shape (window,); -1 for a slot not yet written."""
        slots = torch.arange(self.window, device=device)
        last = self.pos - 1
        return torch.where(slots <= last, last - (last - slots) % self.window, torch.full_like(slots, -1))

    def clone(self) -> KVCache:
        """An independent copy (the buffers are copied: appending writes into them)."""
        c = KVCache(len(self.k), self.window)
        c.pos = self.pos
        c.k = [None if t is None else t.clone() for t in self.k]
        c.v = [None if t is None else t.clone() for t in self.v]
        return c


def _rope(positions: torch.Tensor, head_dim: int, device: torch.device, dtype: torch.dtype):
    """Rotary embedding tables ``cos, sin`` of shape (L, head_dim // 2) for absolute positions."""
    half = head_dim // 2
    inv_freq = 1.0 / (10000.0 ** (torch.arange(half, device=device, dtype=torch.float32) / half))
    ang = positions.to(device=device, dtype=torch.float32)[:, None] * inv_freq[None, :]
    return ang.cos().to(dtype), ang.sin().to(dtype)


def _rope_matrices(cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """The rotations of :func:`_apply_rope` as matrices: ``x @ R[l]`` equals
    ``_apply_rope(x, cos[l], sin[l])``. cos, sin: (L, head_dim // 2) -> R: (L, head_dim, head_dim)."""
    n, half = cos.shape
    r = cos.new_zeros(n, 2 * half, 2 * half)
    i = torch.arange(half, device=cos.device)
    r[:, i, i], r[:, i + half, i], r[:, i, i + half], r[:, i + half, i + half] = cos, -sin, sin, cos
    return r


def _apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, H, L, Dh) by position (half-split convention)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class _Block(nn.Module):
    """Pre-LayerNorm transformer block: causal self-attention + GELU MLP."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.d_model // cfg.n_heads
        self.dropout = cfg.dropout
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.fc = nn.Linear(cfg.d_model, cfg.d_ff)
        self.fc_out = nn.Linear(cfg.d_ff, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                mask: torch.Tensor | None, causal: bool, cache: KVCache | None, layer: int) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = _apply_rope(q, cos, sin), _apply_rope(k, cos, sin)
        if cache is not None:
            kb, vb = self._buffers_of(cache, layer, k)
            if cache.pos > 0:  # attend to every slot (the mask drops stale and empty ones) + the new
                k_all, v_all = torch.cat([kb, k], dim=2), torch.cat([vb, v], dim=2)
            else:
                k_all, v_all = k, v
            m = min(n, cache.window)  # the newest tokens go into their slots
            slots = torch.arange(cache.pos + n - m, cache.pos + n, device=x.device) % cache.window
            kb[:, :, slots], vb[:, :, slots] = k[:, :, n - m:], v[:, :, n - m:]
            k, v = k_all, v_all
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal,
            dropout_p=self.dropout if self.training else 0.0,
        )
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(b, n, d)))
        return x + self.drop(self.fc_out(F.gelu(self.fc(self.ln2(x)))))

    def _buffers_of(self, cache: KVCache, layer: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The layer's ring buffers in ``cache`` (allocated on first use), (B, H, window, Dh)."""
        kb = cache.k[layer]
        if kb is None:
            shape = (like.shape[0], self.n_heads, cache.window, self.head_dim)
            kb = cache.k[layer] = like.new_zeros(shape)
            cache.v[layer] = like.new_zeros(shape)
        return kb, cache.v[layer]

    def step_weights(self) -> tuple[torch.Tensor, ...]:
        """The parameters :meth:`step` reads, in its order."""
        return (self.ln1.weight, self.ln1.bias, self.qkv.weight, self.qkv.bias, self.proj.weight,
                self.proj.bias, self.ln2.weight, self.ln2.bias, self.fc.weight, self.fc.bias,
                self.fc_out.weight, self.fc_out.bias)

    def step(self, x: torch.Tensor, rot: torch.Tensor, cache: KVCache, layer: int,
             weights: tuple[torch.Tensor, ...] | None = None) -> torch.Tensor:
        """One new token (inference): same result as :meth:`forward` with ``n = 1``, in fewer ops.

        Parameters
        ----------
        x : Tensor, shape (B, 1, d_model)
        rot : Tensor, shape (head_dim, head_dim)
            The rotary embedding of the token's position as a matrix (``q @ rot``).
        cache : KVCache
            Written at slot ``cache.pos % window``; ``cache.pos`` is not advanced here.
        weights : tuple of Tensor, optional
            :meth:`step_weights` (gathered by the caller once for many steps).
        """
        ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, fcw, fcb, outw, outb = weights or self.step_weights()
        b, _, d = x.shape
        h = F.layer_norm(x, (d,), ln1w, ln1b, self.ln1.eps)
        qkv = F.linear(h, qkvw, qkvb).view(b, 3, self.n_heads, self.head_dim)
        qk = torch.matmul(qkv[:, :2], rot)  # (B, 2, H, Dh): rotated query and key
        kb, vb = self._buffers_of(cache, layer, qk)
        slot, seen = cache.pos % cache.window, min(cache.pos + 1, cache.window)
        kb[:, :, slot], vb[:, :, slot] = qk[:, 1], qkv[:, 2]
        y = F.scaled_dot_product_attention(qk[:, 0, :, None], kb[:, :, :seen], vb[:, :, :seen])
        x = x + F.linear(y.reshape(b, 1, d), projw, projb)  # (B, H, 1, Dh) is (B, 1, d) in memory
        h = F.layer_norm(x, (d,), ln2w, ln2b, self.ln2.eps)
        return x + F.linear(F.gelu(F.linear(h, fcw, fcb)), outw, outb)


class MusicTransformer(nn.Module):
    """Decoder-only compound-token transformer with control conditioning.

    Parameters
    ----------
    cfg : ModelConfig
        Width, depth, heads, MLP size, attention window (``max_len``), dropout.
    field_sizes : sequence of int
        Vocabulary size of each token field, in the tokenizer's field order (type first).
    cond_sizes : sequence of int
        Number of values of each conditioning field.
    field_names, cond_names : sequence of str, optional
        Names, kept for readable losses/metrics.
    """

    def __init__(self, cfg: ModelConfig, field_sizes: Sequence[int], cond_sizes: Sequence[int],
                 field_names: Sequence[str] | None = None, cond_names: Sequence[str] | None = None) -> None:
        super().__init__()
        if cfg.d_model % cfg.n_heads or (cfg.d_model // cfg.n_heads) % 2:
            raise ValueError(f"d_model {cfg.d_model} must split into {cfg.n_heads} heads of even size")
        self.cfg = cfg
        self.field_sizes = [int(s) for s in field_sizes]
        self.cond_sizes = [int(s) for s in cond_sizes]
        self.field_names = list(field_names or [f"f{i}" for i in range(len(self.field_sizes))])
        self.cond_names = list(cond_names or [f"c{i}" for i in range(len(self.cond_sizes))])
        d = cfg.d_model
        self.tok_emb = nn.ModuleList(nn.Embedding(s, d) for s in self.field_sizes)
        self.cond_emb = nn.ModuleList(nn.Embedding(s, d) for s in self.cond_sizes)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(d)
        # cascaded output heads: field k sees h + embeddings of the next token's fields < k
        self.head_emb = nn.ModuleList(nn.Embedding(s, d) for s in self.field_sizes[:-1])
        self.head_ln = nn.ModuleList(nn.LayerNorm(d) for _ in self.field_sizes)
        self.head_fc = nn.ModuleList(nn.Linear(d, d) for _ in self.field_sizes)
        self.head_out = nn.ModuleList(nn.Linear(d, s) for s in self.field_sizes)
        self.apply(self._init)
        for blk in self.blocks:  # GPT-2 style scaled init of residual projections
            nn.init.normal_(blk.proj.weight, std=0.02 / math.sqrt(2 * cfg.n_layers))
            nn.init.normal_(blk.fc_out.weight, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    # ------------------------------------------------------------------------------------------
    def new_cache(self) -> KVCache:
        """An empty key/value cache for :meth:`hidden` / :meth:`forward`."""
        return KVCache(self.cfg.n_layers, self.cfg.max_len)

    def hidden(self, tokens: torch.Tensor, cond: torch.Tensor, *,
               cache: KVCache | None = None) -> torch.Tensor:
        """Backbone: hidden state after each input token.

        Parameters
        ----------
        tokens : LongTensor, shape (B, L, F)
            Compound token ids (one column per token field).
        cond : LongTensor, shape (B, L, C)
            Conditioning ids of each token (the controls of the bar/beat it belongs to).
        cache : KVCache, optional
            Past keys/values; the tokens are taken to follow the cached ones and the cache is
            extended in place (its window is ``cfg.max_len``).

        Returns
        -------
        Tensor, shape (B, L, d_model)
            Hidden state at each position; position t is used to predict token t + 1.
        """
        b, n, nf = tokens.shape
        if nf != len(self.field_sizes) or cond.shape[:2] != (b, n) or cond.shape[2] != len(self.cond_sizes):
            raise ValueError(f"expected tokens (B, L, {len(self.field_sizes)}) and cond (B, L, "
                             f"{len(self.cond_sizes)}), got {tuple(tokens.shape)} and {tuple(cond.shape)}")
        if torch.is_grad_enabled() or b * n > 4096:  # (the stacked lookup holds F + C rows per token)
            x = self.tok_emb[0](tokens[..., 0])
            for i in range(1, nf):
                x = x + self.tok_emb[i](tokens[..., i])
            for i, emb in enumerate(self.cond_emb):
                x = x + emb(cond[..., i])
            x = self.drop(x)
        else:  # one lookup in the stacked tables (inference, short inputs: decoding)
            table, offsets, sizes = self._input_table()
            ids = torch.cat([tokens, cond], dim=-1)
            if bool(((ids < 0) | (ids >= sizes)).any()):
                raise IndexError("token or conditioning id out of range of its embedding table")
            x = F.embedding(ids + offsets, table).sum(dim=-2)
        window = self.cfg.max_len
        start = 0 if cache is None else cache.pos
        if cache is not None and n == 1 and not self.training:  # incremental decoding
            rot = self._rotation(start, tokens.device, x.dtype)
            dw = self._decode_weights()
            for i, (blk, w) in enumerate(zip(self.blocks, dw["blocks"])):
                x = blk.step(x, rot, cache, i, w)
            cache.pos += 1
            return F.layer_norm(x, x.shape[-1:], *dw["ln_f"])
        cos, sin = self._rope_table(start + n, tokens.device, x.dtype)
        cos, sin = cos[start:start + n], sin[start:start + n]
        mask, causal = None, False
        q_pos = torch.arange(start, start + n, device=tokens.device)
        if cache is not None and cache.pos > 0:  # the cache's slots, then the new tokens
            k_pos = torch.cat([cache.slot_positions(tokens.device), q_pos])
            rel = q_pos[:, None] - k_pos[None, :]
            mask = (rel >= 0) & (rel < window) & (k_pos[None, :] >= 0)
        elif n <= window:
            causal = n > 1
        else:
            rel = q_pos[:, None] - q_pos[None, :]
            mask = (rel >= 0) & (rel < window)
        for i, blk in enumerate(self.blocks):
            x = blk(x, cos, sin, mask, causal, cache, i)
        if cache is not None:
            cache.pos += n
        return self.ln_f(x)

    def _input_table(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All token-field and conditioning embedding tables stacked, and each one's first row.

        Returns
        -------
        table : Tensor, shape (sum of field and conditioning sizes, d_model)
        offsets, sizes : LongTensor, shape (F + C,) each
        """
        tables = self._decode_weights()["inputs"]
        key = tuple(t._version for t in tables)  # in-place updates (training) bump the versions
        cached = getattr(self, "_input_table_cache", None)
        if cached is None or cached[0] != key:
            sizes = torch.tensor([t.shape[0] for t in tables], device=tables[0].device)
            offsets = torch.cumsum(sizes, 0) - sizes
            cached = (key, torch.cat(tables).detach(), offsets, sizes)
            self._input_table_cache = cached
        return cached[1], cached[2], cached[3]

    def _rotation(self, pos: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """Rotary embedding of position ``pos`` as a (head_dim, head_dim) matrix (computed for
        64 positions at a time)."""
        chunk = getattr(self, "_rot_cache", None)
        if (chunk is None or not chunk[0] <= pos < chunk[0] + chunk[1].shape[0]
                or chunk[1].device != device or chunk[1].dtype != dtype):
            cos, sin = self._rope_table(pos + 64, device, dtype)
            chunk = (pos, _rope_matrices(cos[pos:pos + 64], sin[pos:pos + 64]))
            self._rot_cache = chunk
        return chunk[1][pos - chunk[0]]

    def _decode_weights(self) -> dict[str, list]:
        """The parameters of the inference paths, gathered once (module attribute lookups cost
        more than the one-token ops); dropped when the model is moved or cast.

        Keys: ``blocks`` (per block, :meth:`_Block.step_weights`), ``ln_f`` (weight, bias, eps),
        ``heads`` (per field: LayerNorm weight, bias, eps, hidden weight, bias, output weight,
        bias), ``head_emb`` (per field but the last, the embedding table), ``inputs`` (the token
        field then conditioning embedding tables).
        """
        cached = getattr(self, "_decode_cache", None)
        if cached is None:
            cached = {
                "blocks": [blk.step_weights() for blk in self.blocks],
                "ln_f": [self.ln_f.weight, self.ln_f.bias, self.ln_f.eps],
                "heads": [(ln.weight, ln.bias, ln.eps, fc.weight, fc.bias, out.weight, out.bias)
                          for ln, fc, out in zip(self.head_ln, self.head_fc, self.head_out)],
                "head_emb": [e.weight for e in self.head_emb],
                "inputs": [e.weight for e in self.tok_emb] + [e.weight for e in self.cond_emb],
            }
            self._decode_cache = cached
        return cached

    def _apply(self, fn, *args, **kwargs):  # noqa: ANN001, ANN202 - nn.Module's hook for .to() etc.
        self._decode_cache = self._rot_cache = self._rope_cache = self._input_table_cache = None
        return super()._apply(fn, *args, **kwargs)

    def _rope_table(self, length: int, device: torch.device, dtype: torch.dtype):
        """Rotary tables for positions ``0 .. length - 1`` (cached, grown by doubling)."""
        tab = getattr(self, "_rope_cache", None)
        if tab is None or tab[0].shape[0] < length or tab[0].device != device or tab[0].dtype != dtype:
            size = max(length, 2 * (tab[0].shape[0] if tab is not None else 0), self.cfg.max_len)
            with torch.inference_mode(False), torch.no_grad():  # usable in training afterwards
                tab = _rope(torch.arange(size, device=device), self.blocks[0].head_dim, device, dtype)
            self._rope_cache = tab
        return tab

    def field_logits(self, ctx: torch.Tensor, k: int) -> torch.Tensor:
        """Logits of field ``k`` from a head context (B, ..., d_model) -> (B, ..., V_k)."""
        lnw, lnb, eps, fcw, fcb, outw, outb = self._decode_weights()["heads"][k]
        h = F.layer_norm(ctx, ctx.shape[-1:], lnw, lnb, eps)
        return F.linear(F.gelu(F.linear(h, fcw, fcb)), outw, outb)

    def extend_context(self, ctx: torch.Tensor, k: int, values: torch.Tensor | int) -> torch.Tensor:
        """Head context for field ``k + 1``: ``ctx + E_k(values)`` (values shaped like ctx[..., 0],
        or one int for a single context vector)."""
        if isinstance(values, int):
            return ctx + self._decode_weights()["head_emb"][k][values]
        return ctx + F.embedding(values, self._decode_weights()["head_emb"][k])

    def forward(self, tokens: torch.Tensor, cond: torch.Tensor, *, targets: torch.Tensor | None = None,
                cache: KVCache | None = None) -> tuple[list[torch.Tensor], KVCache | None]:
        """Per-field logits for the token following each position.

        Parameters
        ----------
        tokens : LongTensor, shape (B, L, F)
        cond : LongTensor, shape (B, L, C)
        targets : LongTensor, shape (B, L, F), optional
            The next tokens (``tokens`` shifted by one in training). The cascaded heads are
            conditioned on the target's earlier fields (teacher forcing). When None, each head is
            conditioned on the argmax of the earlier heads (greedy cascade).
        cache : KVCache, optional
            Extended in place (see :meth:`hidden`).

        Returns
        -------
        logits : list of Tensor
            One (B, L, V_f) tensor per token field, in field order.
        cache : KVCache or None
            The cache passed in (updated), or None.
        """
        ctx = self.hidden(tokens, cond, cache=cache)
        out = []
        for k in range(len(self.field_sizes)):
            logits = self.field_logits(ctx, k)
            out.append(logits)
            if k + 1 < len(self.field_sizes):
                y = targets[..., k] if targets is not None else logits.argmax(-1)
                ctx = self.extend_context(ctx, k, y)
        return out, cache

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def field_losses(logits: Sequence[torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each field, ignoring target id 0 ("none").

    Parameters
    ----------
    logits : list of Tensor, each (B, L, V_f)
    targets : LongTensor, shape (B, L, F)

    Returns
    -------
    Tensor, shape (F,)
        Per-field mean negative log-likelihood in nats (0 for a field with no counted target).
    """
    losses = []
    for k, lg in enumerate(logits):
        t = targets[..., k].reshape(-1)
        if bool((t != 0).any()):
            losses.append(F.cross_entropy(lg.reshape(-1, lg.shape[-1]).float(), t, ignore_index=0))
        else:
            losses.append(lg.sum() * 0.0)
    return torch.stack(losses)


def field_nll_sums(logits: Sequence[torch.Tensor], targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed NLL (nats) and counted targets per field, for exact held-out averages.

    Returns
    -------
    sums, counts : Tensor, shape (F,) each
    """
    sums, counts = [], []
    for k, lg in enumerate(logits):
        t = targets[..., k].reshape(-1)
        sums.append(F.cross_entropy(lg.reshape(-1, lg.shape[-1]).float(), t, ignore_index=0, reduction="sum"))
        counts.append((t != 0).sum())
    return torch.stack(sums), torch.stack(counts)
