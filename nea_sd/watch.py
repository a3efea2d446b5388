"""``nea-sd watch``: re-lint and re-compare a model on every save, on a page in the browser.

A poll thread notices a save (modification time and size, then the content hash) and
evaluates the file: lint findings with line numbers, the strategy comparison (outcome table,
trajectories figure) and the difference to the previous good save (changed equations, outcome
changes). A save that does not lint or load shows its error on the page and keeps the last good
results. The page is served by the standard library's HTTP server on localhost and reloads
itself when the revision changes; nothing is written to disk.
"""

from __future__ import annotations

import html
import io
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd

from nea_sd.errors import NeaSdError


@dataclass
class Good:
    """Results of a save that linted and ran."""

    table: pd.DataFrame
    figure_svg: str
    equations: dict[str, tuple[str, str]]  # canonical name -> (name, equation text)
    warnings: list[str]


@dataclass
class State:
    """What the page shows; replaced as a whole under the lock."""

    revision: int = 0
    saved: str = ""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    good: Good | None = None
    changes: list[str] = field(default_factory=list)
    outcome_changes: pd.DataFrame | None = None
    loops: str = ""  # HTML of the loop dominance of the last good save ("" while computing)


def _equations(path: Path) -> dict[str, tuple[str, str]]:
    from nea_sd.sketch.equations import read_equations

    return {
        key: (eq.name, " ; ".join(" ".join(r.split()) for r in eq.rhs))
        for key, eq in read_equations(path).variables.items()
    }


def evaluate(path: Path, scenarios: list[str] | None, scenarios_file: str | None) -> Good:
    """Lint and compare the model at ``path``; a :class:`NeaSdError` for a broken save."""
    from nea_sd.compare import compare_strategies
    from nea_sd.model import load_model
    from nea_sd.plots import comparison_figure
    from nea_sd.scenarios import load_scenarios, select
    from nea_sd.sketch.lint import lint_model

    findings = lint_model(path)
    errors = [f.format(path.name) for f in findings if f.severity == "error"]
    if errors:
        raise LintFailure(errors)
    model = load_model(path)
    chosen = select(load_scenarios(model, scenarios_file), scenarios)
    comparison = compare_strategies(model, chosen)
    figure = comparison_figure(comparison)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    import matplotlib.pyplot as plt

    plt.close(figure)
    svg = buffer.getvalue()
    svg = svg[svg.find("<svg") :]
    warnings = [f.format(path.name) for f in findings if f.severity != "error"]
    return Good(comparison.table(), svg, _equations(path), warnings)


def loop_dominance(path: Path, scenario: str) -> str:
    """HTML: which polarity dominates when, and the named loops' scores, for ``scenario``."""
    from nea_sd.loops.analysis import analyze
    from nea_sd.loops.strategies import strategy_parameters
    from nea_sd.model import load_model

    params = strategy_parameters(load_model(path), [scenario], 1, None)
    result = analyze(path, params[scenario], 1, scenario=scenario, workers=1)
    periods = result.polarity_periods()
    table = result.table().drop(columns=["title"], errors="ignore")
    reinforcing, balancing = (html.escape(periods[k] or "never") for k in ("R", "B"))
    return (
        f"<p>{html.escape(scenario)}: reinforcing loops dominate {reinforcing}; "
        f"balancing loops dominate {balancing}</p>"
        + table.to_html(float_format=lambda x: f"{x:.3f}", na_rep="-")
    )


