"""Diagrams: one file per view, cropped from pysimlin's rendering; clear errors otherwise."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from nea_sd.cli import main
from nea_sd.errors import InvalidValueError, UnknownNameError
from nea_sd.sketch.diagram import MARGIN, load_project, render_diagram, view_boxes

pytest.importorskip("simlin")

FIXTURE = Path(__file__).parent / "fixtures" / "trust_exchange.mdl"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def view_box(svg: str) -> list[float]:
    match = re.search(r'viewBox="([^"]*)"', svg)
    assert match
    return [float(v) for v in match.group(1).split()]


def single_view_model(tmp_path: Path) -> Path:
    text = FIXTURE.read_text(encoding="utf-8")
    first = text.index("\\\\\\---///")
    second = text.index("\\\\\\---///", first + 1)
    path = tmp_path / "single.mdl"
    path.write_text(text[:second] + text[text.index("///---\\\\\\") :], encoding="utf-8")
    return path


def test_one_view_svg_is_cropped_to_its_group(tmp_path: Path) -> None:
    out = tmp_path / "trust.svg"
    assert render_diagram(FIXTURE, out, view="trust") == [out]
    box = view_boxes(load_project(FIXTURE))["Trust"]
    svg = out.read_text(encoding="utf-8")
    expected = [box.x - MARGIN, box.y - MARGIN, box.width + 2 * MARGIN, box.height + 2 * MARGIN]
    assert view_box(svg) == expected
    assert "initial trust" in svg
    assert "initial exchange" not in svg  # the other view's shapes are left out


def test_every_view_gets_its_own_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", str(FIXTURE), "--output", str(tmp_path / "te.svg")]) == 0
    written = [tmp_path / "te-trust.svg", tmp_path / "te-exchange.svg"]
    assert capsys.readouterr().out.split() == [str(p) for p in written]
    boxes = [view_box(p.read_text(encoding="utf-8")) for p in written]
    assert boxes[0] != boxes[1]


def test_png_of_one_view(tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "exchange.png"
    render_diagram(FIXTURE, out, view="Exchange", scale=1.0)
    assert out.read_bytes().startswith(PNG_MAGIC)
    box = view_boxes(load_project(FIXTURE))["Exchange"]
    with Image.open(out) as image:
        width, height = image.size
    # the margin is cut where it leaves the full rendering
    assert box.width <= width <= box.width + 2 * MARGIN
    assert box.height <= height <= box.height + 2 * MARGIN


def test_single_view_model_is_the_whole_rendering(tmp_path: Path) -> None:
    model = single_view_model(tmp_path)
    out = tmp_path / "single.svg"
    render_diagram(model, out)
    assert out.read_text(encoding="utf-8") == load_project(model).render_svg_string()


def test_unknown_view_lists_the_views(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError) as info:
        render_diagram(FIXTURE, tmp_path / "x.svg", view="Arms")
    assert str(info.value) == "unknown view 'Arms'; valid choices: 'Exchange', 'Trust'"


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError) as info:
        render_diagram(FIXTURE, tmp_path / "x.pdf")
    assert str(info.value) == (
        f"output {str(tmp_path / 'x.pdf')!r} has the unknown format '.pdf'; "
        "valid choices: .svg, .png"
    )


def test_without_pysimlin_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "simlin", None)  # makes `import simlin` fail
    assert main(["diagram", str(FIXTURE), "-o", str(tmp_path / "x.svg")]) == 2
    assert capsys.readouterr().err == (
        "error: diagrams and unit checks need pysimlin, which is not installed; "
        "install it with: pip install 'nea-sd[diagram]'\n"
    )


def test_missing_model_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.mdl"
    assert main(["diagram", str(missing), "-o", str(tmp_path / "x.svg")]) == 2
    assert "does not exist" in capsys.readouterr().err
