"""Archives of trained artifacts: one file with a profile's trained networks, and its installation.

:func:`pack` writes the trained artifacts of one profile (the kinds with ``trained=True`` in
:data:`helpers.kinds.KINDS`) that the current code would look up, as a gzipped tar file::

    manifest.json                 format, profile, library version, and for every artifact its
                                  kind, key, code hash, size and SHA-256; for every chapter
                                  manifest its chapter, size and SHA-256
    <kind>/<key>/artifact.pt      the artifact
    <kind>/<key>/config.json      the configuration it was made from
    manifests/<chapter>.json      what a chapter recorded for later chapters (helpers.manifest)

:func:`fetch` takes such a file or its URL and installs it into the cache only after every check
has passed: the archive's own SHA-256 when one is given, no member beyond those the manifest
lists, every artifact's size and SHA-256, every key recomputed from its configuration and this
library's code hash, and every artifact loadable with ``weights_only=True``. An archive made by
code whose hash differs from this library's is refused (:class:`StaleArchiveError`): its
artifacts are not what this code computes.

:data:`RELEASES` names the published archive of a profile; the chapters install it on Colab
(:func:`install_release`) instead of training their networks.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from . import manifest as chapter_manifests
from .cache import (ARTIFACT_FILE, CONFIG_FILE, META_FILE, PROFILES, ArtifactCache, CorruptArtifactError,
                    config_key, file_sha256, unsafe_globals)
from .kinds import KINDS, code_hash, digest
from .paths import download_dir, project_root

FORMAT = 1
MANIFEST = "manifest.json"
TRAINED_KINDS = tuple(kind for kind, spec in KINDS.items() if spec.trained)
_KEY = re.compile(r"[0-9a-f]{16}")
_CHAPTER = re.compile(r"[0-9]{2}_[a-z0-9_]+")


@dataclass(frozen=True)
class Release:
    """A published archive: where it is and the SHA-256 of the file."""

    url: str
    sha256: str


#: The published archive of each profile (none yet: a release adds its URL and SHA-256 here).
RELEASES: dict[str, Release] = {}


class ArchiveError(RuntimeError):
    """An archive that fails a check; nothing of it is installed."""


class StaleArchiveError(ArchiveError):
    """An archive made by code other than this library's."""


def _current_artifacts(cache: ArtifactCache) -> list[tuple[Path, dict[str, Any]]]:
    """The trained artifacts in ``cache`` that the current code looks up, with their records;
    artifacts made by earlier code (their folder is not the key of their configuration now) are left out."""
    found = []
    for kind in TRAINED_KINDS:
        for folder in sorted((cache.root / kind).glob(f"*/{ARTIFACT_FILE}")):
            folder = folder.parent
            config = json.loads((folder / CONFIG_FILE).read_text())
            if config_key(kind, config) == folder.name:
                found.append((folder, cache.verify(folder)))
    return found


def pack(profile: str, out: Path | None = None, root: Path | None = None) -> Path:
    """Write the archive of ``profile``'s trained artifacts (default
    ``_build/artifacts/topocnn-<profile>-<digest>.tar.gz``); returns its path.

    ``root`` is the cache root (default :func:`helpers.paths.cache_root`). A corrupt artifact is
    an error naming it; a profile without current trained artifacts is an :class:`ArchiveError`.
    """
    cache = ArtifactCache(profile, root)
    artifacts = _current_artifacts(cache)
    if not artifacts:
        raise ArchiveError(f"no trained artifacts of the current code in {cache.root}: run the chapters "
                           f"with `python -m helpers.book run --profile {profile}` first")
    out = out or project_root() / "_build" / "artifacts" / f"topocnn-{profile}-{digest()}.tar.gz"
    chapters = _chapter_manifests(cache)
    manifest = {"format": FORMAT, "profile": profile, "library_version": __version__,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "artifacts": [{name: meta[name] for name in ("kind", "key", "code_hash", "sha256", "bytes")}
                              for _, meta in artifacts],
                "manifests": [entry for _, entry in chapters]}
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, suffix=".tmp", delete=False) as handle:
        with tarfile.open(fileobj=handle, mode="w:gz") as tar:
            text = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
            for folder, meta in artifacts:
                for name in (ARTIFACT_FILE, CONFIG_FILE):
                    tar.add(folder / name, arcname=f"{meta['kind']}/{meta['key']}/{name}", recursive=False)
            for path, entry in chapters:
                tar.add(path, arcname=_manifest_member(entry["chapter"]), recursive=False)
    Path(handle.name).replace(out)
    print(f"{len(artifacts)} trained artifacts of profile {profile!r} written to {out} "
          f"({out.stat().st_size / 2**20:.1f} MiB, SHA-256 {file_sha256(out)})")
    return out


