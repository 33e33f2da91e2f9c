"""Optional image-text (CLIP-style) model: every section's frames scored zero-shot against the
lexicon's mood, style and instrument anchors (issue 16, part 4).

Nothing downloads: the user gives a **local folder** in open_clip's own format (what
``open_clip.create_model_from_pretrained("local-dir:PATH")`` reads, the same files as an open_clip
model on a model hub)::

    PATH/open_clip_config.json          {"model_cfg": {...}, "preprocess_cfg": {...}}
    PATH/open_clip_model.safetensors    (or open_clip_pytorch_model.bin) -- the weights
                                        (open_clip takes any *.safetensors / *.bin / *.pth,
                                        those names first)

``model_cfg`` is an open_clip architecture config (``embed_dim``, ``vision_cfg``, ``text_cfg``,
e.g. the ``ViT-B-32.json`` shipped in open_clip's ``model_configs``); ``preprocess_cfg`` its image
size, mean and std. It is loaded with ``HF_HUB_OFFLINE=1``, so a config that would fetch a text
tower or tokenizer from a hub fails with the one-line error below instead of downloading.

``videobgm describe|score VIDEO --clip-model PATH`` (``FeaturesConfig.clip_model``):

1. :func:`check_model_folder` -- once, where the other controls are checked
   (``cli_options.config_from_args``): a missing path, a file, a folder without
   ``open_clip_config.json`` / weights, or a config without ``model_cfg`` is one line, exit 2.
2. :func:`load_clip_model` -- the model (``Pipeline`` loads it before any long work); the text
   side encodes :func:`anchor_groups` once: each mood's and style's ``anchors`` from
   :mod:`videobgm.music.lexicon` (the one lexicon) and one prompt per instrument, plus a ``none`` prompt
   for "no instrument in sight". A label's embedding is the normalised mean of its anchors'.
3. :func:`clip_scores` -- frames from the video stage's sampling (``video.iter_frames``, one
   every ``clip_every_s``, at most ``clip_max_frames``; a still image is one frame), their
   softmax scores per group (open_clip's zero-shot rule: ``logit_scale * cos``), stored in
   ``Features.meta["clip"]``.
4. :func:`join_description` (called by ``describe.describe``) -- scores per description section
   (the mean over its frames), the length-weighted mean over the video, and the top labels into the
   description with their scores as reasons, origin ``clip`` (``Description.origin``): the top
   mood (with its mood's mode) and the top style replace the colour/motion estimate when they
   reach ``MIN_SHARE`` x the uniform share (else the reason says "too uncertain"); a seen instrument (top of the
   instrument group, ``none`` included, with at least ``INSTRUMENT_MIN_SCORE``) leads the style's
   instruments. Edits and user options are laid over it as over every video value.

open_clip lists torchvision and timm as dependencies but its CLIP model classes need neither:
``scripts/setup.sh`` installs it with ``--no-deps`` (a PyPI torchvision is a CUDA build whose
import fails beside a CPU torch, and breaks transformers' import with it), frames are
preprocessed here exactly as open_clip's inference transform does (:func:`preprocess_frames`), and
:func:`import_open_clip` imports open_clip without torchvision when it is absent or broken.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.errors import MissingDependencyError
from videobgm.music import lexicon

CONFIG_FILE = "open_clip_config.json"
WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")  # the usual names
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth")  # what open_clip's local-dir loader picks from
BATCH = 32
_WHAT = "the image-text model (--clip-model)"
_HINT_INSTALL = ("install the 'clip' extra and open_clip without its torchvision (scripts/setup.sh: "
                 "pip install 'videobgm[clip]' then pip install --no-deps open_clip_torch==3.3.0)")


def _fail(problem: str) -> MissingDependencyError:
    return MissingDependencyError(_WHAT, problem)


def check_model_folder(path: str | os.PathLike[str]) -> Path:
    """The cheap check of ``--clip-model PATH`` (no heavy import): the folder, its config with a
    ``model_cfg`` and a weights file. Raises :class:`MissingDependencyError` (one line)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise _fail(f"no such folder: {p}")
    if not p.is_dir():
        raise _fail(f"{p} is a file; give the folder holding {CONFIG_FILE} and {WEIGHT_FILES[0]}")
    cfg = p / CONFIG_FILE
    if not cfg.is_file():
        raise _fail(f"{p} holds no {CONFIG_FILE} (an open_clip model folder has {CONFIG_FILE} "
                    f"and {' or '.join(WEIGHT_FILES)})")
    try:
        data = json.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(f"cannot read {cfg}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("model_cfg"), dict):
        raise _fail(f"{cfg} has no 'model_cfg' object (open_clip's local-folder config)")
    # without weights open_clip would build the model with random ones (a warning only)
    if not any(f.is_file() and f.suffix in WEIGHT_SUFFIXES for f in p.iterdir()):
        raise _fail(f"{p} holds no weights ({' or '.join(WEIGHT_FILES)})")
    return p


_STAND_IN_MODULES = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional",
                     "torchvision.ops", "torchvision.ops.misc")


