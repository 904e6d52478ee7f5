import numpy as np
import pytest
import torch

from helpers import cifar_networks
from helpers.cache import ArtifactCache
from helpers.train import TrainConfig

TINY = TrainConfig(max_steps=2, batch_size=16, learning_rate=0.05, eval_every=1, patience=1, optimiser="sgd",
                   schedule="one_cycle", weight_decay=5e-4, augment=True)


@pytest.fixture(scope="module")
def digits():
    return cifar_networks.prepare(n_train=60, n_val=20, n_test=30, seed=0, dataset="digits")


def test_prepare_resizes_digits_to_32_pixels_and_splits_stratified(digits):
    assert digits.images["train"].shape == (60, 1, 32, 32)
    assert digits.images["val"].shape == (20, 1, 32, 32)
    assert digits.images["test"].shape == (30, 1, 32, 32)
    assert all(0.0 <= digits.images[s].min() and digits.images[s].max() <= 1.0 for s in cifar_networks.SPLITS)
    assert np.bincount(digits.labels["val"], minlength=10).tolist() == [2] * 10
    assert digits.config == {"dataset": "digits", "n_train": 60, "n_val": 20, "n_test": 30, "seed": 0,
                             "image_size": 32}
    assert len(digits.channel_mean) == digits.channels == 1


def test_prepare_without_validation_keeps_every_drawn_image_for_training():
    data = cifar_networks.prepare(n_train=50, n_val=0, n_test=10, seed=0, dataset="digits")
    assert data.images["train"].shape[0] == 50 and data.images["val"].shape[0] == 0
    assert data.examples("val") is None and len(data.examples("train")) == 50


def test_prepare_names_a_bad_dataset_or_size():
    with pytest.raises(ValueError, match=r"unknown dataset 'svhn'.*'cifar10', 'digits'"):
        cifar_networks.prepare(10, 10, 10, dataset="svhn")
    with pytest.raises(ValueError, match="n_val must be an integer >= 0, got -1"):
        cifar_networks.prepare(10, -1, 10, dataset="digits")
    with pytest.raises(ValueError, match="n_train must be an integer >= 1, got 0"):
        cifar_networks.prepare(0, 10, 10, dataset="digits")


@pytest.mark.parametrize("architecture, first_layer", [("fast", "group1.conv1"), ("resnet18", "conv1")])
def test_untrained_network_depends_on_the_seed_only(digits, architecture, first_layer):
    first, again, other = (cifar_networks.untrained_network(digits, s, 4, architecture) for s in (3, 3, 4))
    weight = lambda model: model.get_submodule(first_layer).weight
    assert torch.equal(weight(first), weight(again))
    assert not torch.equal(weight(first), weight(other))
    assert not first.training


def test_unknown_architecture_is_named():
    with pytest.raises(ValueError, match=r"unknown architecture 'vgg'; expected one of \('fast', 'resnet18'\)"):
        cifar_networks.network_key(None, 0, 4, None, "vgg")


@pytest.mark.parametrize("architecture, first_layer", [("fast", "group1.conv1"), ("resnet18", "conv1")])
def test_trained_network_starts_from_the_untrained_one_and_comes_back_from_the_cache(digits, tmp_path, architecture,
                                                                                    first_layer):
    cache = ArtifactCache("smoke", root=tmp_path)
    trained = cifar_networks.trained_networks(digits, [3], 4, TINY, cache, architecture, device="cpu",
                                              progress=False)[0]
    assert (cache.misses, cache.hits) == (1, 0)
    again = cifar_networks.trained_networks(digits, [3], 4, TINY, cache, architecture, device="cpu",
                                            progress=False)[0]
    assert (cache.misses, cache.hits) == (1, 1)
    weight = lambda model: model.get_submodule(first_layer).weight
    assert torch.equal(weight(trained.model), weight(again.model))
    assert 0.0 <= trained.test_accuracy <= 1.0 and (trained.seed, trained.width) == (3, 4)
    assert trained.architecture == architecture
    assert trained.parameters == sum(p.numel() for p in trained.model.parameters() if p.requires_grad)
    untrained = cifar_networks.untrained_network(digits, 3, 4, architecture)
    assert not torch.equal(weight(trained.model), weight(untrained))
    # the training history has the checks of two steps, and the model is ready for inference
    assert trained.history.steps[-1] <= 2 and not trained.model.training


def test_networks_trained_in_parallel_processes_equal_those_trained_here(digits, tmp_path):
    here = cifar_networks.trained_networks(digits, [0, 1], 4, TINY, ArtifactCache("smoke", root=tmp_path / "a"),
                                           device="cpu", progress=False)
    parallel = cifar_networks.trained_networks(digits, [0, 1], 4, TINY, ArtifactCache("smoke", root=tmp_path / "b"),
                                               device="cpu", n_jobs=2, progress=False)
    for a, b in zip(here, parallel):
        assert all(torch.equal(a.model.state_dict()[k], b.model.state_dict()[k]) for k in a.model.state_dict())


def test_network_keys_tell_seeds_architectures_and_training_apart(digits):
    trained = cifar_networks.network_key(digits, 0, 4, TINY)
    assert trained["train"]["seed"] == 0 and trained["data"] == digits.config
    assert cifar_networks.network_key(digits, 1, 4, TINY) != trained
    assert cifar_networks.network_key(digits, 0, 4, TINY, "resnet18") != trained
    assert cifar_networks.network_key(digits, 0, 4, None, "resnet18") == {
        "data": digits.config, "architecture": "resnet18", "width": 4, "train": None, "seed": 0}


def test_networks_far_from_trained_cannot_judge_a_claim_about_trained_networks():
    assert cifar_networks.undertrained([0.90, 0.88], 0.85) is None
    assert "52.0% test accuracy on average, below the 85%" in cifar_networks.undertrained([0.52, 0.52], 0.85)
    with pytest.raises(ValueError, match="at least one network"):
        cifar_networks.undertrained([], 0.85)


def test_protocol_survives_the_manifest(tmp_path):
    from helpers import manifest

    cache = ArtifactCache("smoke", root=tmp_path)
    with pytest.raises(manifest.MissingManifestError, match="--chapters 04"):
        cifar_networks.Protocol.recorded(cache)
    protocol = cifar_networks.Protocol({"n_train": 60, "n_val": 0, "n_test": 30, "seed": 0, "dataset": "digits"},
                                       "fast", 4, (0, 1), TINY)
    protocol.record(cache)
    recorded = cifar_networks.Protocol.recorded(cache)
    assert recorded == protocol
    assert recorded.prepare().config == cifar_networks.prepare(60, 0, 30, 0, "digits").config
    with pytest.raises(ValueError, match="unknown architecture 'vgg'"):
        cifar_networks.Protocol({}, "vgg", 4, (0,), TINY)


def test_sample_is_stratified_and_names_a_bad_split(digits):
    images, labels = digits.sample("test", 20, seed=1)
    assert images.shape == (20, 1, 32, 32) and np.bincount(labels, minlength=10).tolist() == [2] * 10
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        digits.sample("dev", 5, seed=0)


def test_the_fast_networks_of_every_seed_share_one_fitted_input(digits):
    first, other = (cifar_networks.untrained_network(digits, s, 4, "fast") for s in (0, 1))
    assert digits.fast_input is digits.fast_input  # computed once per data set
    assert torch.equal(first.whiten.weight, other.whiten.weight)
    assert torch.equal(first.whiten.weight, digits.fast_input[2])
