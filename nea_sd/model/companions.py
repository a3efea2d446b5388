"""Files that travel with a model (``scenarios.toml``, ``structures.toml``, ``loops.toml``).

Found beside the model, else one folder up (``models/xmile/``, ``models/variants/``); they hold
one table per model, named by the model file's stem. A structural variant's table may say only
``like = "<base>"``: it then uses its base model's table, validated against the variant by the
caller, so the strategies and switches are written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nea_sd.errors import ModelFileError


def companion_file(model_path: Path, filename: str) -> Path:
    """``filename`` beside the model, else one folder up when only that one exists."""
    beside = model_path.parent / filename
    above = model_path.parent.parent / filename
    return above if not beside.exists() and above.exists() else beside


def model_table(document: Mapping[str, Any], name: str, file: Path) -> Mapping[str, Any] | None:
    """The table of model ``name`` in ``document`` (read from ``file``), following ``like``;
    None when the file has no table for it."""
    section = document.get(name)
    if not isinstance(section, Mapping) or set(section) != {"like"}:
        return section
    base = str(section["like"])
    target = document.get(base)
    if not isinstance(target, Mapping) or "like" in target:
        tables = [k for k, v in document.items() if isinstance(v, Mapping) and "like" not in v]
        choices = ", ".join(tables)
        raise ModelFileError(
            f"{str(file)!r}: [{name}] like = {base!r} names no model table; "
            f"choose one of {choices or 'none (the file has no model table)'}"
        )
    return target
