"""Optional image-text model (``videobgm.features.clip``, issue 16 part 4).

The model is open_clip's real ``CLIP`` class built from a small ViT config with random weights
(seeded), saved in open_clip's local-folder format and loaded through the user's path
(``--clip-model DIR``); nothing downloads. Known answers come from open_clip itself: the scores
the description reports are recomputed here with open_clip's own encoders and tokenizer.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from videobgm.music import lexicon


def _open_clip():
    from videobgm.errors import MissingDependencyError
    from videobgm.features.clip import import_open_clip

    try:
        return import_open_clip()
    except MissingDependencyError as exc:
        pytest.skip(f"open_clip not importable: {exc}")


# a small ViT-B-style config: the real open_clip architecture, a few seconds on CPU
TINY_CFG = {
    "model_cfg": {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
    },
    "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073],
                       "std": [0.26862954, 0.26130258, 0.27577711]},
}


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory) -> Path:
    open_clip = _open_clip()
    import torch
    from safetensors.torch import save_file

    d = tmp_path_factory.mktemp("tiny_clip")
    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY_CFG["model_cfg"])
    with torch.no_grad():
        model.logit_scale.fill_(math.log(100.0))  # where trained CLIP models end (the clamp)
    (d / "open_clip_config.json").write_text(json.dumps(TINY_CFG), encoding="utf-8")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(d / "open_clip_model.safetensors"))
    return d


@pytest.fixture(scope="module")
def three_scenes(tmp_path_factory) -> dict:
    """15 s, three differently coloured scenes with hard cuts at 5 s and 10 s (3 sections)."""
    from videobgm.testing import synthetic_videos as synth
    cuts = [5.0, 10.0]
    path = synth.write_video(tmp_path_factory.mktemp("clipvid") / "three.mp4",
                             synth.hard_cut(cut_times_s=cuts, width=160, height=96),
                             duration_s=15.0, fps=10.0)
    return {"path": path, "cuts": cuts}


def _describe(capsys, *args: str) -> tuple[int, str, str]:
    from videobgm.apps.cli.main import main

    rc = main(["-q", "describe", *map(str, args)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_preprocess_known_answer():
    """open_clip's inference transform: short side to S, centre crop, (x / 255 - mean) / std."""
    from videobgm.features.clip import preprocess_frames

    cfg = {"size": 32, "mean": (0.5, 0.25, 0.0), "std": (0.5, 0.25, 1.0)}
    flat = np.full((1, 20, 40, 3), 102, np.uint8)  # upscaled 20 -> 32 tall: still flat
    out = preprocess_frames(flat, cfg)
    assert out.shape == (1, 3, 32, 32)
    np.testing.assert_allclose(out[0, :, 5, 7], [(0.4 - 0.5) / 0.5, (0.4 - 0.25) / 0.25, 0.4], atol=1e-6)
    # 64 x 32 (w x h): no resize, the centre 32 columns (16..48): red left half, blue right half
    two = np.zeros((1, 32, 64, 3), np.uint8)
    two[0, :, :32, 0] = 255
    two[0, :, 32:, 2] = 255
    out = preprocess_frames(two, {"size": 32, "mean": (0, 0, 0), "std": (1, 1, 1)})
    assert np.all(out[0, 0, :, :16] == 1.0) and np.all(out[0, 2, :, :16] == 0.0)
    assert np.all(out[0, 0, :, 16:] == 0.0) and np.all(out[0, 2, :, 16:] == 1.0)
    sq = preprocess_frames(two, {"size": 16, "resize_mode": "squash", "mean": (0, 0, 0), "std": (1, 1, 1)})
    assert sq.shape == (1, 3, 16, 16) and sq[0, 0, 8, 2] > 0.99 and sq[0, 2, 8, 13] > 0.99


def test_preprocess_matches_open_clip_transform_when_torchvision_works():
    open_clip = _open_clip()
    try:
        import torchvision  # noqa: F401
    except Exception as exc:  # absent, or a build whose ops do not load beside this torch
        pytest.skip(f"no working torchvision to compare with: {type(exc).__name__}")
    from PIL import Image

    from videobgm.features.clip import preprocess_frames

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 45, 80, 3), dtype=np.uint8)
    tf = open_clip.image_transform(32, is_train=False)
    want = np.stack([tf(Image.fromarray(f)).numpy() for f in frames])
    np.testing.assert_allclose(preprocess_frames(frames, {"size": 32}), want, atol=1e-5)


