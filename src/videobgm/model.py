"""[5] The Controllable Music Transformer: compound token ids + control conditioning -> logits.

A decoder-only transformer over CMT-style compound tokens (one integer per token field: type,
position, chord, track, pitch, duration, velocity, as defined by :mod:`videobgm.tokens`). Pure
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
    """Keys and values of past tokens for incremental decoding.

    Attributes
    ----------
    pos : int
        Absolute index of the next token to be fed (number of tokens seen so far).
    window : int
        Attention window in tokens; the cache keeps the last ``window - 1`` keys/values so that
        the next token sees exactly ``window`` tokens including itself.
    k, v : list of Tensor or None
        Per layer, shape (B, n_heads, T, head_dim) with T <= window - 1.
    """

    def __init__(self, n_layers: int, window: int) -> None:
        self.pos = 0
        self.window = int(window)
        self.k: list[torch.Tensor | None] = [None] * n_layers
        self.v: list[torch.Tensor | None] = [None] * n_layers

    def __len__(self) -> int:
        k0 = self.k[0]
        return 0 if k0 is None else int(k0.shape[2])

    def clone(self) -> KVCache:
        """An independent copy (tensors are shared read-only; appending makes new tensors)."""
        c = KVCache(len(self.k), self.window)
        c.pos, c.k, c.v = self.pos, list(self.k), list(self.v)
        return c


def _rope(positions: torch.Tensor, head_dim: int, device: torch.device, dtype: torch.dtype):
    """Rotary embedding tables ``cos, sin`` of shape (L, head_dim // 2) for absolute positions."""
    half = head_dim // 2
    inv_freq = 1.0 / (10000.0 ** (torch.arange(half, device=device, dtype=torch.float32) / half))
    ang = positions.to(device=device, dtype=torch.float32)[:, None] * inv_freq[None, :]
    return ang.cos().to(dtype), ang.sin().to(dtype)


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
            pk, pv = cache.k[layer], cache.v[layer]
            if pk is not None:
                k, v = torch.cat([pk, k], dim=2), torch.cat([pv, v], dim=2)
            keep = cache.window - 1
            cache.k[layer] = k[:, :, -keep:] if keep > 0 else k[:, :, :0]
            cache.v[layer] = v[:, :, -keep:] if keep > 0 else v[:, :, :0]
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal,
            dropout_p=self.dropout if self.training else 0.0,
        )
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(b, n, d)))
        return x + self.drop(self.fc_out(F.gelu(self.fc(self.ln2(x)))))


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
        x = self.tok_emb[0](tokens[..., 0])
        for i in range(1, nf):
            x = x + self.tok_emb[i](tokens[..., i])
        for i, emb in enumerate(self.cond_emb):
            x = x + emb(cond[..., i])
        x = self.drop(x)
        window = self.cfg.max_len
        start = 0 if cache is None else cache.pos
        n_past = 0 if cache is None else len(cache)
        cos, sin = self._rope_table(start + n, tokens.device, x.dtype)
        cos, sin = cos[start:start + n], sin[start:start + n]
        mask, causal = None, False
        if n_past == 0 and n <= window:
            causal = n > 1
        elif not (n == 1 and n_past + 1 <= window):
            q_pos = torch.arange(start, start + n, device=tokens.device)
            k_pos = torch.arange(start - n_past, start + n, device=tokens.device)
            rel = q_pos[:, None] - k_pos[None, :]
            mask = (rel >= 0) & (rel < window)
        for i, blk in enumerate(self.blocks):
            x = blk(x, cos, sin, mask, causal, cache, i)
        if cache is not None:
            cache.pos += n
        return self.ln_f(x)

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
        return self.head_out[k](F.gelu(self.head_fc[k](self.head_ln[k](ctx))))

    def extend_context(self, ctx: torch.Tensor, k: int, values: torch.Tensor) -> torch.Tensor:
        """Head context for field ``k + 1``: ``ctx + E_k(values)`` (values shaped like ctx[..., 0])."""
        return ctx + self.head_emb[k](values)

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
