import numpy as np
import pytest

from helpers.cache import ArtifactCache, config_key


def test_second_call_is_a_cache_hit(tmp_path):
    cache = ArtifactCache("smoke", root=tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"weights": np.arange(3)}

    first = cache.get_or_compute("model", {"seed": 0, "lr": 1e-3}, compute)
    second = cache.get_or_compute("model", {"lr": 1e-3, "seed": 0}, compute)  # key order is irrelevant
    assert len(calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    assert np.array_equal(first["weights"], second["weights"])
    assert (cache.path("model", {"seed": 0, "lr": 1e-3}) / "config.json").exists()


def test_count_covers_every_kind_of_one_profile(tmp_path):
    cache = ArtifactCache("smoke", root=tmp_path)
    assert cache.count() == 0
    cache.save("model", {"seed": 0}, 1)
    cache.save("diagrams", {"layer": 2}, 2)
    ArtifactCache("full", root=tmp_path).save("model", {"seed": 0}, 3)
    assert cache.count() == 2


def test_a_changed_setting_is_a_different_artifact(tmp_path):
    cache = ArtifactCache("smoke", root=tmp_path)
    cache.save("model", {"seed": 0}, 1)
    assert not cache.contains("model", {"seed": 1})
    assert config_key({"seed": 0}) != config_key({"seed": 1})


def test_profiles_never_read_each_others_artifacts(tmp_path):
    ArtifactCache("quick", root=tmp_path).save("model", {"seed": 0}, "quick weights")
    full = ArtifactCache("full", root=tmp_path)
    assert not full.contains("model", {"seed": 0})
    with pytest.raises(KeyError, match="no cached 'model' artifact"):
        full.load("model", {"seed": 0})


def test_unknown_profile_is_named():
    with pytest.raises(ValueError, match="'fast'.*smoke"):
        ArtifactCache("fast")