def _chapter_manifests(cache: ArtifactCache) -> list[tuple[Path, dict[str, Any]]]:
    """The chapter manifests of ``cache``'s profile with their archive entries (chapter, SHA-256, bytes)."""
    return [(path, {"chapter": path.stem, "sha256": file_sha256(path), "bytes": path.stat().st_size})
            for path in sorted((cache.root / chapter_manifests.FOLDER).glob("*.json"))]


def _manifest_member(chapter: str) -> str:
    return f"{chapter_manifests.FOLDER}/{chapter}.json"


def _local_copy(source: str) -> Path:
    """``source`` itself when it is a file; a download of it into ``data/downloads/artifacts``
    when it is an ``http``, ``https`` or ``file`` URL."""
    if re.match(r"(https?|file)://", source):
        target = download_dir() / "artifacts" / Path(source.split("?")[0]).name
        target.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(source) as response, tempfile.NamedTemporaryFile(
                dir=target.parent, suffix=".tmp", delete=False) as handle:
            shutil.copyfileobj(response, handle)
        Path(handle.name).replace(target)
        return target
    path = Path(source).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no archive at {path}; give a file or an http(s):// or file:// URL")
    return path


def _read_manifest(tar: tarfile.TarFile, name: str) -> dict[str, Any]:
    try:
        manifest = json.load(tar.extractfile(MANIFEST))
    except KeyError as error:
        raise ArchiveError(f"{name} has no {MANIFEST}: it is not an archive written by `helpers.book pack`") from error
    if manifest.get("format") != FORMAT or manifest.get("profile") not in PROFILES:
        raise ArchiveError(f"{name}: format {manifest.get('format')!r} and profile {manifest.get('profile')!r}; "
                           f"expected format {FORMAT} and one of {PROFILES}")
    for entry in manifest["artifacts"]:
        if entry["kind"] not in TRAINED_KINDS or not _KEY.fullmatch(entry["key"]):
            raise ArchiveError(f"{name}: entry {entry['kind']!r}/{entry['key']!r} is not a trained kind "
                               f"({TRAINED_KINDS}) with a 16-hex-digit key")
    manifest.setdefault("manifests", [])
    for entry in manifest["manifests"]:
        if not _CHAPTER.fullmatch(entry["chapter"]):
            raise ArchiveError(f"{name}: chapter manifest {entry['chapter']!r} is not named like a chapter notebook")
    return manifest


def _check_code(manifest: dict[str, Any], name: str) -> None:
    stale = {entry["kind"]: entry["code_hash"] for entry in manifest["artifacts"]
             if entry["code_hash"] != code_hash(entry["kind"])}
    if stale:
        described = ", ".join(f"{kind} (archive {made}, this library {code_hash(kind)})" for kind, made in stale.items())
        raise StaleArchiveError(f"{name} was made by other code than this library's for {described}: "
                                f"this code would never use its artifacts")


