"""Benchmark of the compiled backend's kernel forms (not collected by pytest).

    python tests/engine/benchmark_kernels.py cold --reps 3 --forms blocks single
    python tests/engine/benchmark_kernels.py speed --runs 10000 --reps 5 --threads 1
    python tests/engine/benchmark_kernels.py speed --model models/dyad.mdl --threads 1

``cold``: the first ``simulate(..., backend="numba")`` of the model in a new process whose kernel
and numba caches are empty folders, for ``blocks`` and ``single`` alternately (so both see the
same machine load); prints each time, the medians and their ratio.

``speed``: the cost per run of ``--runs`` parameter sets drawn within the model's ranges, stocks
saved yearly, in one process per form and repetition, alternating, each loading its kernel from
a cache warmed before the clock; prints medians and the median of the paired ratios.

``--cheap-maths`` (an experiment: results are wrong, only the time counts): every exp, log and
pow of the generated kernel becomes a few inlined multiplications, in the one-function and the
lane kernel, to bound what vectorised transcendental functions could save.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

FORMS = ("blocks", "single", "lanes")
MODEL = Path(__file__).resolve().parents[2] / "models" / "nea.mdl"

_COLD = """
import json, sys, time
from nea_sd.engine.batch import compile_model
batch = compile_model(sys.argv[1])
t = time.perf_counter()
batch.simulate({}, backend="numba")
print(json.dumps({"seconds": time.perf_counter() - t}))
"""

_CHEAP_MATHS = """
import ast
from nea_sd.engine.batch import kernel as _kernel_module
_HELPERS = '''
from numba import njit as _nj
@_nj(inline='always')
def _fpow(a, b):
    return a * (1.0 + 0.001 * b)
@_nj(inline='always')
def _fexp(x):
    return 1.0 + x * (1.0 + 0.5 * x)
@_nj(inline='always')
def _flog(x):
    return x - 1.0
'''
class _Cheap(ast.NodeTransformer):
    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow):
            return ast.Call(ast.Name('_fpow', ast.Load()), [node.left, node.right], [])
        return node
    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Attribute) and node.func.attr in ('exp', 'log'):
            return ast.Call(ast.Name('_f' + node.func.attr, ast.Load()), node.args, [])
        return node
_generate = _kernel_module.generate
def _cheap_generate(model):
    source, consts, candidates = _generate(model)
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            _Cheap().visit(node)
    source = ast.unparse(ast.fix_missing_locations(tree)) + chr(10)
    head = 'from numba import njit' + chr(10)
    return source.replace(head, head + _HELPERS, 1), consts, candidates
_kernel_module.generate = _cheap_generate
"""

_SPEED = """
import json, sys, time
kw = {}
if len(sys.argv) > 3:  # --cheap-maths: wrong numbers, some of them non-finite
    exec(sys.argv[3])
    kw = {"nonfinite": "nan"}
from nea_sd.engine.batch import compile_model
from nea_sd.engine.batch.sampling import sample_within_ranges
from nea_sd.model import load_model
path, n = sys.argv[1], int(sys.argv[2])
batch, model = compile_model(path), load_model(path)
draws = sample_within_ranges(model.parameters, n, seed=1)
batch.simulate({}, backend="numba")  # loads the cached kernel before the clock
t = time.perf_counter()
batch.simulate(draws, backend="numba", saveper=1.0, outputs=list(model.stocks), **kw)
print(json.dumps({"seconds": (time.perf_counter() - t) / n}))
"""


def _run(script: str, args: list[str], env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def cold(model: Path, reps: int, forms: list[str], base: dict[str, str]) -> dict[str, list[float]]:
    """First-simulate seconds per form, ``reps`` alternating repetitions on empty caches."""
    times: dict[str, list[float]] = {f: [] for f in forms}
    for _ in range(reps):
        for form in forms:
            with tempfile.TemporaryDirectory() as tmp:
                env = {
                    **base,
                    "NEA_SD_KERNEL": form,
                    "NEA_SD_KERNELS": f"{tmp}/kernels",
                    "NUMBA_CACHE_DIR": f"{tmp}/numba",
                }
                times[form].append(_run(_COLD, [str(model)], env))
                print(f"{form}: {times[form][-1]:.1f} s", flush=True)
    return times


def speed(
    model: Path, runs: int, reps: int, forms: list[str], base: dict[str, str], cheap: bool = False
) -> dict[str, list[float]]:
    """Seconds per run per form, ``reps`` alternating repetitions on warm caches."""
    times: dict[str, list[float]] = {f: [] for f in forms}
    with tempfile.TemporaryDirectory() as tmp:
        envs = {
            f: {
                **base,
                "NEA_SD_KERNEL": f,
                "NEA_SD_KERNELS": f"{tmp}/{f}/kernels",
                "NUMBA_CACHE_DIR": f"{tmp}/{f}/numba",
            }
            for f in forms
        }
        patch = [_CHEAP_MATHS] if cheap else []
        for form in forms:  # warm each form's cache
            _run(_SPEED, [str(model), "10", *patch], envs[form])
        for _ in range(reps):
            for form in forms:
                times[form].append(_run(_SPEED, [str(model), str(runs), *patch], envs[form]))
                print(f"{form}: {times[form][-1] * 1e3:.3f} ms/run", flush=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("cold", "speed"))
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--forms", nargs="+", choices=FORMS, default=list(FORMS))
    parser.add_argument("--threads", type=int, help="NEA_SD_THREADS (1: cost per core)")
    parser.add_argument("--cheap-maths", action="store_true", help="exp/log/pow made cheap")
    args = parser.parse_args()
    if args.cheap_maths and "blocks" in args.forms:
        parser.error("--cheap-maths rewrites the one-function kernel: use --forms single lanes")
    base = {"NEA_SD_THREADS": str(args.threads)} if args.threads else {}
    if args.what == "cold":
        times = cold(args.model, args.reps, args.forms, base)
        unit, scale = "s", 1.0
    else:
        times = speed(args.model, args.runs, args.reps, args.forms, base, args.cheap_maths)
        unit, scale = "ms/run", 1e3
    for form, values in times.items():
        print(f"{form}: median {statistics.median(values) * scale:.3f} {unit}")
    if "single" in times:  # paired: repetition k of each form ran back to back
        for form in (f for f in times if f != "single"):
            ratios = [a / s for a, s in zip(times[form], times["single"], strict=True)]
            print(f"{form} / single: median ratio {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
