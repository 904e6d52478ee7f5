"""Content-addressed artifact cache: trained models and expensive results, keyed by configuration
and by the code that makes them.

An artifact is identified by its *kind* (e.g. ``"fusion-model"``, one of
:data:`helpers.kinds.KINDS`), the *profile* it was made under and a configuration dictionary.
The key is a hash of the kind, the canonical JSON of that configuration and the kind's code hash
(:func:`helpers.kinds.code_hash`: the library modules that compute it), so a changed setting or
a changed computation never returns a stale result. Profiles live in separate folders and never
read each other's artifacts::

    <cache_root>/<profile>/<kind>/<key>/artifact.pt   the object (torch.save)
    <cache_root>/<profile>/<kind>/<key>/config.json   the configuration it was made from
    <cache_root>/<profile>/<kind>/<key>/meta.json     kind, key, code hash, SHA-256 and size of artifact.pt

Artifacts hold tensors, numpy arrays and scalars, plain Python containers and numbers, and
training histories (:data:`SAFE_GLOBALS`); they are saved only if they load back with
``torch.load(weights_only=True)``, and always loaded that way, so reading one runs no code. A
file whose SHA-256 differs from its record (truncated or corrupted) is reported with its path and
computed again by :meth:`ArtifactCache.get_or_compute`. :meth:`ArtifactCache.get_or_compute_many`
computes the missing artifacts of a list in parallel processes, one thread each, so that results
do not depend on how many run at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from tqdm.auto import tqdm

from .kinds import code_hash
from .paths import cache_root
from .train import History
from .workers import in_processes

T = TypeVar("T")
PROFILES = ("smoke", "quick", "full", "paper")
ARTIFACT_FILE, CONFIG_FILE, META_FILE = "artifact.pt", "config.json", "meta.json"

#: Classes and functions beyond torch's own that an artifact's pickle may name: numpy arrays,
#: scalars and dtypes, ``bytes`` (an empty array's data is pickled as ``bytes()``), and
#: :class:`helpers.train.History`.
SAFE_GLOBALS: list[Any] = [np.ndarray, np.dtype, bytes, History, np.ndarray.__reduce__(np.zeros(0))[0],
                           np.float64(0).__reduce__()[0],
                           *(getattr(np.dtypes, name) for name in np.dtypes.__all__)]
_SAFE_NAMES = {f"{g.__module__}.{g.__qualname__}" for g in SAFE_GLOBALS}


class CorruptArtifactError(RuntimeError):
    """An artifact file that is missing its record or differs from it (truncated, corrupted)."""


def config_key(kind: str, config: dict[str, Any]) -> str:
    """16-hex-digit hash of ``kind``, ``config`` (canonical JSON, sorted keys) and the code hash of ``kind``."""
    canonical = json.dumps({"kind": kind, "config": config, "code": code_hash(kind)}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    """SHA-256 of the bytes of ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unsafe_globals(path: Path) -> list[str]:
    """The classes and functions named in the pickle of ``path`` that neither torch's
    ``weights_only`` loader nor :data:`SAFE_GLOBALS` allows (empty: it loads without running code)."""
    return sorted(set(torch.serialization.get_unsafe_globals_in_checkpoint(path)) - _SAFE_NAMES)


