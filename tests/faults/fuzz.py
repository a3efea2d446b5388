"""Mutate the project's models and run the commands on each mutant: every command either runs
(with results equal to PySD's) or fails with one clean line. Used by test_fuzz and, with more
mutants, for the closing-note counts (``python -m tests.faults.fuzz N``)."""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import xarray as xr

from nea_sd.cli import main
from nea_sd.sketch.equations import read_equations
from nea_sd.sketch.parse import SKETCH_START

KINDS = ("delete a character", "delete an equation", "delete a bracket", "swap names")


def mutate(text: str, names: list[str], rng: random.Random) -> tuple[str, str]:
    """One random mutation of the equation section: (new text, description)."""
    cut = text.find(SKETCH_START)
    head, tail = (text, "") if cut < 0 else (text[:cut], text[cut:])
    start = head.find("\n") + 1  # keep the {UTF-8} line
    kind = rng.choice(KINDS)
    if kind == "delete a character":
        spots = [i for i in range(start, len(head)) if not head[i].isspace()]
        i = rng.choice(spots)
        return head[:i] + head[i + 1 :] + tail, f"{kind} {head[i]!r} at {i}"
    if kind == "delete a bracket":
        spots = [i for i in range(start, len(head)) if head[i] in "()[]"]
        i = rng.choice(spots)
        return head[:i] + head[i + 1 :] + tail, f"{kind} {head[i]!r} at {i}"
    entries = [m for m in re.finditer(r"[^|]*\|", head[start:]) if "~" in m.group(0)]
    if kind == "delete an equation":
        entry = rng.choice(entries)
        a, b = start + entry.start(), start + entry.end()
        name = entry.group(0).strip().split("=")[0].split("(")[0].strip()[:40]
        return head[:a] + head[b:] + tail, f"{kind} ({name})"
    for _ in range(50):  # swap names: one use of A in some equation becomes B
        a_name, b_name = rng.sample(names, 2)
        entry = rng.choice(entries)
        body = entry.group(0)
        lhs, eq, rhs = body.partition("=")
        if not eq or a_name not in rhs.split("~")[0]:
            continue
        new = lhs + eq + rhs.replace(a_name, b_name, 1)
        a = start + entry.start()
        return head[:a] + new + head[a + len(body) :] + tail, f"{kind} {a_name!r}->{b_name!r}"
    return text, "unchanged"


def _call(*argv: object) -> tuple[int, str, str, str]:
    """Run the CLI; (exit code, stdout, stderr, exception name or "")."""
    out, err = io.StringIO(), io.StringIO()
    crash = ""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as stop:
            code = int(stop.code or 0)
        except Exception as exc:  # noqa: BLE001 - a traceback is what we count
            code, crash = -1, f"{type(exc).__name__}: {exc}"[:200]
    return code, out.getvalue(), err.getvalue(), crash


def _clean(code: int, err: str, crash: str) -> bool:
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    return not crash and "Traceback" not in err and code == 2 and len(errors) == 1


def _same(a: Path, b: Path) -> bool:
    with xr.open_dataset(a) as x, xr.open_dataset(b) as y:
        for name in x.data_vars:
            if name not in y or x[name].shape != y[name].shape:
                return False
            if not np.allclose(
                x[name].values, y[name].values, rtol=1e-6, atol=1e-9, equal_nan=True
            ):
                return False
    return True


def fuzz(models: list[Path], n: int, seed: int, folder: Path) -> dict:
    """``n`` mutants of each model through check, lint and run (batch, then PySD to compare)."""
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    problems: list[str] = []
    for model in models:
        text = model.read_text(encoding="utf-8")
        names = [eq.name for eq in read_equations(model).variables.values()]
        for k in range(n):
            mutant_text, what = mutate(text, names, rng)
            path = folder / f"{model.stem}_m{k}.mdl"
            path.write_text(mutant_text, encoding="utf-8")
            codes = {}
            for argv in (["check", path], ["lint", path]):
                code, _, err, crash = _call(*argv)
                codes[argv[0]] = code
                counts["inputs"] += 1
                if crash or "Traceback" in err:
                    counts["tracebacks"] += 1
                    problems.append(f"{argv[0]} {what}: {crash or err[-200:]}")
                elif code == 2:
                    counts["clean errors" if _clean(code, err, crash) else "unclean errors"] += 1
                else:
                    counts["ran"] += 1
            if codes["check"] == 2 and codes["lint"] == 0:
                counts["lint passed a model check refused"] += 1
                problems.append(f"lint passed {what} ({model.name}), check refused it")
            batch, pysd = folder / f"b{k}.nc", folder / f"p{k}.nc"
            results = {}
            for engine, target in (("batch", batch), ("pysd", pysd)):
                code, _, err, crash = _call("run", path, "--engine", engine, "--output", target)
                counts["inputs"] += 1
                results[engine] = code
                if crash or "Traceback" in err:
                    counts["tracebacks"] += 1
                    problems.append(f"run --engine {engine} {what}: {crash or err[-200:]}")
                elif code == 0:
                    counts["ran"] += 1
                elif _clean(code, err, crash):
                    counts["clean errors"] += 1
                else:
                    counts["unclean errors"] += 1
                    problems.append(f"run --engine {engine} {what}: {err[-200:]}")
            if results["batch"] == 0 and results["pysd"] == 0 and not _same(batch, pysd):
                counts["silent wrong"] += 1
                problems.append(f"batch and PySD differ after {what} ({model.name})")
            if results["batch"] == 0 and results["pysd"] != 0:
                counts["batch ran, PySD refused"] += 1
            for file in (batch, pysd):
                file.unlink(missing_ok=True)
    for key in (
        "tracebacks",
        "silent wrong",
        "unclean errors",
        "lint passed a model check refused",
    ):
        counts.setdefault(key, 0)
    return {"counts": dict(counts), "problems": problems}


if __name__ == "__main__":  # pragma: no cover - for the closing note's counts
    import tempfile

    from tests.support import MODELS

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    chosen = sys.argv[2].split(",") if len(sys.argv) > 2 else ["richardson", "dyad", "nea"]
    with tempfile.TemporaryDirectory() as tmp:
        report = fuzz([MODELS / f"{m}.mdl" for m in chosen], count, 0, Path(tmp))
    print(json.dumps(report, indent=1))
