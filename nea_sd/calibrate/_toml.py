"""A small TOML writer for result files (tomllib only reads; no extra dependency for this)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE.match(key) else _string(key)


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items()) + " }"
    if value is None:
        raise ValueError("TOML has no null; leave the key out")
    if hasattr(value, "item"):
        return _value(value.item())
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list | tuple) and bool(value) and all(_is_table(v) for v in value)


def dumps(data: Mapping[str, Any], header: str = "") -> str:
    """TOML text of nested mappings; ``None`` values are left out."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    _emit(data, [], lines)
    return "\n".join(lines).strip() + "\n"


def _emit(table: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = {
        k: v
        for k, v in table.items()
        if v is not None and not _is_table(v) and not _is_table_array(v)
    }
    if path and (scalars or not any(_is_table(v) for v in table.values())):
        lines += ["", "[" + ".".join(_key(p) for p in path) + "]"]
    for k, v in scalars.items():
        lines.append(f"{_key(str(k))} = {_value(v)}")
    for k, v in table.items():
        if _is_table(v):
            _emit(v, path + [str(k)], lines)
        elif _is_table_array(v):
            for item in v:
                lines += ["", "[[" + ".".join(_key(p) for p in path + [str(k)]) + "]]"]
                for ik, iv in item.items():
                    if iv is not None:
                        lines.append(f"{_key(str(ik))} = {_value(iv)}")