def load_weights_only(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` with :data:`SAFE_GLOBALS` allowed."""
    with torch.serialization.safe_globals(SAFE_GLOBALS):
        return torch.load(path, weights_only=True)


def _write_json(path: Path, content: dict[str, Any]) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
        json.dump(content, handle, indent=2, sort_keys=True, default=str)
    os.replace(handle.name, path)


class ArtifactCache:
    """Cache of one profile's artifacts.

    >>> cache = ArtifactCache("smoke")
    >>> model_state = cache.get_or_compute("fusion-model", {"seed": 0}, lambda: train())  # doctest: +SKIP
    """

    def __init__(self, profile: str, root: Path | None = None) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
        self.profile = profile
        self.root = (root or cache_root()) / profile
        self.hits = 0
        self.misses = 0

    def path(self, kind: str, config: dict[str, Any]) -> Path:
        """Folder of the artifact of ``kind`` made from ``config`` (it may not exist yet)."""
        return self.root / kind / config_key(kind, config)

    def count(self) -> int:
        """Number of artifacts stored under this profile (all kinds)."""
        return sum(1 for _ in self.root.glob(f"*/*/{ARTIFACT_FILE}"))

    def contains(self, kind: str, config: dict[str, Any]) -> bool:
        return (self.path(kind, config) / ARTIFACT_FILE).exists()

    def verify(self, folder: Path) -> dict[str, Any]:
        """The record (``meta.json``) of the artifact in ``folder``, after checking that the file
        has the recorded size and SHA-256; :class:`CorruptArtifactError` naming the file if not."""
        file, meta_file = folder / ARTIFACT_FILE, folder / META_FILE
        if not meta_file.exists():
            raise CorruptArtifactError(f"{file} has no record ({meta_file} is missing)")
        meta = json.loads(meta_file.read_text())
        size, sha = file.stat().st_size, file_sha256(file)
        if (size, sha) != (meta["bytes"], meta["sha256"]):
            raise CorruptArtifactError(f"{file} is corrupt: {size} bytes with SHA-256 {sha[:12]}..., "
                                       f"recorded {meta['bytes']} bytes with {meta['sha256'][:12]}...")
        return meta

    def load(self, kind: str, config: dict[str, Any]) -> Any:
        """The stored artifact; ``KeyError`` naming kind and folder when it is not there,
        :class:`CorruptArtifactError` naming the file when it differs from its record."""
        folder = self.path(kind, config)
        if not (folder / ARTIFACT_FILE).exists():
            raise KeyError(f"no cached {kind!r} artifact for this configuration (looked in {folder / ARTIFACT_FILE})")
        self.verify(folder)
        return load_weights_only(folder / ARTIFACT_FILE)

    def save(self, kind: str, config: dict[str, Any], artifact: Any) -> Path:
        """Store ``artifact`` atomically (write to a temporary file, then rename) with its
        configuration and record. ``TypeError`` naming the offending classes, and nothing stored,
        when it would not load with ``weights_only=True``."""
        folder = self.path(kind, config)
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as handle:
            torch.save(artifact, handle)
        temporary = Path(handle.name)
        refused = unsafe_globals(temporary)
        if refused:
            temporary.unlink()
            raise TypeError(f"a {kind!r} artifact may hold tensors, numpy arrays, plain containers and "
                            f"training histories; this one holds {refused}")
        meta = {"kind": kind, "key": folder.name, "code_hash": code_hash(kind), "sha256": file_sha256(temporary),
                "bytes": temporary.stat().st_size}
        _write_json(folder / CONFIG_FILE, config)
        os.replace(temporary, folder / ARTIFACT_FILE)
        _write_json(folder / META_FILE, meta)
        return folder

    def get_or_compute(self, kind: str, config: dict[str, Any], compute: Callable[[], T]) -> T:
        """Return the cached artifact, or ``compute()`` it, store it and return it. A stored file
        that is corrupt is reported (a warning naming it) and computed again."""
        if self.contains(kind, config):
            try:
                artifact = self.load(kind, config)
            except CorruptArtifactError as error:
                warnings.warn(f"{error}; computing it again", stacklevel=2)
            else:
                self.hits += 1
                return artifact
        self.misses += 1
        artifact = compute()
        self.save(kind, config, artifact)
        return artifact

    def get_or_compute_many(self, kind: str, items: Sequence[tuple[dict[str, Any], Callable[[], T]]],
                            n_jobs: int = 1, progress: bool = True, desc: str | None = None,
                            threads: int = 1) -> list[T]:
        """:meth:`get_or_compute` for each ``(config, compute)`` of ``items``, in order; the missing
        artifacts are computed by :func:`helpers.workers.in_processes` in ``n_jobs`` worker
        processes (1: here), each with ``threads`` torch threads, so that the numbers are the same
        whatever ``n_jobs`` is (other thread counts change them at the level of rounding)."""
        results: list[Any] = [None] * len(items)
        missing = []
        for index, (config, _) in enumerate(items):
            if self.contains(kind, config):
                try:
                    results[index] = self.load(kind, config)
                except CorruptArtifactError as error:
                    warnings.warn(f"{error}; computing it again", stacklevel=2)
                else:
                    self.hits += 1
                    continue
            missing.append(index)
        self.misses += len(missing)
        computed = in_processes([items[index][1] for index in missing], n_jobs, threads)
        # The workers' iterator comes first, so that it runs to its end and joblib cancels nothing.
        for artifact, index in zip(tqdm(computed, total=len(missing), desc=desc or kind, unit="artifact",
                                        disable=not progress or not missing), missing, strict=True):
            self.save(kind, items[index][0], artifact)
            results[index] = artifact
        return results

