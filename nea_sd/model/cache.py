"""Content-addressed cache for translated models.

PySD writes its translated ``.py`` next to the ``.mdl``; we translate a copy inside a cache
directory keyed by the file's SHA-256, so the model folder stays untouched and an unchanged
file is translated once.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_dir() -> Path:
    """Root of the cache: ``$NEA_SD_CACHE``, else ``$XDG_CACHE_HOME/nea_sd``, else ``~/.cache``."""
    explicit = os.environ.get("NEA_SD_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "nea_sd"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file's bytes (the model's identity in provenance)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def translation_dir(sha256: str) -> Path:
    """Folder holding the translation of the model whose content hash is ``sha256``."""
    return cache_dir() / "pysd" / sha256[:24]
