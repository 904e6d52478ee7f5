import numpy as np
import pytest
import torch

from helpers import cifar_resnets
from helpers.cache import ArtifactCache
from helpers.train import TrainConfig

TINY = TrainConfig(max_steps=2, batch_size=16, learning_rate=0.05, eval_every=1, patience=1, optimiser="sgd",
                   schedule="one_cycle", weight_decay=5e-4, augment=True)


@pytest.fixture(scope="module")
def digits():
    return cifar_resnets.prepare(n_train=60, n_val=20, n_test=30, seed=0, dataset="digits")


def test_prepare_resizes_digits_to_32_pixels_and_splits_stratified(digits):
    assert digits.images["train"].shape == (60, 1, 32, 32)
    assert digits.images["val"].shape == (20, 1, 32, 32)
    assert digits.images["test"].shape == (30, 1, 32, 32)
    assert all(0.0 <= digits.images[s].min() and digits.images[s].max() <= 1.0 for s in cifar_resnets.SPLITS)
    assert np.bincount(digits.labels["val"], minlength=10).tolist() == [2] * 10
    assert digits.config == {"dataset": "digits", "n_train": 60, "n_val": 20, "n_test": 30, "seed": 0,
                             "image_size": 32}
    assert len(digits.channel_mean) == digits.channels == 1


def test_prepare_names_a_bad_dataset_or_size():
    with pytest.raises(ValueError, match=r"unknown dataset 'svhn'.*'cifar10', 'digits'"):
        cifar_resnets.prepare(10, 10, 10, dataset="svhn")
    with pytest.raises(ValueError, match="n_val must be a positive integer, got 0"):
        cifar_resnets.prepare(10, 0, 10, dataset="digits")


def test_untrained_network_depends_on_the_seed_only(digits):
    first, again, other = (cifar_resnets.untrained_resnet(digits, s, width=4) for s in (3, 3, 4))
    assert torch.equal(first.conv1.weight, again.conv1.weight)
    assert not torch.equal(first.conv1.weight, other.conv1.weight)
    assert not first.training


def test_trained_network_starts_from_the_untrained_one_and_comes_back_from_the_cache(digits, tmp_path):
    cache = ArtifactCache("smoke", root=tmp_path)
    trained = cifar_resnets.trained_resnet(digits, 3, 4, TINY, cache, device="cpu")
    assert (cache.misses, cache.hits) == (1, 0)
    again = cifar_resnets.trained_resnets(digits, [3], 4, TINY, cache, device="cpu", progress=False)[0]
    assert (cache.misses, cache.hits) == (1, 1)
    assert torch.equal(trained.model.conv1.weight, again.model.conv1.weight)
    assert 0.0 <= trained.test_accuracy <= 1.0 and trained.seed == 3 and trained.width == 4
    assert trained.parameters == sum(p.numel() for p in trained.model.parameters())
    untrained = cifar_resnets.untrained_resnet(digits, 3, 4)
    assert not torch.equal(trained.model.conv1.weight, untrained.conv1.weight)
    # the training history has the checks of two steps, and the model is ready for inference
    assert trained.history.steps[-1] <= 2 and not trained.model.training


def test_network_keys_tell_seeds_and_training_apart(digits):
    trained = cifar_resnets.network_key(digits, 0, 4, TINY)
    assert trained["train"]["seed"] == 0 and trained["data"] == digits.config
    assert cifar_resnets.network_key(digits, 1, 4, TINY) != trained
    assert cifar_resnets.network_key(digits, 0, 4, None) == {"data": digits.config, "architecture": "resnet18",
                                                             "width": 4, "train": None, "seed": 0}


def test_networks_far_from_trained_cannot_judge_a_claim_about_trained_networks():
    assert cifar_resnets.undertrained([0.90, 0.88], 0.85) is None
    assert "52.0% test accuracy on average, below the 85%" in cifar_resnets.undertrained([0.52, 0.52], 0.85)
    with pytest.raises(ValueError, match="at least one network"):
        cifar_resnets.undertrained([], 0.85)
