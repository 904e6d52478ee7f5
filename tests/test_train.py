import numpy as np
import pytest
import torch

from helpers.models import build_model
from helpers.train import Examples, TrainConfig, classification_metrics, fit, predict_proba


def separable_examples(n, seed):
    """Images whose class is the brightness of the centre: any working CNN learns it."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    images = rng.normal(0, 0.1, (n, 1, 12, 12)).astype(np.float32)
    images[:, 0, 4:8, 4:8] += labels[:, None, None] * 1.0
    return Examples(images, None, labels.astype(np.int64))


def test_training_learns_a_separable_task_and_keeps_the_best_check():
    torch.manual_seed(0)
    model = build_model("cnn", image_shape=(1, 12, 12), topo_shape=None, n_classes=2)
    history = fit(model, separable_examples(256, 0), separable_examples(128, 1),
                  TrainConfig(max_steps=60, eval_every=8, patience=2), progress=False)
    probabilities = predict_proba(model, separable_examples(128, 2))
    assert probabilities.shape == (128, 2)
    assert np.allclose(probabilities.sum(1), 1, atol=1e-5)
    assert classification_metrics(separable_examples(128, 2).labels, probabilities)["accuracy"] > 0.9
    assert history.val_loss[history.steps.index(history.best_step)] == min(history.val_loss)


def test_training_is_deterministic_per_seed():
    def train(seed):
        torch.manual_seed(0)  # the same initial weights
        model = build_model("cnn", image_shape=(1, 12, 12), topo_shape=None, n_classes=2)
        torch.manual_seed(99)  # fit seeds batch order and dropout itself: the global state must not matter
        fit(model, separable_examples(64, 0), separable_examples(32, 1),
            TrainConfig(max_steps=4, eval_every=2, seed=seed), progress=False)
        return predict_proba(model, separable_examples(32, 2))
    first = train(0)
    assert np.array_equal(first, train(0))
    assert not np.array_equal(first, train(1))


def test_metrics_of_known_predictions():
    labels = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])
    scores = classification_metrics(labels, probabilities)
    assert scores["accuracy"] == 0.75
    assert scores["macro_recall"] == 0.75
    assert scores["roc_auc"] == 1.0
    three = classification_metrics(np.array([0, 1, 2]), np.eye(3))
    assert three["accuracy"] == 1.0 and "roc_auc" not in three


def test_examples_reject_inputs_of_different_lengths():
    with pytest.raises(ValueError, match="images 3, topo 2, labels 3"):
        Examples(np.zeros((3, 1, 4, 4)), np.zeros((2, 2, 5)), np.zeros(3, dtype=np.int64))


def test_early_stopping_stops_after_patience_checks_without_gain():
    """Random labels: the validation loss stops improving, so training ends before max_steps."""
    rng = np.random.default_rng(0)
    noise = Examples(rng.normal(size=(64, 1, 12, 12)).astype(np.float32), None, rng.integers(0, 2, 64))
    torch.manual_seed(0)
    model = build_model("cnn", image_shape=(1, 12, 12), topo_shape=None, n_classes=2)
    history = fit(model, noise, noise.subset(np.arange(32)), TrainConfig(max_steps=2000, eval_every=5,
                                                                         patience=2), progress=False)
    assert history.steps[-1] < 2000
    assert len(history.steps) - 1 - history.steps.index(history.best_step) == 2
