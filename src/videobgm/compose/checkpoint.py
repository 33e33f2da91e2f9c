"""Save / load a self-describing checkpoint folder for the music transformer.

Layout of a checkpoint folder::

    model.pt          state_dict of MusicTransformer (torch.save, fp32 or fp16 tensors)
    config.json       {"format": 1, "model": ModelConfig dict, "field_names", "field_sizes",
                       "cond_names", "cond_sizes", "tokenizer": Tokenizer.to_json() text}
    provenance.json   data, split, steps, wall time, validation loss, held-out NLL per field,
                      metrics table (written by the training loop / benchmarks)

``load_checkpoint()`` with no path loads the ``small`` checkpoint shipped inside the package
(``videobgm/assets/checkpoints/small``). No download ever happens.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from videobgm.config import ASSETS_DIR, ModelConfig
from videobgm.errors import InputError, MissingDependencyError
from videobgm.io import atomic_path, write_json

FORMAT = 1
WEIGHTS = "model.pt"
CONFIG = "config.json"
PROVENANCE = "provenance.json"


def packaged_checkpoint_dir(name: str = "small") -> Path:
    """Folder of a checkpoint shipped in the package (it may not exist)."""
    return ASSETS_DIR / "checkpoints" / name


def _tokenizer_json(tokenizer: Any) -> str:
    data = tokenizer.to_json()
    return data if isinstance(data, str) else json.dumps(data)


def _tokenizer_from_json(text: str) -> Any:
    from videobgm.compose.tokens import Tokenizer

    return Tokenizer.from_json(text)


def build_untrained(model_cfg: ModelConfig, tokenizer: Any, seed: int = 0):  # noqa: ANN201
    """A randomly initialised :class:`~videobgm.compose.model.MusicTransformer` for ``tokenizer``.

    Parameters
    ----------
    model_cfg : ModelConfig
        Size of the model.
    tokenizer : videobgm.tokens.Tokenizer
        Supplies the field and conditioning vocabulary sizes.
    seed : int
        Seed of the initialisation (same seed, same weights).

    Returns
    -------
    MusicTransformer
        In eval mode, on CPU.
    """
    import torch

    from videobgm.compose.model import MusicTransformer

    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(int(seed))
        model = MusicTransformer(
            model_cfg, tokenizer.field_sizes, tokenizer.cond_sizes,
            field_names=tokenizer.field_names, cond_names=tokenizer.cond_names,
        )
    finally:
        torch.random.set_rng_state(gen_state)
    return model.eval()


def save_checkpoint(path: str | Path, model: Any, tokenizer: Any, provenance: dict[str, Any] | None = None,
                    *, half: bool = False, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` + ``tokenizer`` (+ provenance) as a checkpoint folder.

    Parameters
    ----------
    path : path-like
        Folder (created if needed); existing files of the same names are replaced atomically.
    model : MusicTransformer
    tokenizer : Tokenizer
    provenance : dict, optional
        Written to ``provenance.json``.
    half : bool
        Store floating-point weights as fp16 (half the size; loaded back as fp32).
    extra : dict, optional
        Extra state saved beside the weights in ``model.pt`` (e.g. optimizer state to resume).
    """
    import torch

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu().contiguous()
             for k, v in model.state_dict().items()}
    blob: dict[str, Any] = {"state_dict": state, "format": FORMAT}
    if extra:
        blob.update(extra)
    with atomic_path(folder / WEIGHTS) as tmp:
        torch.save(blob, tmp)
    write_json(folder / CONFIG, {
        "format": FORMAT,
        "model": model.cfg.to_dict(),
        "field_names": list(model.field_names), "field_sizes": list(model.field_sizes),
        "cond_names": list(model.cond_names), "cond_sizes": list(model.cond_sizes),
        "tokenizer": _tokenizer_json(tokenizer),
    })
    if provenance is not None:
        write_json(folder / PROVENANCE, provenance)
    return folder


def read_config(path: str | Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a checkpoint folder."""
    f = Path(path) / CONFIG
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"not a checkpoint folder (no {CONFIG}): {path}") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable checkpoint config {f}: {exc}") from None


def load_checkpoint(path: str | Path | None = None, *, map_location: str = "cpu",
                    with_extra: bool = False):  # noqa: ANN201
    """Load a checkpoint folder.

    Parameters
    ----------
    path : path-like, optional
        Checkpoint folder; None = the ``small`` checkpoint shipped in the package.
    map_location : str
        Device the tensors are loaded onto.
    with_extra : bool
        Also return the extra state saved with the weights (optimizer, step) as a 4th item.

    Returns
    -------
    model : MusicTransformer
        In eval mode, fp32.
    tokenizer : Tokenizer
    meta : dict
        ``{"checkpoint": str, "config": ..., "provenance": ...}``.
    """
    import torch

    from videobgm.compose.model import MusicTransformer

    if path is None:
        folder = packaged_checkpoint_dir("small")
        if not (folder / WEIGHTS).is_file():
            raise MissingDependencyError(
                "the packaged 'small' music model",
                f"{folder} is missing; reinstall videobgm or pass a checkpoint folder",
            )
    else:
        folder = Path(path)
        if not folder.is_dir():
            raise InputError(f"checkpoint folder not found: {folder}")
        if not (folder / WEIGHTS).is_file():
            raise InputError(f"not a checkpoint folder (no {WEIGHTS}): {folder}")
    conf = read_config(folder)
    if conf.get("format") != FORMAT:
        raise InputError(f"unsupported checkpoint format {conf.get('format')!r} in {folder}; accepted: {FORMAT}")
    tokenizer = _tokenizer_from_json(conf["tokenizer"])
    if list(tokenizer.field_sizes) != list(conf["field_sizes"]) or list(tokenizer.cond_sizes) != list(conf["cond_sizes"]):
        raise InputError(f"checkpoint {folder} was saved with a different vocabulary than its tokenizer describes")
    model = MusicTransformer(
        ModelConfig.from_dict(conf["model"]), conf["field_sizes"], conf["cond_sizes"],
        field_names=conf.get("field_names"), cond_names=conf.get("cond_names"),
    )
    try:
        blob = torch.load(folder / WEIGHTS, map_location=map_location, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        raise InputError(f"unreadable checkpoint weights {folder / WEIGHTS}: {exc}") from None
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in blob["state_dict"].items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(f"checkpoint weights do not match its config in {folder}: {str(exc)[:200]}") from None
    model.to(map_location).eval()
    prov_file = folder / PROVENANCE
    provenance = json.loads(prov_file.read_text(encoding="utf-8")) if prov_file.is_file() else {}
    meta = {"checkpoint": str(folder), "config": conf["model"], "provenance": provenance}
    if with_extra:
        return model, tokenizer, meta, {k: v for k, v in blob.items() if k != "state_dict"}
    return model, tokenizer, meta
