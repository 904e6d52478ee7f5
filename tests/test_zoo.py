import numpy as np
import pytest
import torch

from helpers import zoo
from helpers.hooks import layer_outputs
from helpers.cache import ArtifactCache
from helpers.data import Dataset
from helpers.train import TrainConfig


@pytest.mark.parametrize("name", list(zoo.ARCHITECTURES))
def test_every_architecture_classifies_and_exposes_volumes(name):
    model = zoo.build(name, width=4, in_channels=3, n_classes=5, seed=0)
    images = np.random.default_rng(0).random((2, 3, 16, 16)).astype(np.float32)
    assert model(torch.from_numpy(images)).shape == (2, 5)
    outputs = layer_outputs(model, images, model.probe_layers)
    assert len(outputs) >= 4  # theta needs at least 4 layers
    assert zoo.FAMILIES[name] in {"plain", "VGG", "ResNet", "MobileNet"}
    assert all(v.ndim == 4 and len(v) == 2 for v in outputs.values())
    assert zoo.pooled_features(model, images).shape == (2, model.fc.in_features)


def test_architectures_differ_in_depth_and_build_is_seeded():
    depths = {name: len(zoo.build(name, 4, 3, 5, 0).probe_layers) for name in zoo.ARCHITECTURES}
    assert len(set(depths.values())) >= 4
    a, b = zoo.build("plain4", 4, 3, 5, 1), zoo.build("plain4", 4, 3, 5, 1)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    with pytest.raises(ValueError, match="unknown architecture"):
        zoo.build("alexnet", 4, 3, 5, 0)


def toy_dataset(n: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(4), n // 4)
    images = (rng.random((n, 1, 8, 8)) * 0.2 + labels[:, None, None, None] / 4).astype(np.float32)
    return Dataset("toy", "train", images, labels, ("a", "b", "c", "d"), None, "toy")


def test_class_task_renumbers_and_keeps_splits_disjoint():
    train, test = toy_dataset(80, 0), toy_dataset(40, 1)
    task = zoo.class_task(train, test, [2, 3], n_train=20, n_val=10, n_test=10, seed=0)
    assert task.class_names == ("c", "d")
    assert set(task.train.labels) == {0, 1} and len(task.train) == 20 and len(task.val) == 10
    assert not {img.tobytes() for img in task.train.images} & {img.tobytes() for img in task.val.images}


def test_pretrain_fine_tune_scratch_and_probe_learn_and_are_cached(tmp_path):
    train, test = toy_dataset(160, 0), toy_dataset(80, 1)
    source = zoo.class_task(train, test, [0, 1], 50, 20, 30, seed=0)
    target = zoo.class_task(train, test, [2, 3], 50, 20, 30, seed=0)
    cache = ArtifactCache("smoke", root=tmp_path)
    specs = [zoo.ZooSpec("plain4", 4, 1, 2, seed, "toy") for seed in (0, 1)]
    config = TrainConfig(max_steps=60, batch_size=16, learning_rate=1e-2, eval_every=10, patience=6)
    trained = zoo.pretrain(specs, source, config, cache, device="cpu", progress=False)
    assert all(metrics["accuracy"] > 0.8 for _, metrics in trained), [metrics for _, metrics in trained]
    # two worker processes give the same networks as this process
    again = zoo.pretrain(specs, source, config, ArtifactCache("smoke", root=tmp_path / "other"), device="cpu",
                         n_jobs=2, progress=False)
    for (model, _), (other, _) in zip(trained, again):
        assert all(torch.equal(x, y) for x, y in zip(model.state_dict().values(), other.state_dict().values()))
    zoo.pretrain(specs, source, config, cache, device="cpu", progress=False)
    assert cache.hits == 2
    configs = [TrainConfig(**{**vars(config), "seed": seed}) for seed in (0, 1, 2)]
    tuned = zoo.fine_tune([(spec, model) for spec, (model, _) in zip(specs, trained)], target, configs, cache,
                          device="cpu", progress=False)
    assert tuned.shape == (2, 3) and np.all(tuned > 0.8)
    scratch = zoo.from_scratch(specs, target, config, cache, device="cpu", progress=False)
    assert scratch.shape == (2,) and np.all(scratch > 0.5)
    model = trained[0][0]
    probabilities = zoo.source_probabilities(model, target.test.images)
    assert probabilities.shape == (30, 2) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
    features = zoo.pooled_features(model, target.train.images), zoo.pooled_features(model, target.test.images)
    assert zoo.linear_probe(features[0], target.train.labels, features[1], target.test.labels) > 0.8


def test_volume_betti_is_cached_by_images_weights_and_construction(tmp_path):
    cache = ArtifactCache("smoke", root=tmp_path)
    spec = zoo.ZooSpec("plain4", 4, 1, 2, 0, "toy")
    model = zoo.build("plain4", 4, 1, 2, 0)
    images = toy_dataset(8, 0).images
    jobs = [zoo.BettiJob(spec, model, "untrained", images, (0.0,), construction) for construction in ("V", "T")]
    found = zoo.volume_betti(jobs, cache, progress=False)
    assert found[0].numbers.shape == (1, 8, 4, 3) and len(found[0].voxels) == 4
    assert cache.misses == 2
    zoo.volume_betti(jobs[:1], cache, progress=False)
    assert cache.hits == 1
    shifted = zoo.BettiJob(spec, model, "untrained", images + 0.01, (0.0,))
    assert shifted.key() != jobs[0].key()


def test_load_tasks_splits_digits_into_disjoint_source_and_target_tasks():
    source, target, note = zoo.load_tasks("digits", [0, 1, 2], [3, 4, 5], 60, 30, 15, 30, image_size=12, seed=0)
    assert source.train.images.shape == (60, 1, 12, 12) and len(target.train) == 30 and len(target.test) == 30
    assert source.class_names == ("0", "1", "2") and target.class_names == ("3", "4", "5")
    assert "12x12" in note
    with pytest.raises(ValueError, match="overlap"):
        zoo.load_tasks("digits", [0, 1], [1, 2], 10, 10, 5, 10, image_size=8, seed=0)


def test_transfer_scores_of_a_trained_network(tmp_path):
    train, test = toy_dataset(160, 0), toy_dataset(80, 1)
    source = zoo.class_task(train, test, [0, 1], 50, 20, 30, seed=0)
    target = zoo.class_task(train, test, [2, 3], 50, 20, 30, seed=0)
    spec = zoo.ZooSpec("vgg", 4, 1, 2, 0, "toy")
    config = TrainConfig(max_steps=20, batch_size=16, learning_rate=1e-2, eval_every=10)
    [(model, _)] = zoo.pretrain([spec], source, config, ArtifactCache("smoke", root=tmp_path), device="cpu",
                                progress=False)
    scores = zoo.transfer_scores(model, target)
    assert set(scores) == {"linear_probe_accuracy", "logme", "leep", "h_score"}
    assert 0 <= scores["linear_probe_accuracy"] <= 1 and scores["leep"] <= 0 and scores["h_score"] >= 0


def test_not_learned_names_the_networks_below_the_minimum():
    assert zoo.not_learned([0.8, 0.9], 5, 0.5) is None
    reason = zoo.not_learned([0.8, 0.3, 0.25], 5, 0.5)
    assert reason.startswith("2 of 3 networks") and "chance 20%" in reason and "lowest 25%" in reason
