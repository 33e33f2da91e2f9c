"""Exact constrained sampling of the tilted chord trigram (one pass over a span's chord events).

:func:`sample_chain` draws one key-relative chord symbol per event from
``P(c | a, b)`` -- the model's trigram, times a per-event context weight (section role and bar
position), times a vocabulary's per-chord and root-motion log-weights -- under per-event allowed
sets, *exactly*: a backward pass computes ``beta_t(a, b)``, the probability of meeting every
constraint (and of leading into the chords after the span) from event ``t`` on given the trigram
state, and forward sampling draws with ``P(c | a, b) * beta_{t+1}(b, c)``. It raises
``ValueError`` before drawing anything when the constraints cannot all be met.
:class:`ChainContext` holds what stays the same between the passes of
:func:`~videobgm.plan.chord_sampling.sample_progression` (only the allowed sets change).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from videobgm.plan.chord_corpus import BOS, V
from videobgm.plan.chord_model import HarmonyModel


@dataclass(frozen=True)
class ChainContext:
    """One span's sampling setting: model, mode, per-event (role, position), the trigram state
    before the span, the chords after it, P(holding into them), and the vocabulary's weights."""

    model: HarmonyModel
    mode: str
    ctx: list[tuple[str, str]]
    init: tuple[int, int]
    after: list[int]
    hold: float
    bias: np.ndarray | None = None
    motion: np.ndarray | None = None
    extra: list[int] | tuple = ()

    def sample(self, allowed: list[np.ndarray], rng: np.random.Generator) -> list[int]:
        """:func:`sample_chain` in this setting under ``allowed`` (raises ValueError)."""
        return sample_chain(self.model, self.mode, self.ctx, allowed, self.init, self.after, rng,
                            self.hold, self.bias, self.motion, self.extra)


def sample_chain(model: HarmonyModel, mode: str, ctx: list[tuple[str, str]],
                  allowed: list[np.ndarray], init: tuple[int, int], after: list[int],
                  rng: np.random.Generator, hold: float, bias: np.ndarray | None = None,
                  motion: np.ndarray | None = None, extra: list[int] | tuple = ()) -> list[int]:
    """Backward filtering, forward sampling of the tilted trigram under per-event allowed sets,
    over the model's sampling vocabulary plus every symbol the constraints, contexts or the
    vocabulary's favoured chords (``extra``) name. ``bias`` (V,): per-chord log-weights;
    ``motion`` (V, V): log-weights of transitions ``b -> c`` folded into the trigram."""
    named = {s for s in (*init, *after, *extra) if s != BOS}
    for al in allowed:
        if al.sum() < V:
            named |= set(np.flatnonzero(al).tolist())
    voc = np.array(sorted(set(model.vocabulary(mode).tolist()) | named))
    k = voc.size
    pos = {int(s): i for i, s in enumerate(voc)}
    pos[BOS] = k
    rows = np.append(voc, BOS)
    p3 = model.trigram(mode)[np.ix_(rows, rows, voc)]
    if motion is not None:
        m = np.ones((k + 1, k))
        m[:k] = np.exp(motion[np.ix_(voc, voc)])
        p3 = p3 * m[None, :, :]
    p3 /= p3.sum(-1, keepdims=True)
    p3t = np.ascontiguousarray(p3.transpose(1, 0, 2))  # (b, a, c)
    flat = p3.reshape(-1, k)
    al = [a[voc] for a in allowed]
    tilt = np.exp(bias[voc]) if bias is not None else 1.0
    weights = {c: model.context_weight(mode, *c)[voc] * tilt for c in set(ctx)}
    z = {c: (flat @ w).reshape(k + 1, k + 1) for c, w in weights.items()}
    beta = np.ones((k + 1, k + 1))  # beta[a, b] after the last event: P(context_after | a, b)
    if after:
        x = pos[after[0]]
        y = pos[after[1]] if len(after) > 1 else None
        beta = p3[:, :, x].copy()
        if y is not None:
            beta = beta * p3[:, x, y][None, :]
        # a span ending on the chord that follows holds into it, as often as a bar line keeps
        # its chord in the data (the rhythm table's masks without a downbeat change)
        beta *= 1.0 - hold
        beta[:, x] = hold * (p3[:, x, y] if y is not None else 1.0)
    betas = [beta]
    for t in range(len(ctx) - 1, -1, -1):
        g = weights[ctx[t]] * al[t] * beta[:, :k]  # (b, c) for the next state (b, c)
        num = np.matmul(p3t, g[:, :, None])[..., 0].T  # (a, b)
        beta = num / z[ctx[t]]
        m = beta.max()
        if not m > 0:
            raise ValueError("constraints cannot be met")
        beta = beta / m
        betas.append(beta)
    betas.reverse()  # betas[t] = before event t; betas[n] = after the last
    a, b = pos[init[0]], pos[init[1]]
    if not betas[0][a, b] > 0:
        raise ValueError("constraints cannot be met from the context")
    out = []
    for t in range(len(ctx)):
        p = p3[a, b] * weights[ctx[t]] * al[t] * betas[t + 1][b, :k]
        c = int(rng.choice(k, p=p / p.sum()))
        out.append(int(voc[c]))
        a, b = b, c
    return out
