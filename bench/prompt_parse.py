"""Prompt parser time against prompt length (issue 13): linear after the fix, quadratic before.

    python bench/prompt_parse.py [--lengths 10000 100000 1000000] [--before OLD_PROMPT_PY]
                                 [--timeout 120] [--out docs/results/prompt_parse.md]

Each measurement runs ``prompt.parse_prompt`` (no text embedding, the length limit lifted) in a
child process under ``--timeout`` seconds. ``--before`` names a copy of an older
``videobgm/bridges/prompt.py`` (e.g. ``git show f3ea7b7:src/videobgm/bridges/prompt.py > /tmp/prompt_before.py``)
measured the same way. Two texts: ordinary prompt words, and mood words only (every word a vote,
the worst case of the old word lookup). The CLI and the UI refuse prompts over
``prompt.MAX_PROMPT_CHARS`` (10,000) characters; the longer rows show what the limit protects.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import load_info, table  # noqa: E402

TEXTS = {
    "prompt words": "calm piano, rainy evening, 80 bpm, D minor, building strings and happy drums ",
    "mood words only": "calm happy sad tense epic playful ",
}
CHILD = """
import importlib.util, sys, time
path, n, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if path == "current":
    from videobgm.bridges import prompt as mod
else:
    spec = importlib.util.spec_from_file_location("prompt_before", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
unit = {texts!r}[kind]
text = (unit * (n // len(unit) + 1))[:n]
kw = {{"max_chars": n}} if "max_chars" in mod.parse_prompt.__code__.co_varnames else {{}}
t0 = time.perf_counter()
mod.parse_prompt(text, use_embeddings=False, **kw)
print(f"{{time.perf_counter() - t0:.4f}}")
"""


def measure(which: str, n: int, kind: str, timeout_s: float) -> str:
    code = CHILD.format(texts=TEXTS)
    try:
        r = subprocess.run([sys.executable, "-c", code, which, str(n), kind], capture_output=True,
                           text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"> {timeout_s:g} (stopped)"
    if r.returncode != 0:
        return f"error: {r.stderr.strip().splitlines()[-1][:80]}"
    return f"{float(r.stdout.strip().splitlines()[-1]):.3f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--before", default=None, help="an older prompt.py to compare with")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per measurement")
    p.add_argument("--out", default=None, help="also write the table to this Markdown file")
    a = p.parse_args()
    rows = []
    for kind in TEXTS:
        for n in a.lengths:
            row = {"text": kind, "characters": f"{n:,}", "now (s)": measure("current", n, kind, a.timeout)}
            if a.before:
                row["before (s)"] = measure(a.before, n, kind, a.timeout)
            rows.append(row)
            print(row, flush=True)
    cols = ["text", "characters", *(["before (s)"] if a.before else []), "now (s)"]
    text = (f"# Prompt parser time against length\n\n`python bench/prompt_parse.py"
            f"{' --before OLD' if a.before else ''}` ({load_info()})\n\n{table(rows, cols)}\n")
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