def _stage(tar: tarfile.TarFile, manifest: dict[str, Any], staging: Path, name: str) -> None:
    """Extract every listed artifact into ``staging`` and check it; :class:`ArchiveError` on the first failure."""
    members = {member.name: member for member in tar.getmembers()}
    listed = ({MANIFEST} | {f"{e['kind']}/{e['key']}/{file}" for e in manifest["artifacts"]
                            for file in (ARTIFACT_FILE, CONFIG_FILE)}
              | {_manifest_member(e["chapter"]) for e in manifest["manifests"]})
    if set(members) != listed or not all(members[m].isfile() for m in listed):
        raise ArchiveError(f"{name}: its members are not exactly the files its manifest lists "
                           f"(unlisted: {sorted(set(members) - listed)}, missing: {sorted(listed - set(members))})")
    for entry in manifest["artifacts"]:
        folder = staging / entry["kind"] / entry["key"]
        folder.mkdir(parents=True)
        for file in (ARTIFACT_FILE, CONFIG_FILE):
            (folder / file).write_bytes(tar.extractfile(members[f"{entry['kind']}/{entry['key']}/{file}"]).read())
        artifact = folder / ARTIFACT_FILE
        where = f"{name}: {entry['kind']}/{entry['key']}"
        if (artifact.stat().st_size, file_sha256(artifact)) != (entry["bytes"], entry["sha256"]):
            raise ArchiveError(f"{where}/{ARTIFACT_FILE} differs from the size and SHA-256 in the manifest")
        if config_key(entry["kind"], json.loads((folder / CONFIG_FILE).read_text())) != entry["key"]:
            raise ArchiveError(f"{where}/{CONFIG_FILE} is not the configuration of key {entry['key']}")
        refused = unsafe_globals(artifact)
        if refused:
            raise ArchiveError(f"{where}/{ARTIFACT_FILE} would run code to load ({refused})")
        (folder / META_FILE).write_text(json.dumps({k: entry[k] for k in ("kind", "key", "code_hash", "sha256",
                                                                          "bytes")}, indent=2, sort_keys=True))
    for entry in manifest["manifests"]:
        target = staging / _manifest_member(entry["chapter"])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(tar.extractfile(members[_manifest_member(entry["chapter"])]).read())
        if (target.stat().st_size, file_sha256(target)) != (entry["bytes"], entry["sha256"]):
            raise ArchiveError(f"{name}: {_manifest_member(entry['chapter'])} differs from the size and SHA-256 "
                               f"in the manifest")


def fetch(source: str, sha256: str | None = None, root: Path | None = None) -> int:
    """Verify the archive at ``source`` (a file or a URL) and install its artifacts into the cache
    of its profile (``root``: the cache root); returns how many were installed. Artifacts that
    are already in the cache intact are kept, and so are the chapters' manifests already there
    (a chapter run on this machine keeps its own record); nothing is installed unless every
    check passes."""
    path = _local_copy(source)
    if sha256 is not None and file_sha256(path) != sha256.lower():
        raise ArchiveError(f"{path} has SHA-256 {file_sha256(path)}, not the expected {sha256}")
    try:
        tar = tarfile.open(path, "r:gz")
    except (tarfile.TarError, OSError) as error:
        raise ArchiveError(f"{path} is not a gzipped tar archive ({error})") from error
    with tar:
        manifest = _read_manifest(tar, str(path))
        _check_code(manifest, str(path))
        cache = ArtifactCache(manifest["profile"], root)
        cache.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=cache.root))
        try:
            _stage(tar, manifest, staging, str(path))
            installed = 0
            for entry in manifest["artifacts"]:
                target = cache.root / entry["kind"] / entry["key"]
                if target.exists():
                    try:
                        cache.verify(target)
                        continue
                    except CorruptArtifactError:
                        shutil.rmtree(target)
                target.parent.mkdir(parents=True, exist_ok=True)
                (staging / entry["kind"] / entry["key"]).rename(target)
                installed += 1
            for entry in manifest["manifests"]:  # the chapters' records of these artifacts
                target = cache.root / _manifest_member(entry["chapter"])
                if target.exists():  # a chapter run here keeps its own record of what it trained
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                (staging / _manifest_member(entry["chapter"])).replace(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    print(f"{installed} of {len(manifest['artifacts'])} artifacts of {path.name} installed into {cache.root}")
    return installed


def install_release(profile: str, root: Path | None = None) -> bool:
    """Install the published archive of ``profile`` (:data:`RELEASES`); ``False``, saying why,
    when none is published or it was made by other code (the chapter then trains its networks)."""
    release = RELEASES.get(profile)
    if release is None:
        print(f"no archive of trained networks is published for profile {profile!r}: the chapter trains them")
        return False
    try:
        fetch(release.url, release.sha256, root)
    except StaleArchiveError as error:
        print(f"{error}; the chapter trains its networks")
        return False
    return True
