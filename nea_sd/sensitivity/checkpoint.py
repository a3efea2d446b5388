"""Chunk checkpoints: every finished chunk on disk at once, so a killed sweep loses at most the
chunks in flight and ``--resume`` recomputes nothing that finished.

Layout beside the result file ``out.nc``::

    out.nc.chunks/manifest.json      what the sweep is (sample hash, method, N, seed, spec hash)
    out.nc.chunks/chunk_00012.npz    outputs of sample rows [12*chunk_size, 13*chunk_size)

Each file is written to a temporary name and renamed, so a chunk is either whole or absent;
resuming checks the manifest against the sweep being resumed and refuses any other.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nea_sd.errors import CheckpointError
from nea_sd.outputs import atomic_write

MANIFEST = "manifest.json"


def sample_hash(X: np.ndarray) -> str:
    """Identity of a sample matrix (values, shape and dtype)."""
    arr = np.ascontiguousarray(X, dtype=float)
    digest = hashlib.sha256(str(arr.shape).encode())
    digest.update(arr.tobytes())
    return digest.hexdigest()


def checkpoint_dir(output: str | os.PathLike[str]) -> Path:
    path = Path(output)
    return path.with_name(path.name + ".chunks")


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint manifest in {str(folder)!r} is unreadable: {exc}"
        ) from None


def _atomic_write(target: Path, write: Any) -> None:
    atomic_write(target, write, what="a sweep checkpoint")


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint folder and the manifest of the sweep it belongs to."""

    folder: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, folder: Path, manifest: dict[str, Any], *, resume: bool) -> Checkpoint:
        """Start a new checkpoint, or (``resume``) continue the one of the same sweep."""
        existing = read_manifest(folder)
        if existing is not None and not resume:
            raise CheckpointError(
                f"an unfinished sweep is checkpointed in {str(folder)!r}; pass --resume to "
                "continue it, or delete the folder to start again"
            )
        if existing is not None:
            for key, value in manifest.items():
                if existing.get(key) != value:
                    raise CheckpointError(
                        f"checkpoint in {str(folder)!r} belongs to another sweep ({key} differs: "
                        f"{existing.get(key)!r} there, {value!r} now); resume with the same "
                        "model, spec, method, samples and seed, or delete the folder"
                    )
            return cls(folder, existing)
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(manifest, indent=1, sort_keys=True)
        _atomic_write(folder / MANIFEST, lambda tmp: Path(tmp).write_text(text))
        return cls(folder, manifest)

    def path(self, index: int) -> Path:
        return self.folder / f"chunk_{index:05d}.npz"

    def done(self) -> set[int]:
        """Indices of the chunks already on disk."""
        found = set()
        for file in self.folder.glob("chunk_*.npz"):
            try:
                found.add(int(file.stem.split("_")[1]))
            except (IndexError, ValueError):
                continue
        return found

    def save(self, index: int, values: np.ndarray) -> None:
        def write(tmp: str) -> None:
            with open(tmp, "wb") as handle:
                np.savez(handle, values=values, sample_hash=self.manifest["sample_hash"])

        _atomic_write(self.path(index), write)

    def load(self, index: int) -> np.ndarray:
        with np.load(self.path(index)) as data:
            if str(data["sample_hash"]) != self.manifest["sample_hash"]:
                raise CheckpointError(
                    f"{self.path(index).name} belongs to another sweep; delete {str(self.folder)!r}"
                )
            return np.array(data["values"])

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
