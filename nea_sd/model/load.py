"""Load a Vensim model through PySD, translating it inside the cache, never beside the model."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from nea_sd.errors import ModelFileError
from nea_sd.model.cache import file_sha256, intact, publish, translation_dir, use_temporary_cache
from nea_sd.model.params import ParameterTable, build_parameter_table
from nea_sd.model.xmile import is_xmile, parse_abstract_xmile, translated_xmile

CONTROL_NAMES = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")


def _check_model_path(path: str | os.PathLike[str]) -> Path:
    model_path = Path(path)
    if not model_path.exists():
        raise ModelFileError(
            f"model file {str(path)!r} does not exist; give the path of a .mdl file"
        )
    if model_path.is_dir():
        raise ModelFileError(
            f"model path {str(path)!r} is a directory; give the path of a .mdl file"
        )
    if model_path.suffix.lower() != ".mdl" and not is_xmile(model_path):
        raise ModelFileError(
            f"model file {str(path)!r} is not a Vensim .mdl file; nea_sd reads Vensim models"
            " (.mdl) and XMILE models (.xmile, .stmx)"
        )
    try:
        model_path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"model file {str(path)!r} cannot be read: {exc.strerror}") from None
    return model_path


def _locate(path: Path, snippet: str, offset: int) -> tuple[int, str] | None:
    """Line number in ``path`` of ``snippet[offset]`` and the variable whose equation holds it.

    PySD parses each equation on its own, so its line and column are relative to the equation;
    finding the equation text in the file gives the user a line they can open.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    at = text.find(snippet)
    if at < 0 or not snippet.strip():
        return None
    line = text.count("\n", 0, at + offset) + 1
    record_start = text.rfind("|", 0, at) + 1
    name = text[record_start:at].split("=")[0].strip().splitlines()
    return line, (name[-1].strip() if name else "")