def _torchvision_stand_in() -> dict[str, Any]:
    """Modules that answer every name open_clip imports from torchvision at import time with a
    placeholder class (attributes such as ``InterpolationMode.BICUBIC`` are the class itself);
    making one raises. open_clip's model classes need none of them; its image transforms do, and
    :func:`preprocess_frames` replaces those."""
    import types

    class _Placeholder(type):
        def __getattr__(cls, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            return cls

    def placeholder(name: str) -> Any:
        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            raise MissingDependencyError("torchvision", f"open_clip's {name} needs it; videobgm "
                                                        "preprocesses frames itself")

        return _Placeholder(name, (), {"__init__": init})

    mods: dict[str, Any] = {}
    for name in _STAND_IN_MODULES:
        mod = types.ModuleType(name, "videobgm stand-in while importing open_clip (videobgm.features.clip)")
        mod.__getattr__ = lambda attr: placeholder(attr)  # type: ignore[method-assign]
        mods[name] = mod
    for name, mod in mods.items():
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(mods[parent], child, mod)
    return mods


def import_open_clip() -> Any:
    """``import open_clip`` -- with torchvision when it works, else without it.

    open_clip imports torchvision's transforms (and ``FrozenBatchNorm2d``) at import time, for its
    training and preprocessing code only. When torchvision is not installed, or is a build whose
    C++ ops do not load against the installed torch (a CUDA ``torchvision`` wheel beside a CPU
    ``torch``: its import then fails), open_clip is imported with :func:`_torchvision_stand_in`
    in ``sys.modules`` for the length of that import only, and ``timm`` (which needs torchvision)
    hidden; afterwards ``sys.modules`` holds no torchvision entry, so other libraries (e.g.
    transformers) see torchvision as absent, as it is.
    """
    import sys

    if "open_clip" in sys.modules:
        return sys.modules["open_clip"]
    try:
        import open_clip

        return open_clip
    except ImportError as exc:
        if not (exc.name or "").startswith(("torchvision", "timm")):
            what = "open_clip" if exc.name in (None, "open_clip") else f"open_clip (needs {exc.name})"
            raise MissingDependencyError(what, _HINT_INSTALL) from None
    except RuntimeError as exc:  # torchvision's import with its C++ ops unloadable
        if "torchvision" not in str(exc):
            raise MissingDependencyError("open_clip", f"its import failed: {str(exc).splitlines()[0]}") from None
    for name in [n for n in sys.modules if n.split(".")[0] in ("torchvision", "open_clip", "timm")]:
        del sys.modules[name]  # what the failed attempt left half-imported
    hidden = ["timm"]  # needs torchvision: open_clip then runs without timm towers
    try:  # what open_clip's hf_model imports from transformers, before the stand-in is there
        from transformers import AutoConfig, AutoModel, AutoTokenizer, PretrainedConfig  # noqa: F401
        from transformers.modeling_outputs import BaseModelOutput  # noqa: F401
    except Exception:  # noqa: BLE001 - absent or broken: open_clip then runs without HF towers
        hidden.append("transformers")
    saved = {n: sys.modules[n] for n in hidden if n in sys.modules}
    stand_in = _torchvision_stand_in()
    sys.modules.update(stand_in)
    sys.modules.update(dict.fromkeys(hidden))  # None: `import timm` raises ImportError
    try:
        import open_clip
    except ImportError as exc:
        raise MissingDependencyError(f"open_clip (needs {exc.name or 'a dependency'})", _HINT_INSTALL) from None
    finally:
        for name in (*stand_in, *hidden):
            sys.modules.pop(name, None)
        sys.modules.update(saved)
    return open_clip


def preprocess_frames(frames: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
    """open_clip's inference transform on uint8 RGB frames -> float32 (N, 3, S, S), the same
    steps and PIL resampling as its ``image_transform(..., is_train=False)``: ``resize_mode``
    ``shortest`` (default: the short side to S, centre crop), ``squash`` or ``longest`` (the long
    side to S, centred on ``fill_color``); then [0, 1] and ``(x - mean) / std``."""
    from PIL import Image

    size = cfg.get("size", 224)
    s = int(size[0] if isinstance(size, (tuple, list)) else size)
    interp = Image.BILINEAR if cfg.get("interpolation") == "bilinear" else Image.BICUBIC
    mode = cfg.get("resize_mode", "shortest")
    out = np.empty((len(frames), 3, s, s), np.float32)
    mean = np.asarray(cfg.get("mean", (0.48145466, 0.4578275, 0.40821073)), np.float32)
    std = np.asarray(cfg.get("std", (0.26862954, 0.26130258, 0.27577711)), np.float32)
    for i, f in enumerate(frames):
        im = Image.fromarray(np.ascontiguousarray(f))
        w, h = im.size
        if mode == "squash":
            im = im.resize((s, s), interp)
        elif mode == "longest":
            scale = s / max(w, h)
            im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), interp)
            canvas = Image.new("RGB", (s, s), (int(cfg.get("fill_color", 0)),) * 3)
            canvas.paste(im, ((s - im.size[0]) // 2, (s - im.size[1]) // 2))
            im = canvas
        else:  # torchvision Resize(int): short side to s, the long one truncated; then CenterCrop
            nw, nh = (s, int(s * h / w)) if w <= h else (int(s * w / h), s)
            if (nw, nh) != (w, h):
                im = im.resize((nw, nh), interp)
            top, left = int(round((nh - s) / 2.0)), int(round((nw - s) / 2.0))
            im = im.crop((left, top, left + s, top + s))
        a = np.asarray(im.convert("RGB"), np.float32) / 255.0
        out[i] = ((a - mean) / std).transpose(2, 0, 1)
    return out


@dataclass
class ClipModel:
    """A loaded image-text model with the lexicon's anchors encoded.

    ``label_embeddings[group]`` is (labels, D), unit rows; ``encode_images(frames)`` gives unit
    (N, D) rows for uint8 RGB frames (N, H, W, 3); ``logit_scale`` is the model's own.
    """

    path: str
    name: str
    labels: dict[str, tuple[str, ...]]
    label_embeddings: dict[str, np.ndarray]
    logit_scale: float
    image_size: int
    encode_images: Callable[[np.ndarray], np.ndarray]

    def scores(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        """Group -> softmax scores (N, labels) of ``frames`` (open_clip's zero-shot rule)."""
        if len(frames) == 0:
            return {g: np.zeros((0, len(self.labels[g]))) for g in lexicon.ANCHOR_GROUPS}
        emb = np.concatenate([self.encode_images(frames[i:i + BATCH])
                              for i in range(0, len(frames), BATCH)])
        out = {}
        for g in lexicon.ANCHOR_GROUPS:
            logits = self.logit_scale * emb.astype(np.float64) @ self.label_embeddings[g].T.astype(np.float64)
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            out[g] = e / e.sum(axis=1, keepdims=True)
        return out


def load_clip_model(path: str | os.PathLike[str]) -> ClipModel:
    """Load the open_clip model in the local folder ``path`` (see the module notes), offline.

    Raises
    ------
    MissingDependencyError
        The folder is missing or wrong (:func:`check_model_folder`), open_clip is not installed,
        or open_clip cannot build the model from it (one line).
    """
    folder = check_model_folder(path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import logging

    import torch

    open_clip = import_open_clip()
    logging.getLogger("root").setLevel(logging.WARNING)
    ident = f"local-dir:{folder}"
    try:
        model = open_clip.create_model(ident, device="cpu", pretrained_image=False,
                                       pretrained_text=False)
        tokenizer = open_clip.get_tokenizer(ident)
    except Exception as exc:  # open_clip raises RuntimeError/ValueError/KeyError/OSError for bad folders
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise _fail(f"open_clip cannot load {folder} ({type(exc).__name__}: {first[:200]})") from None
    model.eval()
    groups = lexicon.anchor_groups()
    phrases = [ph for table in groups.values() for anchors in table.values() for ph in anchors]
    label_emb: dict[str, np.ndarray] = {}
    with torch.inference_mode():  # all anchors in few batches: ViT-B-32 11 s here, 35 s label by label
        t = torch.cat([model.encode_text(tokenizer(phrases[i:i + 128])).float()
                       for i in range(0, len(phrases), 128)])
        t = (t / t.norm(dim=-1, keepdim=True).clamp_min(1e-12)).cpu().numpy().astype(np.float64)
        at = 0
        for g, table in groups.items():
            rows = []
            for anchors in table.values():
                m = t[at:at + len(anchors)].mean(axis=0)
                rows.append(m / max(float(np.linalg.norm(m)), 1e-12))
                at += len(anchors)
            label_emb[g] = np.stack(rows)
        scale = float(model.logit_scale.exp().item()) if hasattr(model, "logit_scale") else 100.0
    pp = dict(open_clip.get_model_preprocess_cfg(model))
    size = pp.get("size", 224)
    size = int(size[0] if isinstance(size, (tuple, list)) else size)

    def encode_images(frames: np.ndarray) -> np.ndarray:
        batch = torch.from_numpy(preprocess_frames(frames, pp))
        with torch.inference_mode():
            e = model.encode_image(batch).float()
        return (e / e.norm(dim=-1, keepdim=True).clamp_min(1e-12)).cpu().numpy()

    return ClipModel(str(folder), folder.name, {g: tuple(t) for g, t in groups.items()},
                     label_emb, scale, size, encode_images)


def check_sampling(every_s: Any, max_frames: Any) -> None:
    """``FeaturesConfig.clip_every_s`` > 0 and ``clip_max_frames`` >= 1 (one-line OptionError)."""
    from videobgm.errors import OptionError

    try:
        ok = float(every_s) > 0 and int(max_frames) >= 1 and float(max_frames) == int(max_frames)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise OptionError(f"clip_every_s must be > 0 s and clip_max_frames a whole number >= 1, "
                          f"got {every_s!r} and {max_frames!r}")


def clip_scores(path: str | os.PathLike[str], model: ClipModel, video_cfg: Any = None, *,
                duration_s: float | None = None, every_s: float = 1.0,
                max_frames: int = 600) -> dict[str, Any]:
    """Score frames of a video (one every ``every_s`` s, at most ``max_frames``; a still image:
    its one frame at t = 0) -> the ``Features.meta["clip"]`` record::

        {"model": NAME, "frame_times_s": [...], "labels": {group: [...]},
         "scores": {group: [[score per label] per frame]}, "logit_scale": S}
    """
    from videobgm.io import IMAGE_SUFFIXES

    check_sampling(every_s, max_frames)
    p = Path(path)
    if p.suffix.lower() in IMAGE_SUFFIXES:
        from PIL import Image

        with Image.open(p) as im:
            frames = np.asarray(im.convert("RGB"))[None]
        times = np.zeros(1)
    else:
        from videobgm.video.decode import iter_frames

        step = float(every_s)
        if duration_s and duration_s / step > max_frames:
            step = float(duration_s) / max_frames
        # the short side at least the model's input size for frames up to 2:1
        side = max(2 * model.image_size, 64)
        ts: list[np.ndarray] = []
        fs: list[np.ndarray] = []
        for t, f in iter_frames(p, video_cfg, fps=1.0 / step, max_side=side):
            ts.append(t)
            fs.append(f)
        times = np.concatenate(ts) if ts else np.zeros(0)
        frames = np.concatenate(fs) if fs else np.zeros((0, 1, 1, 3), np.uint8)
    scores = model.scores(frames)
    return {"model": model.name, "frame_times_s": [round(float(t), 3) for t in times],
            "labels": {g: list(model.labels[g]) for g in lexicon.ANCHOR_GROUPS},
            "scores": {g: np.round(scores[g], 5).tolist() for g in lexicon.ANCHOR_GROUPS},
            "logit_scale": round(model.logit_scale, 4)}


