import io
import json
import tarfile
from pathlib import Path

import nbformat
import pytest
import torch

from helpers import archive, book, kinds, manifest
from helpers.cache import ArtifactCache, file_sha256

TRAINED = {("fusion-model", 0): {"state_dict": {"w": torch.arange(4.0)}},
           ("filter-cnn", 1): {"weights": {"conv1": torch.ones(2, 1, 3, 3)}}}


@pytest.fixture
def made(tmp_path):
    """A cache with two trained networks and one computed result, and its archive."""
    cache = ArtifactCache("smoke", root=tmp_path / "made")
    for (kind, seed), artifact in TRAINED.items():
        cache.save(kind, {"seed": seed}, artifact)
    cache.save("knn-density", {"k": 3}, {"rho": torch.zeros(3)})
    manifest.write(cache, "01_fusion_training", {"seeds": [0, 1]})
    return cache, archive.pack("smoke", tmp_path / "smoke.tar.gz", root=tmp_path / "made")


def rewrite(source, target, change):
    """Copy archive ``source`` to ``target``, passing each member's name and bytes through ``change``."""
    with tarfile.open(source, "r:gz") as old, tarfile.open(target, "w:gz") as new:
        for member in old.getmembers():
            name, data = change(member.name, old.extractfile(member).read())
            info = tarfile.TarInfo(name)
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))
    return target


def test_pack_and_fetch_round_trip(tmp_path, made, monkeypatch):
    monkeypatch.setenv("TOPOCNN_ROOT", str(tmp_path))  # where a URL's download is kept
    _, packed = made
    with tarfile.open(packed, "r:gz") as tar:
        listing = json.load(tar.extractfile("manifest.json"))
    entries = {entry["kind"]: entry for entry in listing["artifacts"]}
    assert set(entries) == {"fusion-model", "filter-cnn"}  # trained kinds only
    assert entries["filter-cnn"]["code_hash"] == kinds.code_hash("filter-cnn")
    assert listing["profile"] == "smoke" and len(entries["fusion-model"]["sha256"]) == 64
    assert [entry["chapter"] for entry in listing["manifests"]] == ["01_fusion_training"]
    fresh = ArtifactCache("smoke", root=tmp_path / "fresh")
    assert archive.fetch(f"file://{packed}", root=tmp_path / "fresh") == 2
    for (kind, seed), artifact in TRAINED.items():
        loaded = fresh.load(kind, {"seed": seed})
        key = next(iter(artifact))
        assert torch.equal(next(iter(loaded[key].values())), next(iter(artifact[key].values())))
    assert not fresh.contains("knn-density", {"k": 3})
    assert manifest.read(fresh, "01_fusion_training") == {"seeds": [0, 1]}  # chapter 2 finds chapter 1's networks
    manifest.write(fresh, "01_fusion_training", {"seeds": [7]})  # chapter 1 rerun here
    archive.fetch(str(packed), root=tmp_path / "fresh")
    assert manifest.read(fresh, "01_fusion_training") == {"seeds": [7]}  # kept, not replaced by the archive's
    assert archive.fetch(str(packed), root=tmp_path / "fresh") == 0  # already installed
    assert not list(fresh.root.glob(".fetch-*"))


def test_a_tampered_artifact_is_refused_and_nothing_installed(tmp_path, made):
    _, packed = made
    tampered = rewrite(packed, tmp_path / "tampered.tar.gz", lambda name, data: (
        name, data[:-8] + bytes(8) if name.startswith("filter-cnn") and name.endswith(".pt") else data))
    with pytest.raises(archive.ArchiveError, match=r"filter-cnn/[0-9a-f]{16}/artifact.pt differs"):
        archive.fetch(str(tampered), root=tmp_path / "fresh")
    assert ArtifactCache("smoke", root=tmp_path / "fresh").count() == 0