def test_anchor_groups_come_from_the_lexicon():
    from videobgm.music.lexicon import NO_INSTRUMENT, anchor_groups

    g = anchor_groups()
    assert list(g["mood"]) == list(lexicon.MOODS) and g["mood"]["sad"] == lexicon.MOODS["sad"].anchors
    assert list(g["style"]) == list(lexicon.STYLES)
    assert g["style"]["ambient"] == lexicon.STYLES["ambient"].anchors
    assert list(g["instrument"]) == [*lexicon.INSTRUMENTS, NO_INSTRUMENT]
    assert "a photo of a electric piano" in g["instrument"]["electric_piano"]


def test_scores_every_section_and_label_and_joins_the_description(clip_dir, three_scenes, tmp_path, capsys):
    open_clip = _open_clip()
    import torch

    from videobgm.bridges.clip_labels import section_scores
    from videobgm.bridges.describe import describe, section_boundaries
    from videobgm.config import PipelineConfig
    from videobgm.features.clip import load_clip_model
    from videobgm.music.lexicon import ANCHOR_GROUPS as GROUPS
    from videobgm.music.lexicon import anchor_groups
    from videobgm.pipeline import Pipeline

    cfg = PipelineConfig.preset("tiny")
    cfg = cfg.replace(features=cfg.features.replace(clip_model=str(clip_dir)))
    feats = Pipeline(cfg).analyze(three_scenes["path"])
    rec = feats.meta["clip"]
    times = np.asarray(rec["frame_times_s"])
    # about one frame a second (the video stage's sampling grid), covering the whole clip
    assert 14 <= len(times) <= 16 and np.all(np.diff(times) <= 1.0 + 1e-6) and times[-1] > 14.0
    spans = section_boundaries(feats.duration_s, feats.cut_times_s)
    assert len(spans) == 3, spans
    secs = section_scores(rec, spans)
    groups = anchor_groups()
    for s in secs:  # every section against every label of every group, scores summing to 1
        for g in GROUPS:
            assert list(s[g]) == list(groups[g]) and math.isclose(sum(s[g].values()), 1.0, abs_tol=1e-3)

    # known answer: open_clip's own encoders and tokenizer on the same frames
    from videobgm.features.clip import preprocess_frames
    from videobgm.video.decode import iter_frames

    model = open_clip.create_model(f"local-dir:{clip_dir}")
    tok = open_clip.get_tokenizer(f"local-dir:{clip_dir}")
    frames = np.concatenate([f for _, f in iter_frames(three_scenes["path"], cfg.video, fps=1.0, max_side=64)])
    with torch.no_grad():
        img = model.encode_image(torch.from_numpy(preprocess_frames(frames, model.visual.preprocess_cfg)))
        img = img / img.norm(dim=-1, keepdim=True)
        moods = []
        for phrases in groups["mood"].values():
            t = model.encode_text(tok(list(phrases)))
            t = (t / t.norm(dim=-1, keepdim=True)).mean(0)
            moods.append(t / t.norm())
        probs = (100.0 * img @ torch.stack(moods).T).softmax(dim=-1).numpy()
    np.testing.assert_allclose(np.asarray(rec["scores"]["mood"]), probs, atol=2e-3)
    w = np.array([b - a for a, b in spans])
    overall = sum(wi * probs[(times >= a) & (times < b)].mean(0) for wi, (a, b) in zip(w / w.sum(), spans))
    want_mood = list(groups["mood"])[int(np.argmax(overall))]

    desc = describe(feats)
    assert desc.mood == want_mood and desc.origin("mood") == "clip"
    assert f"clip: {want_mood} {overall.max():.2f}" in desc.reasons["mood"]
    assert desc.origin("style") == "clip" and desc.style in lexicon.STYLES
    assert desc.origin("instruments") == "clip"
    assert desc.mode == lexicon.MOODS[want_mood].mode
    assert "labels" not in desc.reasons and "image-text model tiny_clip" in desc.reasons["clip"]
    for i in range(3):
        assert "clip: " in desc.reasons[f"section {i + 1}"]

    # the same through the CLI, the saved JSON, and what `score` plays (resolve + plan)
    rc, out, err = _describe(capsys, three_scenes["path"], "--preset", "tiny", "--clip-model",
                             clip_dir, "-o", tmp_path / "d.json")
    assert rc == 0, err
    saved = json.loads((tmp_path / "d.json").read_text())
    assert saved["mood"] == want_mood and saved["reasons"]["mood"].startswith("clip: ")
    assert "clip: " in out and "no visual-semantics" not in out
    # deterministic: a second load and run give the same record
    again = Pipeline(cfg).analyze(three_scenes["path"]).meta["clip"]
    assert again == rec
    assert load_clip_model(clip_dir).label_embeddings["style"].shape == (len(lexicon.STYLES), 32)


