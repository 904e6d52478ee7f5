import gc
import shutil
import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from helpers import kinds
from helpers.cache import ArtifactCache, CorruptArtifactError, config_key
from helpers.train import History

LIBRARY = Path(kinds.__file__).resolve().parent


def test_second_call_is_a_cache_hit(tmp_path):
    cache = ArtifactCache("smoke", root=tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"weights": np.arange(3)}

    first = cache.get_or_compute("fusion-model", {"seed": 0, "lr": 1e-3}, compute)
    second = cache.get_or_compute("fusion-model", {"lr": 1e-3, "seed": 0}, compute)  # key order is irrelevant
    assert len(calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    assert np.array_equal(first["weights"], second["weights"])
    folder = cache.path("fusion-model", {"seed": 0, "lr": 1e-3})
    assert {p.name for p in folder.iterdir()} == {"artifact.pt", "config.json", "meta.json"}


def test_artifacts_load_without_running_code(tmp_path):
    cache = ArtifactCache("smoke", root=tmp_path)
    artifact = {"state_dict": {"w": torch.ones(2)}, "history": History(steps=[5], best_step=5),
                "probabilities": np.full((2, 3), 0.5, np.float32), "accuracy": np.float64(0.75), "n": (1, None),
                "empty diagram": np.zeros((0, 2))}
    cache.save("fusion-model", {"seed": 0}, artifact)
    loaded = cache.load("fusion-model", {"seed": 0})
    assert loaded["history"].best_step == 5 and loaded["probabilities"].dtype == np.float32
    assert loaded["accuracy"] == 0.75 and torch.equal(loaded["state_dict"]["w"], torch.ones(2))
    assert loaded["empty diagram"].shape == (0, 2)


def test_an_object_that_needs_code_to_load_is_refused(tmp_path):
    cache = ArtifactCache("smoke", root=tmp_path)
    with pytest.raises(TypeError, match="fractions.Fraction"):
        cache.save("fusion-model", {"seed": 0}, {"ratio": Fraction(1, 3)})
    assert not cache.contains("fusion-model", {"seed": 0})
    assert not list(cache.path("fusion-model", {"seed": 0}).glob("*.tmp"))


def test_count_covers_every_kind_of_one_profile(tmp_path):
    cache = ArtifactCache("smoke", root=tmp_path)
    assert cache.count() == 0
    cache.save("fusion-model", {"seed": 0}, 1)
    cache.save("layer-diagrams", {"layer": 2}, 2)
    ArtifactCache("full", root=tmp_path).save("fusion-model", {"seed": 0}, 3)
    assert cache.count() == 2


def test_a_changed_setting_is_a_different_artifact(tmp_path):
    cache = ArtifactCache("smoke", root=tmp_path)
    cache.save("fusion-model", {"seed": 0}, 1)
    assert not cache.contains("fusion-model", {"seed": 1})
    assert config_key("fusion-model", {"seed": 0}) != config_key("fusion-model", {"seed": 1})
    assert config_key("fusion-model", {"seed": 0}) != config_key("filter-cnn", {"seed": 0})


def test_profiles_never_read_each_others_artifacts(tmp_path):
    ArtifactCache("quick", root=tmp_path).save("fusion-model", {"seed": 0}, "quick weights")
    full = ArtifactCache("full", root=tmp_path)
    assert not full.contains("fusion-model", {"seed": 0})
    with pytest.raises(KeyError, match="no cached 'fusion-model' artifact"):
        full.load("fusion-model", {"seed": 0})


def test_unknown_profile_and_kind_are_named(tmp_path):
    with pytest.raises(ValueError, match="'fast'.*smoke"):
        ArtifactCache("fast")
    with pytest.raises(ValueError, match="'model'.*fusion-model"):
        ArtifactCache("smoke", root=tmp_path).path("model", {})


@pytest.mark.parametrize("damage", ["truncate", "flip", "no record"])
def test_a_corrupt_artifact_is_reported_with_its_path_and_recomputed(tmp_path, damage):
    cache = ArtifactCache("smoke", root=tmp_path)
    folder = cache.save("filter-cnn", {"seed": 0}, {"weights": torch.arange(1000.0)})
    file = folder / "artifact.pt"
    data = file.read_bytes()
    if damage == "truncate":
        file.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        file.write_bytes(data[:-100] + bytes([data[-100] ^ 1]) + data[-99:])
    else:
        (folder / "meta.json").unlink()
    with pytest.raises(CorruptArtifactError, match=str(file)):
        cache.load("filter-cnn", {"seed": 0})
    with pytest.warns(UserWarning, match=f"{file}.*computing it again"):
        again = cache.get_or_compute("filter-cnn", {"seed": 0}, lambda: {"weights": torch.zeros(2)})
    assert torch.equal(again["weights"], torch.zeros(2)) and cache.misses == 1
    assert torch.equal(cache.load("filter-cnn", {"seed": 0})["weights"], torch.zeros(2))


@pytest.fixture
def library_copy(tmp_path, monkeypatch):
    """A copy of the library's sources that the code hashes are computed from."""
    copy = tmp_path / "helpers"
    shutil.copytree(LIBRARY, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(kinds, "PACKAGE", copy)
    kinds.module_digest.cache_clear()
    kinds._tree.cache_clear()
    yield copy
    kinds.module_digest.cache_clear()
    kinds._tree.cache_clear()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))
    kinds.module_digest.cache_clear()
    kinds._tree.cache_clear()


