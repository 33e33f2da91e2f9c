"""Visual labels from a local model: a tiny TorchScript classifier built here (real loading path)."""

from __future__ import annotations

import numpy as np
import pytest

from videobgm.errors import MissingDependencyError
from videobgm.features import (
    semantics,  # the tests build TorchScript models on purpose (deprecated in recent torch, still what users have)
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class _MeanColour:
    """Factory for a 2-class classifier: red-dominant frames -> class 0, blue-dominant -> class 1."""

    @staticmethod
    def module():
        import torch

        class M(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.fc = torch.nn.Linear(3, 2)
                with torch.no_grad():
                    self.fc.weight.copy_(torch.tensor([[1.0, 0.0, -1.0], [-1.0, 0.0, 1.0]]))
                    self.fc.bias.zero_()

            def forward(self, x):  # noqa: ANN001, ANN202
                return self.fc(x.mean(dim=(2, 3)))

        return M().eval()

    @staticmethod
    def build():
        import torch

        torch.set_num_threads(1)
        return torch.jit.trace(_MeanColour.module(), torch.zeros(1, 3, 16, 16))


def _frames(colours, size=(24, 32)):
    return np.stack([np.tile(np.array(c, np.uint8), (*size, 1)) for c in colours])


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    pytest.importorskip("torch")
    import torch

    d = tmp_path_factory.mktemp("labels")
    path = d / "colour.pt"
    torch.jit.save(_MeanColour.build(), str(path), _extra_files={"labels.txt": "sunset\nocean\n"})
    return path


def test_torchscript_with_embedded_labels(tiny_model):
    model = semantics.load_labels_model(tiny_model)
    assert model.kind == "torchscript" and model.labels == ["sunset", "ocean"]
    frames = _frames([(230, 40, 20), (20, 40, 230), (200, 60, 40)])
    probs = model.predict(frames)
    assert probs.shape == (3, 2) and np.allclose(probs.sum(axis=1), 1.0)
    labels = semantics.label_frames(model, np.array([0.0, 2.0, 4.0]), frames)
    assert [(x["time_s"], x["label"]) for x in labels] == [(0.0, "sunset"), (2.0, "ocean"), (4.0, "sunset")]
    assert all(0.5 < x["score"] <= 1.0 for x in labels)


def test_folder_with_sidecar_labels_and_preprocess(tmp_path, tiny_model):
    import torch

    d = tmp_path / "clf"
    d.mkdir()
    torch.jit.save(torch.jit.load(str(tiny_model)), str(d / "model.pt"))  # no embedded labels
    with pytest.raises(MissingDependencyError, match="labels.txt"):
        semantics.load_labels_model(d)
    (d / "labels.txt").write_text("warm\ncold\n")
    (d / "preprocess.json").write_text('{"size": 8, "mean": [0, 0, 0], "std": [1, 1, 1]}')
    model = semantics.load_labels_model(d)
    assert model.labels == ["warm", "cold"]
    out = semantics.label_frames(model, np.zeros(1), _frames([(10, 10, 250)]))
    assert out[0]["label"] == "cold"


def test_torch_export_program(tmp_path):
    import torch

    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(_MeanColour.module(), (torch.zeros(2, 3, 16, 16),),
                                  dynamic_shapes={"x": {0: batch, 2: torch.export.Dim.AUTO,
                                                        3: torch.export.Dim.AUTO}}, strict=False)
    path = tmp_path / "colour.pt2"
    torch.export.save(program, str(path), extra_files={"labels.txt": "sunset\nocean\n"})
    model = semantics.load_labels_model(path)
    assert model.kind == "torch.export"
    out = semantics.label_frames(model, np.array([0.0, 1.0]), _frames([(20, 30, 240), (240, 30, 20)]))
    assert [x["label"] for x in out] == ["ocean", "sunset"]


def test_bad_paths_give_one_line_errors(tmp_path):
    with pytest.raises(MissingDependencyError, match="no such file"):
        semantics.load_labels_model(tmp_path / "nothing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(MissingDependencyError, match="not a TorchScript model") as e:
        semantics.load_labels_model(junk)
    assert "\n" not in str(e.value)
    pkl = tmp_path / "x.pkl"
    pkl.write_text("x")
    with pytest.raises(MissingDependencyError, match="unknown model format"):
        semantics.load_labels_model(pkl)
    empty = tmp_path / "emptydir"
    empty.mkdir()
    with pytest.raises(MissingDependencyError, match="holds no model"):
        semantics.load_labels_model(empty)
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    with pytest.raises(MissingDependencyError):
        semantics.load_labels_model(onnx)


def test_wrong_output_shape_is_refused(tmp_path, tiny_model):
    import torch

    path = tmp_path / "three.pt"
    torch.jit.save(torch.jit.load(str(tiny_model)), str(path), _extra_files={"labels.txt": "a\nb\nc\n"})
    model = semantics.load_labels_model(path)
    with pytest.raises(MissingDependencyError, match="expected"):
        model.predict(_frames([(1, 2, 3)]))


def test_video_labels_follow_the_colour(tmp_path, tiny_model):
    from videobgm.testing import synthetic_videos as synth
    def frame(t):
        c = (220, 40, 30) if t < 3.0 else (30, 40, 220)
        return np.tile(np.array(c, np.uint8), (120, 160, 1))

    video = synth.write_video(tmp_path / "redblue.mp4", frame, duration_s=6.0, fps=10.0, width=160, height=120)
    labels = semantics.video_labels(video, tiny_model, every_s=1.0)
    assert labels, "no labels"
    for lab in labels:
        want = "sunset" if lab["time_s"] < 2.9 else "ocean" if lab["time_s"] > 3.1 else lab["label"]
        assert lab["label"] == want, lab


def test_describe_cli_with_and_without_model(tmp_path, tiny_model, capsys):
    from PIL import Image

    from videobgm.apps.cli.main import main
    from videobgm.bridges.describe import NO_LABELS_NOTE

    img = tmp_path / "beach.png"
    Image.fromarray(_frames([(30, 60, 230)])[0]).save(img)
    assert main(["describe", str(img), "--duration", "10"]) == 0
    assert NO_LABELS_NOTE in capsys.readouterr().out
    assert main(["describe", str(img), "--duration", "10", "--labels-model", str(tiny_model),
                 "-o", str(tmp_path / "d.json")]) == 0
    out = capsys.readouterr().out
    assert "visual labels: ocean" in out and (tmp_path / "d.json").is_file()
    assert main(["describe", str(img), "--duration", "10", "--labels-model", str(tmp_path / "none.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "visual-semantics model is not available" in err


def test_score_with_labels_model_puts_labels_in_plan(tmp_path, tiny_model):
    import json

    from videobgm.config import PipelineConfig
    from videobgm.pipeline import Pipeline
    from videobgm.testing import synthetic_videos as synth

    video = synth.write_video(tmp_path / "red.mp4", lambda t: np.tile(np.array((220, 40, 30), np.uint8), (120, 160, 1)),
                              duration_s=4.0, fps=10.0, width=160, height=120)
    pipe = Pipeline(PipelineConfig.preset("tiny"), untrained=True, labels_model=tiny_model)
    res = pipe.run(video, None, plan_json=tmp_path / "plan.json")
    assert res.features.labels and {lab["label"] for lab in res.features.labels} == {"sunset"}
    rec = json.loads((tmp_path / "plan.json").read_text())
    assert "sunset" in json.dumps(rec["description"])


def test_pipeline_refuses_bad_labels_model_at_once(tmp_path):
    from videobgm.config import PipelineConfig
    from videobgm.pipeline import Pipeline

    with pytest.raises(MissingDependencyError):
        Pipeline(PipelineConfig.preset("tiny"), labels_model=tmp_path / "nope.pt")
