"""Optional visual labels ("beach", "city", "forest", ...) from a model loaded from a local path only.

Nothing is downloaded: the user points ``--labels-model PATH`` at one of

* a **TorchScript** image classifier (``.pt`` / ``.pth`` / ``.ts`` / ``.torchscript`` file, or a
  folder holding ``model.pt``/``model.ts``): input float32 ``(N, 3, S, S)`` RGB, scaled to [0, 1]
  and normalised with ``mean``/``std``; output ``(N, C)`` logits. Class names come from a
  ``labels.txt`` embedded as a TorchScript extra file, or a ``labels.txt`` / ``PATH.labels.txt``
  beside it (one name per line). An optional ``preprocess.json`` beside it sets ``size``
  (default 224), ``mean``, ``std`` (default ImageNet).
* a **torch.export** program (``.pt2``, ``torch.export.save``; labels as an ``extra_files``
  entry ``labels.txt`` or beside it; same input conventions);
* an **ONNX** classifier (``.onnx``; same conventions; needs the ``onnxruntime`` package);
* a **CLIP** checkpoint folder (Hugging Face layout, ``config.json`` with ``model_type: clip``),
  used zero-shot over :data:`SCENE_LABELS` (needs ``transformers``; loaded with
  ``local_files_only=True``).

A missing or invalid path raises :class:`~videobgm.errors.MissingDependencyError` with one line
naming the problem; without a model the labels are empty and ``describe`` says so.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from videobgm.errors import MissingDependencyError
from videobgm.io import IMAGE_SUFFIXES

TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".ts", ".torchscript", ".jit")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# zero-shot vocabulary for CLIP (words the text bridge maps to moods/styles)
SCENE_LABELS: tuple[str, ...] = (
    "beach", "sea", "ocean", "sunset", "forest", "nature", "mountain", "city", "night", "party",
    "concert", "sport", "car", "rain", "snow", "wedding", "dog", "cat", "child", "food", "fire",
)
_WHAT = "visual-semantics model"


class LabelsModel:
    """A loaded image classifier: ``predict(frames uint8 (N, H, W, 3)) -> probabilities (N, C)``."""

    def __init__(self, kind: str, labels: list[str], predict_fn: Callable[[np.ndarray], np.ndarray],
                 path: str) -> None:
        self.kind = kind
        self.labels = labels
        self._predict = predict_fn
        self.path = path

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Class probabilities for RGB frames, uint8 (N, H, W, 3) -> float (N, C), rows sum to 1."""
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        out = np.asarray(self._predict(frames), dtype=np.float64)
        if out.ndim != 2 or out.shape[0] != frames.shape[0] or out.shape[1] != len(self.labels):
            raise MissingDependencyError(
                _WHAT, f"{self.path} returned shape {tuple(out.shape)}, expected ({frames.shape[0]}, "
                       f"{len(self.labels)}) (one score per label)")
        if np.all(out >= 0) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3):
            return out
        e = np.exp(out - out.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def _preprocess_cfg(folder: Path) -> dict[str, Any]:
    cfg: dict[str, Any] = {"size": 224, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    p = folder / "preprocess.json"
    if p.is_file():
        try:
            cfg.update(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise MissingDependencyError(_WHAT, f"cannot read {p}: {exc}") from None
    return cfg


def _to_tensor_array(frames: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
    """uint8 (N, H, W, 3) -> float32 (N, 3, S, S), resized, scaled to [0, 1] and normalised."""
    import cv2

    size = int(cfg["size"])
    batch = np.stack([cv2.resize(np.ascontiguousarray(f), (size, size), interpolation=cv2.INTER_AREA)
                      for f in frames]).astype(np.float32) / 255.0
    batch = (batch - np.asarray(cfg["mean"], np.float32)) / np.asarray(cfg["std"], np.float32)
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def _read_labels(*candidates: Path) -> list[str] | None:
    for c in candidates:
        if c.is_file():
            names = [ln.strip() for ln in c.read_text(encoding="utf-8").splitlines() if ln.strip()]
            if names:
                return names
    return None


def _torch_labels_model(kind: str, module: Any, file: Path, raw_labels: str | bytes,
                        embed_hint: str) -> LabelsModel:
    """Wrap a loaded torch module: class names (embedded or beside the file) and ``predict``."""
    import torch

    text = raw_labels.decode("utf-8", "replace") if isinstance(raw_labels, bytes) else str(raw_labels)
    labels = [ln.strip() for ln in text.splitlines() if ln.strip()] or _read_labels(
        file.parent / "labels.txt", file.with_name(file.name + ".labels.txt"))
    if not labels:
        raise MissingDependencyError(_WHAT, f"no class names for {file}: {embed_hint} "
                                            "or put labels.txt beside it")
    cfg = _preprocess_cfg(file.parent)

    def predict(frames: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = module(torch.from_numpy(_to_tensor_array(frames, cfg)))
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.float().cpu().numpy()

    return LabelsModel(kind, labels, predict, str(file))


def _load_torchscript(file: Path) -> LabelsModel:
    import torch

    extra = {"labels.txt": ""}
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated in recent torch but still loads
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(file), map_location="cpu", _extra_files=extra)
    except (RuntimeError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MissingDependencyError(_WHAT, f"{file} is not a TorchScript model ({first})") from None
    module.eval()
    return _torch_labels_model("torchscript", module, file, extra["labels.txt"],
                               "embed labels.txt as a TorchScript extra file")


def _load_exported(file: Path) -> LabelsModel:
    import torch

    extra = {"labels.txt": ""}
    try:
        program = torch.export.load(str(file), extra_files=extra)
    except (RuntimeError, ValueError, OSError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MissingDependencyError(_WHAT, f"{file} is not a torch.export program ({first})") from None
    return _torch_labels_model("torch.export", program.module(), file, extra["labels.txt"],
                               "save labels.txt as an extra file")


def _load_onnx(file: Path) -> LabelsModel:
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError("onnxruntime (needed for an ONNX labels model)",
                                     "pip install onnxruntime, or export the model to TorchScript") from None
    labels = _read_labels(file.parent / "labels.txt", file.with_name(file.name + ".labels.txt"))
    if not labels:
        raise MissingDependencyError(_WHAT, f"no class names for {file}: put labels.txt beside it")
    try:
        sess = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise MissingDependencyError(_WHAT, f"{file} is not a valid ONNX model ({type(exc).__name__})") from None
    name = sess.get_inputs()[0].name
    cfg = _preprocess_cfg(file.parent)
    return LabelsModel("onnx", labels,
                       lambda frames: sess.run(None, {name: _to_tensor_array(frames, cfg)})[0], str(file))


def _load_clip(folder: Path) -> LabelsModel:
    try:
        import torch
        from transformers import CLIPModel, CLIPProcessor
    except ImportError:
        raise MissingDependencyError("transformers (needed for a CLIP labels model)",
                                     "pip install transformers") from None
    try:
        model = CLIPModel.from_pretrained(str(folder), local_files_only=True).eval()
        proc = CLIPProcessor.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MissingDependencyError(_WHAT, f"cannot load CLIP checkpoint {folder} ({first})") from None
    labels = _read_labels(folder / "labels.txt") or list(SCENE_LABELS)
    prompts = [f"a photo of {lab}" for lab in labels]

    def predict(frames: np.ndarray) -> np.ndarray:
        inputs = proc(text=prompts, images=list(frames), return_tensors="pt", padding=True)
        with torch.inference_mode():
            logits = model(**inputs).logits_per_image
        return torch.softmax(logits.float(), dim=-1).cpu().numpy()

    return LabelsModel("clip", labels, predict, str(folder))


def load_labels_model(path: str | Path) -> LabelsModel:
    """Load a labels model from a local path (TorchScript / .pt2 file or folder, ONNX, CLIP folder).

    Raises
    ------
    MissingDependencyError
        The path does not exist, is not a recognised model, or its runtime is not installed.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise MissingDependencyError(_WHAT, f"no such file or folder: {p}")
    if p.is_dir():
        cfg_file = p / "config.json"
        if cfg_file.is_file():
            try:
                model_type = json.loads(cfg_file.read_text(encoding="utf-8")).get("model_type", "")
            except (OSError, json.JSONDecodeError):
                model_type = ""
            if model_type == "clip":
                return _load_clip(p)
        for name in ("model.pt", "model.ts", "model.torchscript", "model.pth"):
            if (p / name).is_file():
                return _load_torchscript(p / name)
        if (p / "model.pt2").is_file():
            return _load_exported(p / "model.pt2")
        if (p / "model.onnx").is_file():
            return _load_onnx(p / "model.onnx")
        raise MissingDependencyError(_WHAT, f"{p} holds no model.pt / model.onnx / CLIP config.json")
    if p.suffix.lower() == ".onnx":
        return _load_onnx(p)
    if p.suffix.lower() == ".pt2":
        return _load_exported(p)
    if p.suffix.lower() in TORCHSCRIPT_SUFFIXES:
        return _load_torchscript(p)
    raise MissingDependencyError(_WHAT, f"{p.name}: unknown model format; accepted: TorchScript "
                                        f"({', '.join(TORCHSCRIPT_SUFFIXES)}), torch.export .pt2, .onnx, a CLIP folder")


def label_frames(model: LabelsModel, times_s: np.ndarray, frames: np.ndarray, *, top_k: int = 1,
                 min_score: float = 0.2) -> list[dict[str, Any]]:
    """Top labels of each frame: ``[{"time_s", "label", "score"}]`` (scores in [0, 1]).

    Parameters
    ----------
    times_s : ndarray, shape (N,)
    frames : ndarray of uint8, shape (N, H, W, 3)
    top_k : int
        Labels kept per frame (those with probability >= ``min_score``).
    """
    probs = model.predict(frames)
    out: list[dict[str, Any]] = []
    for t, row in zip(np.asarray(times_s, dtype=float), probs):
        for i in np.argsort(-row)[:top_k]:
            if row[i] >= min_score:
                out.append({"time_s": round(float(t), 3), "label": model.labels[int(i)],
                            "score": round(float(row[i]), 4)})
    return out


def video_labels(path: str | Path, model_path: str | Path, video_cfg: Any = None, *,
                 every_s: float = 2.0, progress: Callable[[float, float | None], None] | None = None,
                 ) -> list[dict[str, Any]]:
    """Label one frame every ``every_s`` seconds of a video with the model at ``model_path``.

    Returns
    -------
    list of dict
        ``{"time_s", "label", "score"}``, ready for ``Features.labels``.
    """
    from videobgm.video.decode import iter_frames

    model = load_labels_model(model_path)
    labels: list[dict[str, Any]] = []
    for times, frames in iter_frames(path, video_cfg, fps=1.0 / every_s, max_side=256):
        labels += label_frames(model, times, frames)
        if progress is not None and len(times):
            progress(float(times[-1]), None)
    return labels


def labels_for_input(path: str | Path, model: LabelsModel | str | Path, video_cfg: Any = None, *,
                     every_s: float = 2.0) -> list[dict[str, Any]]:
    """Labels for a video (one frame every ``every_s`` s) or a still image (one frame at t = 0).

    ``model`` is a loaded :class:`LabelsModel` or a local path for :func:`load_labels_model`.
    The result goes into ``Features.labels`` before ``describe`` (what ``--labels-model`` does).
    """
    m = model if isinstance(model, LabelsModel) else load_labels_model(model)
    p = Path(path)
    if p.suffix.lower() in IMAGE_SUFFIXES:
        from PIL import Image

        with Image.open(p) as im:
            frame = np.asarray(im.convert("RGB"))
        return label_frames(m, np.zeros(1), frame[None])
    from videobgm.video.decode import iter_frames

    labels: list[dict[str, Any]] = []
    for times, frames in iter_frames(p, video_cfg, fps=1.0 / every_s, max_side=256):
        labels += label_frames(m, times, frames)
    return labels
