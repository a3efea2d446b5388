"""Every notebook (jupytext percent format) executes top to bottom in a real Jupyter kernel."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.background import execute_notebook

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


NEEDS_DATA = {"calibration_review"}  # reads ../shared/data: skipped without it, fails in CI


@pytest.fixture
def notebook_data(request: pytest.FixtureRequest, path: Path) -> None:
    """The shared data for a notebook that reads it (requested before the background result is
    awaited, so a missing folder skips or fails as every data test does)."""
    if path.stem in NEEDS_DATA:
        request.getfixturevalue("data_dir")


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=p.stem, marks=pytest.mark.background(execute_notebook, str(p)))
        for p in NOTEBOOKS
    ],
)
def test_notebook_executes(path: Path, notebook_data: None, in_background: Any) -> None:
    # executed in the background worker (tests/background.py): a real kernel started in a
    # temporary folder, outputs written there, never into the checkout
    pytest.importorskip("jupytext")
    pytest.importorskip("nbclient")
    notebook = in_background
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert errors == []
    assert any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        images = [
            output["data"]["image/png"]
            for output in cell.get("outputs", [])
            if "image/png" in output.get("data", {})
        ]
        assert len(images) == len(set(images)), f"a figure shown twice in:\n{cell.source}"
        if makes_figure(cell.source):
            assert images, f"no figure shown (inline backend lost?) in:\n{cell.source}"
    typed = stated_numbers(notebook) - computed_text_numbers(notebook) - CITED.get(path.stem, set())
    assert not typed, f"{path.name} states numbers no cell computes: {sorted(typed)}"


# Numbers a notebook's text may state without computing them: values cited from the literature.
CITED = {"calibration_review": {"0.73"}}  # Richardson's own constant, cited for contrast
NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.])")


def stated_numbers(notebook) -> set[str]:  # type: ignore[no-untyped-def]
    """Decimal numbers in the notebook's prose (not in `code spans`, which show syntax)."""
    found: set[str] = set()
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            prose = re.sub(r"`[^`]*`", "", cell.source)
            found |= set(NUMBER.findall(prose))
    return found


def computed_text_numbers(notebook) -> set[str]:  # type: ignore[no-untyped-def]
    """Decimal numbers the executed code cells print or display."""
    texts: list[str] = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            texts.append(str(output.get("text", "")))
            data = output.get("data", {})
            texts += [
                str(data.get(kind, "")) for kind in ("text/plain", "text/html", "text/markdown")
            ]
    return set(NUMBER.findall("\n".join(texts)))


FIGURE_CALL = re.compile(r"^(show|plot_dominance|index_bars|time_heatmap|comparison_figure)\(")


def makes_figure(source: str) -> bool:
    """A cell that should show a figure: an unconditional top-level figure call, or one that
    ends with the name of a figure (conditional cells, ``if ...:``, may show none)."""
    lines = [line for line in source.splitlines() if line.strip() and not line.startswith("#")]
    if not lines or any(line.startswith(("def ", "if ", "for ")) for line in lines):
        return False
    return any(FIGURE_CALL.match(line) for line in lines) or lines[-1].split("#")[0].strip() in (
        "figure",
        "fig",
    )


def test_a_typed_result_is_caught_and_a_computed_one_is_not() -> None:
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("Trust reaches 0.512 by 2040, and 0.734 later; `x = 0.5`."),
        nbformat.v4.new_code_cell("print(round(0.5121, 3))"),
    ]
    notebook.cells[1]["outputs"] = [nbformat.v4.new_output("stream", text="0.512\n")]
    assert stated_numbers(notebook) == {"0.512", "0.734"}
    assert stated_numbers(notebook) - computed_text_numbers(notebook) == {"0.734"}
