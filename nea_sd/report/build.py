"""The report assembled: the context built once, every section of the registry computed (a
section whose module is absent is listed as not computed), and the three outputs —
``report.html`` (self-contained, figures embedded as PNG), ``report.md`` and ``report.nc``
(every section's numbers in its own group, the verdicts and the provenance at the root).
"""

from __future__ import annotations

import base64
import html
import importlib
import json
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from nea_sd.errors import InvalidValueError, OutputPathError
from nea_sd.model import Model
from nea_sd.outputs import atomic_write_text, check_output_dir, write_netcdf_groups
from nea_sd.provenance import provenance_attrs, to_json
from nea_sd.report.core import Context, Section
from nea_sd.report.ensemble import choose_base, divergence_table, uncertain_gains
from nea_sd.report.shared import figure_png

#: (key, "module:function") in report order; part of them may not exist in a checkout
REGISTRY: tuple[tuple[str, str], ...] = (
    ("H1", "nea_sd.report.h1:h1_section"),
    ("H2", "nea_sd.report.h2:h2_section"),
    ("H3", "nea_sd.report.tipping:h3_section"),
    ("H4", "nea_sd.report.experiments:h4_section"),
    ("H5", "nea_sd.report.experiments:h5_section"),
    ("H6", "nea_sd.report.experiments:h6_section"),
    ("H7", "nea_sd.report.h7:h7_section"),
    ("H8", "nea_sd.report.experiments:h8_section"),
    ("loops", "nea_sd.report.loops:loops_section"),
)
FILES = ("report.html", "report.md", "report.nc")


def resolve(target: str) -> Callable[[Context], Section] | None:
    """The section function ``module:function``, or None when its module or function does not
    exist (any other import error is raised: a broken section is not "not computed")."""
    module_name, _, function = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            return None
        raise
    return getattr(module, function, None)


@dataclass
class Report:
    """The computed report: its sections, what was not computed and why, and provenance."""

    model: Model
    context: Context
    sections: list[Section]
    missing: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def verdicts(self) -> dict[str, str]:
        return {s.key: s.verdict.label for s in self.sections}

    def diverged(self) -> dict[str, dict[str, int]]:
        """Diverged runs per ensemble and strategy|structure (only those with any)."""
        out = {}
        for name in ("ensemble", "no_detente"):
            ds = self.context.cache.get(name)
            if ds is not None:
                out[name] = divergence_table(ds)
        return out

    def ensembles(self) -> dict[str, xr.Dataset]:
        """The paired draws behind the sections: the drawn gains, the diverged flags per
        (draw, strategy, structure) and every outcome at the report's times per draw."""
        from nea_sd.report.shared import outcome_table

        out = {}
        for name in ("ensemble", "no_detente"):
            ds = self.context.cache.get(name)
            if ds is None:
                continue
            group = ds[["X", "diverged", "gain_low", "gain_high"]].copy()
            group["outcomes"] = outcome_table(ds)
            group.attrs = dict(ds.attrs)
            out[name] = _clean(group)
        return out

    def attrs(self) -> dict[str, str]:
        ctx = self.context
        attrs = provenance_attrs(
            model_path=self.model.path.name,
            model_sha256=self.model.sha256,
            engine="batch",
            overrides=dict(ctx.base),
            seed=ctx.seed,
        )
        attrs["base_source"] = ctx.base_source
        attrs["samples"] = str(ctx.samples)
        attrs["gains"] = to_json({k: list(v) for k, v in ctx.gains.items()})
        attrs["per_draw_parameters"] = json.dumps(list(ctx.per_draw))
        attrs["not_computed"] = json.dumps(self.missing)
        attrs["diverged_runs"] = json.dumps(self.diverged())
        attrs["seconds"] = json.dumps({k: round(v, 1) for k, v in self.seconds.items()})
        return attrs

    # -- outputs ---------------------------------------------------------------------------
    def dataset(self) -> xr.Dataset:
        """The root of ``report.nc``: one row per section with its verdict."""
        keys = [s.key for s in self.sections]

        def number(section: Section, name: str) -> float:
            value = section.numbers.get(name)
            return float(value) if value is not None and value.ndim == 0 else np.nan

        root = xr.Dataset(
            {
                "verdict": ("section", [s.verdict.label for s in self.sections]),
                "verdict_reason": ("section", [s.verdict.reason for s in self.sections]),
                "depends_on": ("section", [", ".join(s.verdict.depends_on) for s in self.sections]),
                "verdict_low": ("section", [number(s, "verdict_low") for s in self.sections]),
                "verdict_high": ("section", [number(s, "verdict_high") for s in self.sections]),
            },
            coords={"section": keys},
        )
        root.attrs = self.attrs()
        return root

    def markdown(self) -> str:
        ctx = self.context
        lines = [
            f"# nea-sd report: {self.model.name}",
            "",
            *self._header(),
            "",
            "| section | verdict | because |",
            "|---|---|---|",
        ]
        for s in self.sections:
            lines.append(f"| {s.key} | **{s.verdict.label}** | {s.verdict.reason} |")
        for key, reason in self.missing.items():
            lines.append(f"| {key} | not computed | {reason} |")
        for s in self.sections:
            lines += ["", f"## {s.key}: {s.title}", "", f"*Claim:* {s.claim}", ""]
            lines.append(f"**Verdict: {s.verdict.label}** — {s.verdict.reason}")
            lines += ["", *_bullets(s.text)]
            if s.figures:
                lines += ["", f"(Figures: {', '.join(s.figures)}, in report.html.)"]
        lines += ["", f"Numbers: report.nc (group per section; seed {ctx.seed})."]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        body = [f"<h1>nea-sd report: {html.escape(self.model.name)}</h1>"]
        body.append("<p>" + "<br>".join(html.escape(x) for x in self._header()) + "</p>")
        rows = "".join(
            f"<tr><td>{s.key}</td><td><b>{s.verdict.label}</b></td>"
            f"<td>{html.escape(s.verdict.reason)}</td></tr>"
            for s in self.sections
        ) + "".join(
            f"<tr><td>{k}</td><td>not computed</td><td>{html.escape(r)}</td></tr>"
            for k, r in self.missing.items()
        )
        body.append(
            f"<table border=1><tr><th>section</th><th>verdict</th><th>because</th></tr>"
            f"{rows}</table>"
        )
        for s in self.sections:
            body.append(f"<h2>{s.key}: {html.escape(s.title)}</h2>")
            body.append(f"<p><i>Claim:</i> {html.escape(s.claim)}</p>")
            body.append(
                f"<p><b>Verdict: {s.verdict.label}</b> — {html.escape(s.verdict.reason)}</p>"
            )
            body.append("<pre>" + html.escape(s.text) + "</pre>")
            for name, figure in s.figures.items():
                data = base64.b64encode(figure_png(figure)).decode("ascii")
                body.append(
                    f'<figure><img alt="{html.escape(name)}" '
                    f'src="data:image/png;base64,{data}"><figcaption>'
                    f"{html.escape(name)}</figcaption></figure>"
                )
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>nea-sd report {html.escape(self.model.name)}</title></head><body>"
            + "\n".join(body)
            + "</body></html>\n"
        )

    def _header(self) -> list[str]:
        ctx = self.context
        diverged = self.diverged()
        count = sum(sum(v.values()) for v in diverged.values())
        lines = [
            f"Model {self.model.path.name} (sha256 {self.model.sha256[:12]}), parameter base: "
            f"{ctx.base_source}.",
            f"Paired ensemble: {ctx.samples} Latin-hypercube draws (seed {ctx.seed}) of "
            f"{len(ctx.gains)} mechanism gains over their declared ranges, the same draws for "
            "every strategy and structure.",
            "Gains: " + ", ".join(f"{k} [{lo:g}, {hi:g}]" for k, (lo, hi) in ctx.gains.items()),
            f"Diverged runs (left out of every statistic, pairwise): {count}"
            + (f" — {json.dumps(diverged)}" if count else "."),
        ]
        if self.missing:
            lines.append("Not computed: " + ", ".join(self.missing) + ".")
        return lines

    def write(self, output_dir: str | Path, *, overwrite: bool = False) -> list[Path]:
        """Write the three files into ``output_dir`` (each atomically); an existing report
        there is an error unless ``overwrite``."""
        folder = Path(output_dir)
        existing = [f for f in FILES if (folder / f).exists()]
        if existing and not overwrite:
            raise OutputPathError(
                f"{folder}/ already holds {', '.join(existing)}; choose another --output-dir "
                "or pass --overwrite"
            )
        check_output_dir(folder)
        paths = [folder / f for f in FILES]
        atomic_write_text(paths[0], self.html(), what="the report")
        atomic_write_text(paths[1], self.markdown(), what="the report")
        groups = {s.key: _clean(s.numbers) for s in self.sections}
        groups.update(self.ensembles())
        write_netcdf_groups(self.dataset(), groups, paths[2])
        return paths