def _parse_failure(path: Path, exc: Exception) -> ModelFileError:
    """Turn a PySD/parsimonious failure into one line naming the element and line."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    snippet, offset = getattr(exc, "text", None), getattr(exc, "pos", 0)
    found = _locate(path, snippet, offset or 0) if isinstance(snippet, str) else None
    if found is None:
        return ModelFileError(f"model file {str(path)!r} cannot be parsed: {first}")
    line, name = found
    rest = snippet[offset : offset + 30]
    what = f" in the equation of {name!r}" if name else ""
    return ModelFileError(
        f"model file {str(path)!r} cannot be parsed at line {line}{what}: "
        f"unexpected text {rest!r}; check brackets and operators there"
    )


def parse_abstract_model(path: str | os.PathLike[str]) -> Any:
    """PySD's abstract model of a ``.mdl`` (sections -> elements -> components with ASTs).

    The engine stage compiles this structure; keeping the import here keeps PySD in one stage.
    """
    return _abstract(_check_model_path(path))


def _abstract(source: Path, shown: Path | None = None) -> Any:
    """Parse ``source``; errors name ``shown`` (the user's file when ``source`` is a copy)."""
    from pysd.translators.vensim.vensim_file import VensimFile

    if is_xmile(source):  # XMILE: PySD's XMILE translator, same abstract model
        return parse_abstract_xmile(source, translation_dir(file_sha256(source)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vensim = VensimFile(source)
            vensim.parse()
            return vensim.get_abstract_model()
    except Exception as exc:  # PySD raises bare Exceptions and parsimonious errors
        raise _parse_failure(shown or source, exc) from None


def _translate(model_path: Path, sha256: str, data: bytes) -> Path:
    """Translated ``.py`` of the model, created once per content hash (rebuilt if damaged).

    ``data`` are the bytes that were hashed: the translation and the copy kept beside it
    (:func:`source_copy`) are made from them, never from a file that may have changed since.
    """
    if is_xmile(model_path):  # XMILE: PySD's XMILE translator, its own cache subfolder
        return translated_xmile(model_path, translation_dir(sha256))
    for _ in range(2):
        folder = translation_dir(sha256)
        target = folder / (model_path.stem + ".py")
        try:
            if not intact(folder / SOURCE):
                folder.mkdir(parents=True, exist_ok=True)
                staging = folder / f".{SOURCE}.{os.getpid()}"
                staging.write_bytes(data)
                publish(staging, folder / SOURCE)
            if not intact(target):
                _translate_into(model_path, target, data)
        except OSError as exc:  # read-only or full cache: a temporary one for this process
            use_temporary_cache(exc)
            continue
        return _rooted(target, model_path.parent)
    raise ModelFileError(f"model file {str(model_path)!r} cannot be translated into the cache")


SOURCE = "source.mdl"
ABSTRACT = "abstract.pickle"


def _store_abstract(folder: Path, frozen: bytes) -> None:
    """Keep the abstract model beside its translation (a cache that cannot be written: skip)."""
    staging = folder / f".{ABSTRACT}.{os.getpid()}"
    try:
        staging.write_bytes(frozen)
        publish(staging, folder / ABSTRACT)
    except OSError:
        staging.unlink(missing_ok=True)


def source_copy(sha256: str) -> Path | None:
    """The cache's copy of the model file whose content hash is ``sha256`` (if intact)."""
    path = translation_dir(sha256) / SOURCE
    return path if intact(path) else None


def _translate_into(model_path: Path, target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{model_path.stem}.{os.getpid()}.mdl"
    staging.write_bytes(data)
    try:
        from pysd.builders.python.python_model_builder import ModelBuilder
        from pysd.translators.vensim.vensim_file import VensimFile

        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            # what pysd.read_vensim does, keeping the abstract model for the batch engine
            vensim = VensimFile(staging)
            vensim.parse()
            abstract = vensim.get_abstract_model()
            frozen = pickle.dumps(abstract)
            ModelBuilder(abstract).build_model()
        # atomic publish so that a parallel loader never imports a half-written file
        publish(staging.with_suffix(".py"), target)
        _store_abstract(target.parent, frozen)
    except OSError:
        raise
    except Exception as exc:
        raise _parse_failure(model_path, exc) from None
    finally:
        staging.unlink(missing_ok=True)
        staging.with_suffix(".py").unlink(missing_ok=True)


ROOT_LINE = "_root = Path(__file__).parent"


def _rooted(translated: Path, folder: Path) -> Path:
    """The translation, reading its external data (``GET XLS/DIRECT``) beside the ``.mdl``.

    PySD resolves data files relative to the translated module; ours lives in the cache, so a
    model that reads data gets a variant per model folder whose ``_root`` is that folder.
    """
    text = translated.read_text(encoding="utf-8")
    if text.count("_root") <= 1 or ROOT_LINE not in text:
        return translated
    tag = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    variant = translated.with_name(f"{translated.stem}_{tag}.py")
    if not intact(variant):
        text = text.replace(ROOT_LINE, f"_root = Path({str(folder)!r})", 1)
        staging = variant.with_name(f".{variant.name}.{os.getpid()}")
        staging.write_text(text, encoding="utf-8")
        publish(staging, variant)
    return variant


@dataclass(frozen=True)
class Model:
    """A Vensim model loaded through PySD.

    Attributes are fixed: ``path`` (the ``.mdl``), ``sha256`` (its content hash, the model's
    identity in provenance), ``parameters`` (the :class:`ParameterTable`), ``subscripts``
    (dimension name -> elements) and ``time`` (initial, final, step, saveper).
    """

    path: Path
    sha256: str
    parameters: ParameterTable
    subscripts: dict[str, list[str]]
    time: dict[str, float]
    variables: pd.DataFrame = field(repr=False)
    _pysd: Any = field(repr=False, compare=False)
    _stamp: tuple[int, int] = field(default=(0, 0), repr=False, compare=False)
    _owned: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.path.stem

    def ensure_current(self) -> None:
        """Raise :class:`ModelFileError` if the file changed since it was loaded.

        Every engine and stage calls this before using the model, so results never mix the
        loaded equations with edited ones or carry a hash that is not theirs.  A quick
        (mtime, size) check, then the content hash only when those moved.
        """
        try:
            info = self.path.stat()
        except OSError:
            return  # moved or deleted: the loaded copy is still whole and consistent
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp == self._owned.get("stamp", self._stamp):
            return
        now = file_sha256(self.path)
        if now != self.sha256:
            raise ModelFileError(
                f"model file {str(self.path)!r} changed since it was loaded (sha256 "
                f"{self.sha256[:12]} -> {now[:12]}); load it again to use the edited model"
            )
        self._owned["stamp"] = stamp  # touched, not changed

    @cached_property
    def abstract(self) -> Any:
        """PySD's abstract model of exactly the loaded content.

        Kept in the cache by the translation, so the ``.mdl`` is parsed once per content hash
        (parsing the regional model takes seconds); parsed again only if that entry is gone.
        """
        folder = translation_dir(self.sha256)
        if intact(folder / ABSTRACT):
            try:
                return pickle.loads((folder / ABSTRACT).read_bytes())
            except Exception:  # an entry from another PySD version: parse again
                pass
        source = None if is_xmile(self.path) else source_copy(self.sha256)
        if source is None:  # XMILE, or the cache was cleared meanwhile: the file, if unchanged
            self.ensure_current()
            source = self.path
        abstract = _abstract(source, self.path)
        _store_abstract(folder, pickle.dumps(abstract))
        return abstract

    def owned(self, what: str, build: Callable[[], Any]) -> Any:
        """A derived object kept with this model (e.g. the batch compilation), built once."""
        if what not in self._owned:
            self._owned[what] = build()
        return self._owned[what]

    @cached_property
    def stocks(self) -> list[str]:
        doc = self.variables
        return sorted(doc.loc[doc["Subtype"] == "Integ", "Real Name"])

    def variable_names(self) -> list[str]:
        return sorted(self.variables["Real Name"])

    def output_names(self) -> list[str]:
        """Every variable a run can save: all but lookups, the control variables and Time."""
        doc = self.variables
        kept = doc["Type"].notna() & ~doc["Type"].astype(str).str.contains("Lookup")
        names = doc.loc[kept, "Real Name"]
        return sorted((n for n in names if n.upper() not in CONTROL_NAMES), key=str.lower)

    def pysd_model(self) -> Any:
        """The underlying PySD model, reloaded so that no earlier override survives.

        Reloading initialises the model, and PySD warns (raw, with its source line) whenever a
        lookup is read outside its x range, which the Vensim semantics it implements allow and
        a partial model's data tables do before their first year: not the user's concern."""
        self.ensure_current()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"pysd\.")
            self._pysd.reload()
        return self._pysd

    def __repr__(self) -> str:
        return (
            f"<Model {self.name!r}: {len(self.variables)} variables, {len(self.stocks)} stocks, "
            f"{len(self.parameters)} parameters, sha256={self.sha256[:12]}>"
        )


def load_model(path: str | os.PathLike[str]) -> Model:
    """Load ``path`` through PySD (translation cached by content hash)."""
    import pysd

    model_path = _check_model_path(path).resolve()
    info = model_path.stat()
    data = model_path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    translated = _translate(model_path, sha256, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pysd_model = pysd.load(str(translated))
        except FileNotFoundError as exc:  # external data (GET XLS/DIRECT ...) not found
            lines = str(exc).strip().splitlines()
            missing = (lines[-1] if lines else str(exc)).rstrip(".")
            raise ModelFileError(
                f"model file {str(model_path)!r} reads external data that cannot be found: "
                f"{missing}; data paths are relative to the model's folder"
            ) from None
        except Exception as exc:
            raise _parse_failure(model_path, exc) from None
    doc = pysd_model.doc.copy()
    control = {
        "initial": float(pysd_model.components.initial_time()),
        "final": float(pysd_model.components.final_time()),
        "step": float(pysd_model.components.time_step()),
        "saveper": float(pysd_model.components.saveper()),
    }
    table = build_parameter_table(model_path, doc, pysd_model)
    return Model(
        path=model_path,
        sha256=sha256,
        parameters=table,
        subscripts={k: list(v) for k, v in pysd_model.subscripts.items()},
        time=control,
        variables=doc,
        _pysd=pysd_model,
        _stamp=(info.st_mtime_ns, info.st_size),
    )


def frame_to_dataset(frame: pd.DataFrame, names: list[str]) -> xr.Dataset:
    """Convert PySD's unflattened output (cells of scalars or DataArrays) into a Dataset."""
    time = frame.index.to_numpy(dtype=float)
    data_vars: dict[str, xr.DataArray] = {}
    for name in names:
        column = frame[name]
        first = column.iloc[0]
        if isinstance(first, xr.DataArray):
            stacked = np.stack([np.asarray(cell.values, dtype=float) for cell in column])
            coords = {dim: first.coords[dim].values for dim in first.dims}
            data_vars[name] = xr.DataArray(stacked, dims=("time", *first.dims), coords=coords)
        else:
            data_vars[name] = xr.DataArray(column.to_numpy(dtype=float), dims=("time",))
    return xr.Dataset(data_vars, coords={"time": time})