def test_user_options_stay_above_the_clip_labels(clip_dir, three_scenes):
    from videobgm.bridges.resolve import resolve_description
    from videobgm.config import PipelineConfig
    from videobgm.pipeline import Pipeline

    cfg = PipelineConfig.preset("tiny")
    cfg = cfg.replace(features=cfg.features.replace(clip_model=str(clip_dir)))
    feats = Pipeline(cfg).analyze(three_scenes["path"])
    other = next(m for m in lexicon.MOODS if m != resolve_description(feats).mood)
    d = resolve_description(feats, cfg.plan.replace(mood=other))
    assert d.mood == other and d.origin("mood") == "user option"
    # a user mood brings its own style and mode over the model's, as over the colour estimate
    assert d.style == lexicon.MOODS[other].style and d.mode == lexicon.MOODS[other].mode


def test_frame_budget(clip_dir, three_scenes):
    """At most clip_max_frames frames (sparser sampling); a bad budget fails before any work."""
    from videobgm.config import PipelineConfig
    from videobgm.errors import OptionError
    from videobgm.pipeline import Pipeline

    cfg = PipelineConfig.preset("tiny")
    fc = cfg.features.replace(clip_model=str(clip_dir), clip_max_frames=5)
    rec = Pipeline(cfg.replace(features=fc)).analyze(three_scenes["path"]).meta["clip"]
    assert 4 <= len(rec["frame_times_s"]) <= 6, rec["frame_times_s"]  # one every 3 s of 15 s
    for bad in ({"clip_every_s": 0.0}, {"clip_max_frames": 0}):
        with pytest.raises(OptionError, match="clip_every_s must be > 0"):
            Pipeline(cfg.replace(features=fc.replace(**bad)))


def _record(scores: dict[str, list[list[float]]], times: list[float]) -> dict:
    from videobgm.music.lexicon import anchor_groups

    return {"model": "stub", "frame_times_s": times,
            "labels": {g: list(t) for g, t in anchor_groups().items()}, "scores": scores}


def _onehot(group: str, label: str, hot: float = 1.0) -> list[float]:
    from videobgm.music.lexicon import anchor_groups

    labels = list(anchor_groups()[group])
    rest = (1.0 - hot) / (len(labels) - 1)
    return [hot if lab == label else rest for lab in labels]


def test_join_rules_on_known_scores(static_video):
    """Known answers without a model: the top labels, length weighting, the seen instrument."""
    from videobgm.bridges.describe import describe
    from videobgm.features.analyze import extract_features
    feats = extract_features(static_video["path"])
    # frames at 0, 1, 2, 3 s of one 4 s section: two say sad, one tense, one happy -> sad 0.5
    moods = [_onehot("mood", "sad"), _onehot("mood", "sad"), _onehot("mood", "tense"), _onehot("mood", "happy")]
    feats.meta["clip"] = _record({
        "mood": moods, "style": [_onehot("style", "acoustic", 0.9)] * 4,
        "instrument": [_onehot("instrument", "violin", 0.8)] * 2 + [_onehot("instrument", "violin", 0.4)] * 2,
    }, [0.0, 1.0, 2.0, 3.0])
    d = describe(feats)
    assert d.mood == "sad" and d.reasons["mood"].startswith("clip: sad 0.50 (then happy 0.25, tense 0.25)")
    assert d.style == "acoustic" and d.mode == "minor" and d.origin("mode") == "clip"
    # violin 0.6 >= 0.5: it leads, the style's instruments follow
    assert d.instruments == ["violin", *lexicon.STYLES["acoustic"].instruments]
    assert d.reasons["instruments"].startswith("clip: violin 0.60 seen")
    # violin at 0.4 everywhere: not seen, the style's own instruments
    feats.meta["clip"]["scores"]["instrument"] = [_onehot("instrument", "violin", 0.4)] * 4
    d = describe(feats)
    assert d.instruments == list(lexicon.STYLES["acoustic"].instruments)
    assert "no instrument seen (best violin 0.40 < 0.5)" in d.reasons["instruments"]
    # near-uniform mood and style (< 1.5 x 1/6 = 0.25, < 1.5 x 1/5 = 0.30): the video's own stay
    base = describe(extract_features(static_video["path"]))
    feats.meta["clip"]["scores"]["mood"] = [_onehot("mood", "epic", 0.24)] * 4
    feats.meta["clip"]["scores"]["style"] = [_onehot("style", "electronic", 0.29)] * 4
    d = describe(feats)
    assert (d.mood, d.style, d.mode, d.instruments) == (base.mood, base.style, base.mode, base.instruments)
    assert all(d.origin(f) == "video" for f in ("mood", "style", "mode", "instruments"))
    assert "clip's top mood epic 0.24 < 0.25: too uncertain" in d.reasons["mood"]
    assert "clip's top style electronic 0.29 < 0.30: too uncertain" in d.reasons["style"]