def _bullets(text: str) -> list[str]:
    return [line if line.startswith("- ") else line + "  " for line in text.splitlines()]


def _clean(ds: xr.Dataset) -> xr.Dataset:
    """netCDF-ready: booleans as integers, attributes as strings or numbers."""
    ds = ds.copy()
    for name, var in ds.data_vars.items():
        if var.dtype == bool:
            ds[name] = var.astype("int8")
    ds.attrs = {
        k: v if isinstance(v, str | int | float) else json.dumps(v, default=str)
        for k, v in ds.attrs.items()
    }
    return ds


def build(
    model: Model,
    *,
    samples: int = 500,
    seed: int = 0,
    base: str = "calibrated",
    calibration: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    sections: Mapping[str, str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    """Compute the report on ``model``: ``samples`` paired draws of the mechanism gains from
    ``seed`` on the ``base`` (calibrated, posterior or defaults; ``calibration``: a named
    results file as the calibrated base); ``sections`` replaces the registry
    (key -> "module:function")."""
    if isinstance(samples, bool) or int(samples) != samples or samples < 8:
        raise InvalidValueError(f"--samples must be an integer of at least 8, got {samples!r}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise InvalidValueError(f"--seed must be a non-negative integer, got {seed!r}")
    if workers is not None and scheduler is not None:
        raise InvalidValueError("choose --workers or --scheduler, not both")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values, source, per_draw = choose_base(model, base, int(samples), int(seed), calibration)
    context = Context(
        model=model,
        base=values,
        base_source=source,
        gains=uncertain_gains(model),
        samples=int(samples),
        seed=int(seed),
        workers=workers,
        scheduler=scheduler,
        progress=progress or (lambda stage, done, total: None),
        per_draw=per_draw,
    )
    registry = dict(sections) if sections is not None else dict(REGISTRY)
    modules = dict.fromkeys(target.partition(":")[0] for target in registry.values())
    for module in modules:  # a section that cannot run on this model says so first
        check = resolve(f"{module}:preflight")
        if check is not None:
            check(context)
    done, missing, seconds = [], {}, {}
    for key, target in registry.items():
        function = resolve(target)
        if function is None:
            missing[key] = f"{target} is not in this version of nea_sd"
            continue
        start = time.perf_counter()
        context.progress(f"section {key}", 0, 1)
        done.append(function(context))
        context.progress(f"section {key}", 1, 1)
        seconds[key] = time.perf_counter() - start
    return Report(model, context, done, missing, seconds)
