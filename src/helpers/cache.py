"""Content-addressed artifact cache: trained models and expensive results, keyed by configuration.

An artifact is identified by its *kind* (e.g. ``"fusion-model"``), the *profile* it was made
under and a configuration dictionary. The key is a hash of the canonical JSON of that
configuration plus the library version, so a changed setting or a new release never returns a
stale result. Profiles live in separate folders and never read each other's artifacts::

    <cache_root>/<profile>/<kind>/<key>/artifact.pt   the object (torch.save)
    <cache_root>/<profile>/<kind>/<key>/config.json   the configuration it was made from

Any picklable object (state dicts, numpy arrays, dictionaries, data frames) can be stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from . import __version__
from .paths import cache_root

T = TypeVar("T")
PROFILES = ("smoke", "quick", "full")


def config_key(config: dict[str, Any]) -> str:
    """16-hex-digit hash of ``config`` (canonical JSON, sorted keys) and the library version."""
    canonical = json.dumps({"config": config, "version": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class ArtifactCache:
    """Cache of one profile's artifacts.

    >>> cache = ArtifactCache("smoke")
    >>> model_state = cache.get_or_compute("cnn", {"seed": 0}, lambda: train())  # doctest: +SKIP
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
        return self.root / kind / config_key(config)

    def count(self) -> int:
        """Number of artifacts stored under this profile (all kinds)."""
        return sum(1 for _ in self.root.glob("*/*/artifact.pt"))

    def contains(self, kind: str, config: dict[str, Any]) -> bool:
        return (self.path(kind, config) / "artifact.pt").exists()

    def load(self, kind: str, config: dict[str, Any]) -> Any:
        """The stored artifact; ``KeyError`` naming kind and folder when it is not there."""
        file = self.path(kind, config) / "artifact.pt"
        if not file.exists():
            raise KeyError(f"no cached {kind!r} artifact for this configuration (looked in {file})")
        return torch.load(file, weights_only=False)

    def save(self, kind: str, config: dict[str, Any], artifact: Any) -> Path:
        """Store ``artifact`` atomically (write to a temporary file, then rename)."""
        folder = self.path(kind, config)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True, default=str))
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as handle:
            torch.save(artifact, handle)
        os.replace(handle.name, folder / "artifact.pt")
        return folder

    def get_or_compute(self, kind: str, config: dict[str, Any], compute: Callable[[], T]) -> T:
        """Return the cached artifact, or ``compute()`` it, store it and return it."""
        if self.contains(kind, config):
            self.hits += 1
            return self.load(kind, config)
        self.misses += 1
        artifact = compute()
        self.save(kind, config, artifact)
        return artifact
