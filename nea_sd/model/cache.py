"""Content-addressed cache: translations, reference runs, compiled kernels, verdicts.

PySD writes its translated ``.py`` next to the ``.mdl``; we translate a copy inside a cache
directory keyed by the file's SHA-256, so the model folder stays untouched and an unchanged
file is translated once.  Entries are written atomically with a SHA-256 beside them and are
rebuilt, with a one-line note, when damaged.  A cache folder that cannot be written (read-only,
full disk) is replaced for the rest of the process by a temporary one, again with a note.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from pathlib import Path

_FALLBACK: dict[str, Path] = {}  # configured root -> temporary root used instead
_PROBED: set[str] = set()


def configured_cache_dir() -> Path:
    """``$NEA_SD_CACHE``, else ``$XDG_CACHE_HOME/nea_sd``, else ``~/.cache/nea_sd``."""
    explicit = os.environ.get("NEA_SD_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "nea_sd"


def note(message: str) -> None:
    """A one-line note on stderr (the cache repairs itself; results are unaffected)."""
    print(f"note: {message}", file=sys.stderr)


def cache_dir() -> Path:
    """Root of the cache, checked writable once per process (else a temporary one)."""
    return usable(configured_cache_dir())


# Areas of the cache that may live elsewhere: a test run with an isolated cache still reuses
# the PySD references (about 45 s per run of the regional model) and the compiled numba
# kernels (about 2 minutes for the regional model) of earlier runs.
AREAS = {"references": "NEA_SD_REFERENCES", "batch": "NEA_SD_KERNELS"}


def references_dir() -> Path:
    """PySD reference runs: ``$NEA_SD_REFERENCES``, else ``references`` in the cache."""
    return _area("references")


def kernels_dir() -> Path:
    """Compiled batch kernels: ``$NEA_SD_KERNELS``, else ``batch`` in the cache."""
    return _area("batch")


def usable(root: Path) -> Path:
    """``root`` if it can be written (probed once per process), else a temporary stand-in."""
    key = str(root)
    if key in _FALLBACK:
        return _FALLBACK[key]
    if key not in _PROBED:
        try:
            root.mkdir(parents=True, exist_ok=True)
            probe = root / f".probe.{os.getpid()}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            return use_temporary_cache(exc, root)
        _PROBED.add(key)
    return root


def use_temporary_cache(exc: OSError, root: Path | None = None) -> Path:
    """Replace ``root`` (default: the cache) by a temporary folder after ``exc``, with a note."""
    root = root or configured_cache_dir()
    if str(root) not in _FALLBACK:
        _FALLBACK[str(root)] = Path(tempfile.mkdtemp(prefix="nea_sd_cache_"))
        reason = exc.strerror or type(exc).__name__
        note(
            f"cache folder {str(root)!r} cannot be written ({reason}); using the temporary "
            f"{str(_FALLBACK[str(root)])!r} for this run (set NEA_SD_CACHE to choose another)"
        )
    return _FALLBACK[str(root)]


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


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def publish(staging: Path, target: Path) -> Path:
    """Move a fully written ``staging`` file to ``target``, its checksum written first.

    A reader never sees ``target`` without the checksum that vouches for it.
    """
    digest = hashlib.sha256(staging.read_bytes()).hexdigest()
    sealed = _checksum_path(target)
    side = sealed.with_name(f".{sealed.name}.{os.getpid()}.tmp")
    side.write_text(digest, encoding="ascii")
    os.replace(side, sealed)
    os.replace(staging, target)
    return target


def write_entry(relative: str, data: bytes, *, area: str = "") -> Path:
    """Write ``data`` at ``relative`` in the cache (or one of its :data:`AREAS`) atomically,
    with its checksum beside it.

    Falls back to a temporary folder when the cache cannot be written; returns the path used.
    """
    for _ in range(2):
        root = _area(area)
        path = root / relative
        staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            staging.write_bytes(data)
            return publish(staging, path)
        except OSError as exc:
            staging.unlink(missing_ok=True)
            use_temporary_cache(exc, _configured_area(area))
    raise OSError(f"cannot write the cache entry {relative!r}")


def _area(area: str) -> Path:
    explicit = os.environ.get(AREAS[area]) if area in AREAS else None
    if explicit:
        return usable(Path(explicit))
    return cache_dir() / area if area else cache_dir()


def _configured_area(area: str) -> Path:
    explicit = os.environ.get(AREAS[area]) if area in AREAS else None
    return Path(explicit) if explicit else configured_cache_dir()


def intact(path: Path) -> bool:
    """True when ``path`` exists and matches its checksum; a damaged entry is removed, noted."""
    if not path.exists():
        return False
    sealed = _checksum_path(path)
    if not sealed.exists():  # written before entries were sealed: rebuilt, nothing to report
        return False
    try:
        expected = sealed.read_text(encoding="ascii").strip()
        ok = hashlib.sha256(path.read_bytes()).hexdigest() == expected
    except OSError:
        ok = False
    if not ok:
        note(f"cache entry {str(path)!r} was damaged or incomplete; rebuilding it")
        for damaged in (path, sealed):
            with contextlib.suppress(OSError):
                damaged.unlink(missing_ok=True)
    return ok


def entry_path(relative: str, *, area: str = "") -> Path | None:
    """The path of an intact cache entry, or ``None`` when absent or damaged (then rebuilt)."""
    path = _area(area) / relative
    return path if intact(path) else None


def read_entry(relative: str, *, area: str = "") -> bytes | None:
    """The bytes of a cache entry, or ``None`` when absent or damaged (then it is rebuilt)."""
    path = _area(area) / relative
    if not intact(path):
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None
