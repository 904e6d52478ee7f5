"""Manifests: how one chapter tells a later one where its results are.

A chapter whose networks another chapter reuses writes, into its profile's cache, the settings
that identify them (data, training, architecture, models, seeds) as a JSON manifest; the later
chapter reads them instead of repeating those settings in its own parameters, so the two cannot
drift apart. ``write`` and ``read`` take the chapter's notebook name (``"01_fusion_training"``); a protocol
class that inherits :class:`Recorded` writes and reads itself (``protocol.record(cache)``,
``Protocol.recorded(cache)``).

Files: ``<cache root>/<profile>/manifests/<chapter>.json``, holding ``{"chapter", "profile",
"settings"}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .cache import ArtifactCache

FOLDER = "manifests"


class MissingManifestError(FileNotFoundError):
    """The manifest a chapter needs has not been written: the chapter that writes it has not run
    with this profile."""


def path(cache: ArtifactCache, chapter: str) -> Path:
    """Where ``chapter``'s manifest of ``cache``'s profile lives (it may not exist yet)."""
    return cache.root / FOLDER / f"{chapter}.json"


def write(cache: ArtifactCache, chapter: str, settings: dict[str, Any]) -> Path:
    """Write ``chapter``'s manifest (``settings`` must be JSON-serialisable); returns its path.
    A previous manifest of the same chapter and profile is replaced."""
    target = path(cache, chapter)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"chapter": chapter, "profile": cache.profile, "settings": settings}, indent=2,
                      sort_keys=True)
    temporary = target.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(target)
    return target


def read(cache: ArtifactCache, chapter: str) -> dict[str, Any]:
    """The settings ``chapter`` recorded for ``cache``'s profile; :class:`MissingManifestError`
    naming the file and the command that writes it when the chapter has not run."""
    source = path(cache, chapter)
    if not source.exists():
        raise MissingManifestError(
            f"no manifest of chapter {chapter!r} for profile {cache.profile!r} at {source}: run that chapter "
            f"first (`python -m helpers.book run --profile {cache.profile} --chapters {chapter[:2]}`, or "
            f"'Run all' in its notebook with profile = {cache.profile!r})")
    content = json.loads(source.read_text())
    if content.get("chapter") != chapter or content.get("profile") != cache.profile:
        raise ValueError(f"{source} holds the manifest of chapter {content.get('chapter')!r}, profile "
                         f"{content.get('profile')!r}; expected chapter {chapter!r}, profile {cache.profile!r}")
    return content["settings"]


R = TypeVar("R", bound="Recorded")


class Recorded:
    """A protocol a chapter records for later chapters: subclasses name the chapter that owns it
    (``CHAPTER``, its notebook name) and define ``as_dict()`` (JSON-serialisable values) and the
    class method ``from_dict(values)`` that inverts it."""

    CHAPTER: ClassVar[str]

    def record(self, cache: ArtifactCache) -> Path:
        """Write this protocol as the manifest of ``CHAPTER`` for ``cache``'s profile."""
        return write(cache, self.CHAPTER, self.as_dict())  # type: ignore[attr-defined]

    @classmethod
    def recorded(cls: type[R], cache: ArtifactCache) -> R:
        """The protocol ``CHAPTER`` recorded for ``cache``'s profile (:func:`read`'s error, naming
        the command to run, when that chapter has not run)."""
        return cls.from_dict(read(cache, cls.CHAPTER))  # type: ignore[attr-defined]