def test_a_tampered_chapter_manifest_is_refused(tmp_path, made):
    _, packed = made
    tampered = rewrite(packed, tmp_path / "tampered.tar.gz", lambda name, data: (
        name, data.replace(b"seeds", b"seedz") if name == "manifests/01_fusion_training.json" else data))
    with pytest.raises(archive.ArchiveError, match=r"manifests/01_fusion_training.json differs"):
        archive.fetch(str(tampered), root=tmp_path / "fresh")
    assert not (tmp_path / "fresh" / "smoke" / "manifests").exists()


def test_an_unlisted_member_is_refused(tmp_path, made):
    _, packed = made
    extra = rewrite(packed, tmp_path / "extra.tar.gz",
                    lambda name, data: ("../evil.py" if name.endswith("config.json") and "fusion" in name else name, data))
    with pytest.raises(archive.ArchiveError, match=r"unlisted: \['../evil.py'\]"):
        archive.fetch(str(extra), root=tmp_path / "fresh")
    assert not (tmp_path / "evil.py").exists()


def test_an_archive_made_by_other_code_is_refused(tmp_path, made):
    _, packed = made

    def older_code(name, data):
        if name != "manifest.json":
            return name, data
        manifest = json.loads(data)
        manifest["artifacts"][0]["code_hash"] = "0" * 16
        return name, json.dumps(manifest).encode()

    stale = rewrite(packed, tmp_path / "stale.tar.gz", older_code)
    with pytest.raises(archive.StaleArchiveError, match="archive 0000000000000000, this library"):
        archive.fetch(str(stale), root=tmp_path / "fresh")
    assert ArtifactCache("smoke", root=tmp_path / "fresh").count() == 0


def test_the_archive_checksum_is_checked_when_given(tmp_path, made):
    _, packed = made
    with pytest.raises(archive.ArchiveError, match="not the expected 00"):
        archive.fetch(str(packed), sha256="00" * 32, root=tmp_path / "fresh")
    with pytest.raises(FileNotFoundError, match="no archive at"):
        archive.fetch(str(tmp_path / "missing.tar.gz"))


def test_artifacts_of_earlier_code_are_not_packed(tmp_path, made):
    cache, _ = made
    for kind in ("fusion-model", "filter-cnn"):  # keys that the current code no longer computes
        folder = next((cache.root / kind).iterdir())
        folder.rename(folder.with_name("0" * 16))
    with pytest.raises(archive.ArchiveError, match="no trained artifacts of the current code"):
        archive.pack("smoke", tmp_path / "none.tar.gz", root=cache.root.parent)


def test_the_command_line_packs_and_fetches(tmp_path, made, monkeypatch):
    monkeypatch.setenv("TOPOCNN_ROOT", str(tmp_path))
    monkeypatch.setenv("TOPOCNN_CACHE", str(tmp_path / "made"))
    book.main(["pack", "--profile", "smoke"])
    written = list((tmp_path / "_build" / "artifacts").glob(f"topocnn-smoke-{kinds.digest()}.tar.gz"))
    assert len(written) == 1
    monkeypatch.setenv("TOPOCNN_CACHE", str(tmp_path / "cli"))
    book.main(["fetch", str(written[0])])
    assert ArtifactCache("smoke").count() == 2


def test_a_published_release_is_installed(tmp_path, made, monkeypatch):
    _, packed = made
    assert not archive.install_release("smoke", root=tmp_path / "fresh")  # none published
    monkeypatch.setitem(archive.RELEASES, "smoke", archive.Release(f"file://{packed}", file_sha256(packed)))
    monkeypatch.setenv("TOPOCNN_ROOT", str(tmp_path))
    assert archive.install_release("smoke", root=tmp_path / "fresh")
    assert ArtifactCache("smoke", root=tmp_path / "fresh").count() == 2


@pytest.mark.parametrize("path", book.chapters(Path(__file__).resolve().parents[1]), ids=lambda p: p.stem)
def test_every_chapter_installs_the_published_networks_on_colab(path):
    cells = nbformat.read(path, as_version=4).cells
    index = next(i for i, cell in enumerate(cells) if "parameters" in cell.metadata.get("tags", []))
    hook = cells[index + 1].source  # after the parameters (and papermill's injected ones), before any training
    assert '"google.colab" in sys.modules' in hook and "archive.install_release(profile)" in hook
