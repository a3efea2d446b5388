"""A model file edited after loading is detected on use: never a mix of old and new equations."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nea_sd.engine import simulate
from nea_sd.errors import ModelFileError
from nea_sd.loops import causal_graph
from nea_sd.model import load_model
from tests.support import MODELS


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    return Path(shutil.copy(MODELS / "richardson.mdl", tmp_path / "richardson.mdl"))


def _edit(path: Path) -> None:
    text = path.read_text().replace("Grievance X=\n\t10", "Grievance X=\n\t12")
    assert text != path.read_text()
    path.write_text(text)


@pytest.mark.parametrize("engine", ["batch", "pysd"])
def test_edited_file_is_an_error_on_every_engine(copy: Path, engine: str) -> None:
    model = load_model(copy)
    before = simulate(model, [{}], ["Arms X"], engine=engine)
    assert before.attrs["model_sha256"] == model.sha256
    _edit(copy)
    with pytest.raises(ModelFileError, match=r"changed since it was loaded .*load it again"):
        simulate(model, [{}], ["Arms X"], engine=engine)
    with pytest.raises(ModelFileError, match="changed since it was loaded"):
        model.pysd_model()
    fresh = load_model(copy)  # loading again gives the new equations and the new hash
    assert fresh.sha256 != model.sha256 and fresh.parameters["Grievance X"].value == 12
    after = simulate(fresh, [{}], ["Arms X"], engine=engine)
    assert after.attrs["model_sha256"] == fresh.sha256
    assert float(after["Arms X"][0, -1]) != float(before["Arms X"][0, -1])


def test_touched_but_unchanged_file_is_fine(copy: Path) -> None:
    model = load_model(copy)
    stamp = copy.stat().st_mtime_ns + 5 * 10**9
    os.utime(copy, ns=(stamp, stamp))
    assert simulate(model, [{}], ["Arms X"]).attrs["model_sha256"] == model.sha256


def test_batch_engine_uses_the_loaded_content_not_the_file(copy: Path) -> None:
    """The compilation comes from the bytes that were hashed at load, kept in the cache."""
    model = load_model(copy)
    other = Path(shutil.copy(copy, copy.with_name("other.mdl")))
    _edit(other)
    assert load_model(other).sha256 != model.sha256
    result = simulate(model, [{}], ["Arms X"])
    assert result.attrs["model_sha256"] == model.sha256


def test_loop_graph_is_keyed_by_content_not_path(copy: Path) -> None:
    first = causal_graph(copy)
    assert causal_graph(copy) is first
    twin = Path(shutil.copy(copy, copy.with_name("twin.mdl")))
    assert causal_graph(twin) is first  # same content, same graph
    text = copy.read_text().replace("Defence coefficient X * Arms Y + Grievance X", "Grievance X")
    if text == copy.read_text():
        pytest.fail("the edit of richardson.mdl no longer applies")
    model = load_model(copy)
    copy.write_text(text)
    edited = causal_graph(copy)
    assert edited is not first
    assert len(edited.elements.edges) < len(first.elements.edges)
    with pytest.raises(ModelFileError, match="changed since it was loaded"):
        causal_graph(model)
