"""The package's import rules (docs/architecture.md), checked on the source's import graph.

Every ``import``/``from ... import`` of a ``videobgm`` module counts, top-level or inside a
function: a function-level import hides a dependency from the reader, not from this test.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "videobgm"

BASE = {"types", "config", "errors", "io", "progress", "schema"}  # the contract every stage may use
STAGES = ("video", "features", "bridges", "plan", "compose", "audio")  # the data flow, in order
TOOLS = {  # packages around the stages: what else each may import
    "music": set(),  # the symbolic data model: lexicon, theory, MIDI, styles, analysis
    "testing": set(),  # synthetic videos: numpy + PyAV only
    "data": {"compose"},  # songs are encoded with the token vocabulary
    "train": {"compose", "plan", "data"},  # trains the decoder and the chord model
    "eval": {"video", "features", "compose", "audio", "data"},  # measures with the stages' own code
    "apps": {"pipeline", "eval", "train", "testing"},  # thin layers over the pipeline
}
# Each cross-stage import the rules above do not allow, with its reason (docs/architecture.md).
EXCEPTIONS = {
    ("schema", "music.lexicon"): "the description schema canonicalises lexicon words",
    ("schema", "music.theory"): "the description schema canonicalises key names",
    ("features.analyze", "video.decode"): "features stream frames from the decoder (memory flat)",
    ("features.semantics", "video.decode"): "labels are computed on frames streamed from the decoder",
    ("features.clip", "video.decode"): "the image-text model scores frames streamed from the decoder",
    ("plan.planner", "bridges.resolve"): "the planner resolves the description it is given",
    ("plan.planner", "bridges.text"): "the plan's description is re-worded with what plays",
    ("bridges.library", "data.pop909"): "`index` builds the library index from POP909 songs",
    ("apps.cli.main", "features.plot"): "`analyze --plot`",
    ("apps.cli.main", "features.semantics"): "`describe --labels-model` loads the local model",
    ("apps.cli.main", "bridges.resolve"): "`describe` resolves the description; `--description` is read",
    ("apps.cli.main", "bridges.text"): "`describe` prints the description",
    ("apps.cli.main", "plan.planner"): "`describe --plan` writes a plan without composing",
    ("apps.cli.main", "audio.transcode"): "output containers are checked before any work",
    ("apps.cli.options", "plan.planner"): "the planner's one validation of the music options",
    ("apps.cli.options", "features.clip"): "--clip-model's folder is checked once, with the options",
    ("apps.cli.tools", "plan.plan_json"): "`eval --plan` reads a plan.json",
    ("apps.cli.tools", "bridges.library"): "`index` builds a music-library index",
    ("apps.ui.limits", "video.decode"): "the upload's probe (length, streams)",
    ("apps.ui.session", "bridges.resolve"): "the edited description box is parsed",
    ("apps.ui.plot", "features.color"): "the feature plot draws each frame's colour as the colour feature defines it",
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    p = SRC.joinpath(*dotted.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def _imports() -> dict[str, set[tuple[str, str]]]:
    """module -> {(imported module, imported name or '')} over the whole source."""
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in sorted(SRC.rglob("*.py")):
        mod = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("videobgm."):
                        out[mod].add((a.name[len("videobgm."):], ""))
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "videobgm":
                base = node.module[len("videobgm."):] if node.module != "videobgm" else ""
                for a in node.names:
                    sub = f"{base}.{a.name}" if base else a.name
                    if _is_module(sub):
                        out[mod].add((sub, ""))
                    else:
                        out[mod].add((base, a.name))
    return out


def _group(mod: str) -> str:
    head = mod.split(".")[0]
    return "base" if head in BASE or mod in ("", "__main__") else head


def _allowed(src: str, dst: str) -> bool:
    a, b = _group(src), _group(dst)
    if a == b or b == "base":
        return True
    if a == "__main__" or src == "__main__":
        return dst == "apps.cli.main"
    if a == "pipeline":
        return b != "apps"
    if a in STAGES:
        return b == "music"
    if a == "base":
        return False
    return b == "music" or b in TOOLS[a]


def test_packages_are_the_data_flow() -> None:
    """Every module lives in a known package; the top level holds only the contract and pipeline."""
    top = {p.stem for p in SRC.glob("*.py")}
    assert top == BASE | {"__init__", "__main__", "pipeline"}, top - BASE
    pkgs = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    assert pkgs == set(STAGES) | set(TOOLS), pkgs


def test_imports_follow_the_rules() -> None:
    bad = []
    used = set()
    for src, targets in _imports().items():
        for dst, _ in targets:
            if _allowed(src, dst):
                continue
            if (src, dst) in EXCEPTIONS:
                used.add((src, dst))
                continue
            bad.append(f"{src} -> {dst}")
    assert not bad, "imports against docs/architecture.md's rules:\n" + "\n".join(sorted(set(bad)))
    assert used == set(EXCEPTIONS), f"exceptions no longer needed: {set(EXCEPTIONS) - used}"


def test_no_import_cycles() -> None:
    graph = {m: {d for d, _ in ts if d and d != m} for m, ts in _imports().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_no_private_names_cross_modules() -> None:
    """``from videobgm.x import _name`` only inside the module's own package-private tests: nowhere."""
    bad = sorted(f"{src} imports {dst}.{name}" for src, ts in _imports().items()
                 for dst, name in ts if name.startswith("_") and not name.startswith("__"))
    tests = Path(__file__).resolve().parent
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("videobgm"):
                bad += [f"{path.relative_to(tests)} imports {node.module}.{a.name}" for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__")]
    assert not bad, "\n".join(bad)


def test_no_re_export_facades() -> None:
    """A module uses what it imports: no ``noqa: F401`` re-export of a project name for other
    modules to reach through (an availability probe of a third-party package is not one)."""
    bad = [f"{p.relative_to(SRC)}:{i}" for p in sorted(SRC.rglob("*.py"))
           for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
           if "noqa: F401" in line and "videobgm" in line]
    assert not bad, bad


def test_the_rules_reject_what_they_should() -> None:
    """The checker itself: a downstream import, a stage reaching an app, a pipeline import from a
    stage are refused; a stage's own package, the contract and music/ are allowed."""
    assert not _allowed("features.motion", "plan.grid")
    assert not _allowed("plan.planner", "compose.sampler")
    assert not _allowed("compose.sampler", "pipeline")
    assert not _allowed("audio.render", "apps.cli.main")
    assert not _allowed("types", "plan.planner")
    assert not _allowed("apps.ui.app", "compose.sampler")
    assert _allowed("compose.sampler", "compose.constraints")
    assert _allowed("plan.planner", "music.theory")
    assert _allowed("audio.render", "config")
    assert _allowed("pipeline", "compose.sampler")
    assert _allowed("apps.cli.main", "pipeline")