class LintFailure(NeaSdError):
    """Lint errors of a save, one formatted finding per line."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def _changes(old: Good, new: Good) -> list[str]:
    lines = []
    for key, (name, text) in new.equations.items():
        before = old.equations.get(key)
        if before is None:
            lines.append(f"added {name} = {text}")
        elif before[1] != text:
            lines.append(f"{name}: {before[1]} → {text}")
    lines += [f"removed {name}" for k, (name, _) in old.equations.items() if k not in new.equations]
    return lines


class Watcher:
    """Polls ``path`` and keeps the :class:`State` the page renders."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        scenarios: list[str] | None = None,
        scenarios_file: str | None = None,
        interval: float = 0.5,
        loops: bool = True,
    ):
        self.path = Path(path)
        self.scenarios, self.scenarios_file = scenarios, scenarios_file
        self.interval = interval
        self.loops = loops
        self.state = State()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._seen: tuple[int, int] | None = None
        self._hash = ""

    def snapshot(self) -> State:
        with self._lock:
            return self.state

    def check(self) -> bool:
        """Evaluate the file if it changed since the last look; True when it did."""
        from nea_sd.model import file_sha256

        try:
            stat = self.path.stat()
            seen = (stat.st_mtime_ns, stat.st_size)
            if seen == self._seen:
                return False
            self._seen = seen
            digest = file_sha256(self.path)
        except OSError as exc:
            self._publish(errors=[f"{self.path}: cannot be read ({exc.strerror})"])
            return True
        if digest == self._hash:
            return False
        self._hash = digest
        try:
            good = evaluate(self.path, self.scenarios, self.scenarios_file)
        except LintFailure as failure:
            self._publish(errors=failure.lines)
        except NeaSdError as exc:
            self._publish(errors=[f"{self.path.name}: {exc}"])
        else:
            self._publish(good=good)
            if self.loops:
                self._publish_loops(digest)
        return True

    def _publish_loops(self, digest: str) -> None:
        """Loop dominance after the table (it takes longer); a failure is shown, not raised."""
        scenario = (self.scenarios or [None])[0]
        try:
            if scenario is None:
                from nea_sd.model import load_model
                from nea_sd.scenarios import load_scenarios

                scenario = next(iter(load_scenarios(load_model(self.path), self.scenarios_file)))
            text = loop_dominance(self.path, scenario)
        except NeaSdError as exc:
            text = f"<p>loop dominance not available: {html.escape(str(exc))}</p>"
        with self._lock:
            if digest == self._hash:
                old = self.state
                self.state = State(**{**old.__dict__, "revision": old.revision + 1, "loops": text})

    def _publish(self, *, errors: list[str] | None = None, good: Good | None = None) -> None:
        with self._lock:
            old = self.state
            new = State(
                revision=old.revision + 1,
                saved=time.strftime("%H:%M:%S"),
                errors=errors or [],
                good=good or old.good,
                warnings=good.warnings if good else old.warnings,
                changes=old.changes,
                outcome_changes=old.outcome_changes,
                loops="" if good is not None else old.loops,
            )
            if good is not None and old.good is not None:
                new.changes = _changes(old.good, good)
                new.outcome_changes = good.table - old.good.table.reindex_like(good.table)
            elif good is not None:
                new.changes, new.outcome_changes = [], None
            self.state = new

    def run(self) -> None:
        while not self._stop.is_set():
            self.check()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()


def render(state: State, title: str) -> str:
    """The HTML page for ``state`` (reloads itself when the revision changes)."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>nea-sd watch: {esc(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "#errors{color:#a00;white-space:pre-wrap}.stale{opacity:.6}</style>",
        f"<script>const REV={state.revision};setInterval(()=>fetch('/revision').then(r=>r.text())"
        ".then(t=>{if(+t!==REV)location.reload()}).catch(()=>{}),500);</script>",
        f"</head><body><h1>{esc(title)}</h1>",
        f"<p id='status' data-revision='{state.revision}'>save {state.revision} at "
        f"{esc(state.saved)}: {'broken' if state.errors else 'ok'}</p>",
    ]
    if state.errors:
        parts.append("<h2>Error (showing the last good results)</h2>")
        parts.append(f"<pre id='errors'>{esc(chr(10).join(state.errors))}</pre>")
    if state.warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in state.warnings)
        parts.append(
            f"<details><summary>lint warnings</summary><ul id='lint'>{items}</ul></details>"
        )
    good = state.good
    if good is None:
        parts.append("<p id='waiting'>no good save yet</p>")
    else:
        css = " class='stale'" if state.errors else ""
        parts.append(f"<h2>Outcomes</h2><div id='outcomes'{css}>")
        parts.append(good.table.to_html(float_format=lambda x: f"{x:.4f}", na_rep="-"))
        parts.append("</div><h2>Change since the previous good save</h2><div id='diff'>")
        if state.changes:
            items = "".join(f"<li>{esc(c)}</li>" for c in state.changes)
            parts.append(f"<ul id='changes'>{items}</ul>")
        else:
            parts.append("<p>no equation changed</p>")
        if state.outcome_changes is not None:
            parts.append(
                state.outcome_changes.to_html(float_format=lambda x: f"{x:+.4f}", na_rep="-")
            )
        parts.append(f"</div><h2>Trajectories</h2><div id='trajectories'>{good.figure_svg}</div>")
        loops = state.loops or "<p>computing loop dominance...</p>"
        parts.append(f"<h2>Loop dominance</h2><div id='loops'>{loops}</div>")
    parts.append("</body></html>")
    return "".join(parts)


def serve(watcher: Watcher, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) for the watcher's page; ``port=0`` picks a free one."""
    title = watcher.path.name

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            state = watcher.snapshot()
            if self.path == "/revision":
                body, kind = str(state.revision).encode(), "text/plain"
            elif self.path in ("/", "/index.html"):
                body, kind = render(state, title).encode("utf-8"), "text/html; charset=utf-8"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet
            pass

    return ThreadingHTTPServer((host, port), Handler)