def test_an_edit_to_the_code_that_made_an_artifact_makes_it_unreachable(tmp_path, library_copy):
    cache = ArtifactCache("smoke", root=tmp_path / "cache")
    cache.save("fusion-model", {"seed": 0}, "trained by the old loop")
    cache.save("knn-density", {"k": 3}, "densities")
    edit(library_copy / "train.py", "loss.backward()", "(2 * loss).backward()")
    assert not cache.contains("fusion-model", {"seed": 0})  # the training loop changed
    assert cache.contains("knn-density", {"k": 3})  # filters and topology did not


def test_edits_that_compute_nothing_new_keep_every_artifact(tmp_path, library_copy):
    before = {kind: kinds.code_hash(kind) for kind in kinds.KINDS}
    edit(library_copy / "claims.py", "\n", "\nVERDICT_SCALE = 2\n")
    edit(library_copy / "train.py", '"""', '"""Training, reworded. ')
    edit(library_copy / "train.py", "\n\n", "\n\n# a comment\n\n")
    assert {kind: kinds.code_hash(kind) for kind in kinds.KINDS} == before


def test_every_kind_names_the_modules_that_make_it():
    for kind in kinds.KINDS:
        modules = kinds.kind_modules(kind)
        assert set(kinds.KINDS[kind].roots) <= set(modules)
        assert not set(modules) & kinds.NOT_ARTIFACT_CODE
    assert "train" in kinds.kind_modules("fusion-model") and "models" in kinds.kind_modules("fusion-model")
    assert "claims" not in kinds.kind_modules("fusion-model")  # fusion imports it, but it makes no artifact


def test_ci_keys_its_artifact_cache_by_the_code_hashes_without_fallback():
    workflows = LIBRARY.parents[1] / ".github" / "workflows"
    steps = [step for path in workflows.glob("*.yml") for job in yaml.safe_load(path.read_text())["jobs"].values()
             for step in job.get("steps", []) if str(step.get("uses", "")).startswith("actions/cache")]
    for step in steps:
        if any(path.rstrip("/") in ("data", "data/cache") for path in str(step["with"]["path"]).split()):
            assert "restore-keys" not in step["with"], f"{step['name']} falls back to artifacts of other code"
            assert "steps.artifacts.outputs.digest" in step["with"]["key"]
    assert any("data/cache" in str(step["with"]["path"]) for step in steps)
    # CI computes the digest before installing anything: the standard library must be enough.
    digest = subprocess.run([sys.executable, "-S", "-m", "helpers.kinds", "--digest"], capture_output=True,
                            text=True, check=True, env={"PYTHONPATH": str(LIBRARY.parent)}).stdout.strip()
    assert digest == kinds.digest()


def test_many_artifacts_are_computed_with_the_requested_threads_in_any_number_of_processes(tmp_path):
    before = torch.get_num_threads()
    items = [({"index": index}, lambda index=index: {"index": index, "threads": torch.get_num_threads()})
             for index in range(3)]
    here = ArtifactCache("smoke", root=tmp_path / "here").get_or_compute_many("cifar-network", items, threads=2,
                                                                              progress=False)
    workers = ArtifactCache("smoke", root=tmp_path / "workers").get_or_compute_many(
        "cifar-network", items, n_jobs=2, threads=2, progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cached = ArtifactCache("smoke", root=tmp_path / "workers").get_or_compute_many(
            "cifar-network", items, n_jobs=2, threads=2, progress=False)
        gc.collect()
    assert cached == workers
    assert not [str(w.message) for w in caught if "joblib" in w.filename]  # the workers' generator ran to its end
    assert here == workers == [{"index": index, "threads": 2} for index in range(3)]
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="n_jobs and threads must be at least 1, got n_jobs=1, threads=0"):
        ArtifactCache("smoke", root=tmp_path).get_or_compute_many("cifar-network", items, threads=0)