def test_without_model_the_description_says_so(static_video, capsys):
    from videobgm.bridges.describe import NO_LABELS_NOTE

    rc, out, _ = _describe(capsys, static_video["path"], "--preset", "tiny")
    assert rc == 0 and NO_LABELS_NOTE in out and "no visual-semantics or image-text model" in out
    assert "clip:" not in out


@pytest.mark.parametrize("case", ["missing", "file", "no-config", "no-weights", "bad-config"])
def test_wrong_path_is_one_line_and_exit_2(case, tmp_path, static_video, capsys):
    d = tmp_path / "model"
    if case == "file":
        d.write_text("x")
    elif case != "missing":
        d.mkdir()
        if case != "no-config":
            (d / "open_clip_config.json").write_text("{}" if case == "bad-config" else json.dumps(TINY_CFG))
        if case == "bad-config":
            (d / "open_clip_model.safetensors").write_bytes(b"")
    want = {"missing": "no such folder", "file": "is a file", "no-config": "holds no open_clip_config.json",
            "no-weights": "holds no weights", "bad-config": "has no 'model_cfg'"}[case]
    for cmd in (["describe", str(static_video["path"])],
                ["score", str(static_video["path"]), "-o", str(tmp_path / "o.mp4")]):
        from videobgm.apps.cli.main import main

        assert main(["-q", *cmd, "--preset", "tiny", "--clip-model", str(d)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "image-text model (--clip-model) is not available" in err, err
        assert want in err, err
    assert not (tmp_path / "o.mp4").exists()


def test_weights_that_do_not_fit_the_config_are_one_line(clip_dir, tmp_path, static_video, capsys):
    """A folder whose weights belong to another architecture: open_clip's error, one line, exit 2."""
    import shutil

    d = tmp_path / "mismatch"
    shutil.copytree(clip_dir, d)
    cfg = json.loads((d / "open_clip_config.json").read_text())
    cfg["model_cfg"]["vision_cfg"]["width"] = 96
    (d / "open_clip_config.json").write_text(json.dumps(cfg))
    rc, _, err = _describe(capsys, static_video["path"], "--preset", "tiny", "--clip-model", d)
    assert rc == 2 and err.count("\n") == 1 and "open_clip cannot load" in err, err


def test_score_plays_the_clip_description(clip_dir, three_scenes, tmp_path):
    """`score --clip-model`: the plan plays the model's mood/style/instruments; plan.json says so."""
    from videobgm.apps.cli.main import main

    plan_json = tmp_path / "plan.json"
    rc = main(["-q", "score", str(three_scenes["path"]), "--preset", "tiny", "--untrained",
               "--clip-model", str(clip_dir), "--midi", str(tmp_path / "m.mid"), "--plan", str(plan_json),
               "-o", str(tmp_path / "o.mp4")])
    assert rc == 0
    rec = json.loads(plan_json.read_text())
    desc, plan = rec["description"], rec["plan"]
    assert desc["reasons"]["mood"].startswith("clip: ") and desc["reasons"]["style"].startswith("clip: ")
    assert plan["mood"] == desc["mood"] and plan["style"] == desc["style"]
    assert rec["config"]["features"]["clip_model"] == str(clip_dir)


@pytest.mark.parametrize("bad", ["not-a-dict", "old-labels", "short-rows", "nan"])
def test_an_edited_clip_record_that_does_not_fit_is_one_line(bad, static_video, tmp_path, capsys):
    """A features JSON whose meta.clip does not fit the lexicon: one line, exit 2 (no traceback)."""
    from videobgm.features.analyze import extract_features
    from videobgm.schema import features_json
    feats = extract_features(static_video["path"])
    rec = _record({"mood": [_onehot("mood", "sad")] * 2, "style": [_onehot("style", "pop")] * 2,
                   "instrument": [_onehot("instrument", "none")] * 2}, [0.0, 1.0])
    if bad == "not-a-dict":
        rec = [1, 2]
    elif bad == "old-labels":
        rec["labels"]["mood"][0] = "gloomy"
    elif bad == "short-rows":
        rec["scores"]["style"] = rec["scores"]["style"][:1]
    else:
        rec["scores"]["mood"][0][0] = float("nan")
    feats.meta["clip"] = rec
    p = tmp_path / "f.json"
    p.write_text(features_json(feats).replace("NaN", "1e999"))
    rc, _, err = _describe(capsys, p)
    assert rc == 2 and err.count("\n") == 1 and "features.meta.clip" in err, err
