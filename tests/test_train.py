import numpy as np
import pytest
import torch

from helpers.models import build_model
from helpers.resnet import CifarResNet
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
    torch.manual_seed(0)
    model = build_model("cnn", image_shape=(1, 12, 12), topo_shape=None, n_classes=2)
    held = fit(model, noise, noise.subset(np.arange(32)), TrainConfig(max_steps=2000, eval_every=5, patience=2,
                                                                      min_steps=history.steps[-1] + 50), progress=False)
    assert held.steps[-1] >= history.steps[-1] + 50  # no early stop before min_steps
    assert held.steps[:len(history.steps)] == history.steps and held.val_loss[:3] == history.val_loss[:3]


def test_unknown_optimiser_schedule_or_bad_count_is_named():
    with pytest.raises(ValueError, match="optimiser 'rmsprop'"):
        TrainConfig(optimiser="rmsprop")
    with pytest.raises(ValueError, match="schedule 'cosine'"):
        TrainConfig(schedule="cosine")
    with pytest.raises(ValueError, match="max_steps must be at least 1, got 0"):
        TrainConfig(max_steps=0)
    with pytest.raises(ValueError, match=r"min_steps must lie in \[0, max_steps=10\], got 11"):
        TrainConfig(max_steps=10, min_steps=11)


def test_sgd_one_cycle_with_augmentation_learns_and_keeps_snapshots():
    torch.manual_seed(0)
    model = CifarResNet((1, 1, 1, 1), width=4, in_channels=1, n_classes=2)
    config = TrainConfig(max_steps=60, eval_every=20, patience=5, optimiser="sgd", schedule="one_cycle",
                         learning_rate=0.05, weight_decay=5e-4, augment=True)
    initial = {name: value.clone() for name, value in model.state_dict().items()}
    history = fit(model, separable_examples(256, 0), separable_examples(128, 1), config, progress=False,
                  snapshot_steps=(0, 10, 60, 500))
    assert sorted(history.snapshots) == [0, 10, 60]
    assert all(torch.equal(initial[name], history.snapshots[0][name]) for name in initial)
    assert not torch.equal(history.snapshots[0]["conv1.weight"], history.snapshots[10]["conv1.weight"])
    assert classification_metrics(separable_examples(128, 2).labels,
                                  predict_proba(model, separable_examples(128, 2)))["accuracy"] > 0.9


def test_crop_and_flip_keeps_shape_and_moves_content_by_at_most_the_padding():
    from helpers.train import crop_and_flip

    images = torch.zeros(64, 1, 8, 8)
    images[:, 0, 3, 3] = 1.0
    out = crop_and_flip(images, torch.Generator().manual_seed(0), padding=2)
    assert out.shape == images.shape
    positions = np.argwhere(out[:, 0].numpy() > 0)[:, 1:]
    assert np.all(np.abs(positions[:, 0] - 3) <= 2)
    assert len({tuple(p) for p in positions}) > 4  # offsets and flips differ between images
    assert torch.all(out.sum((1, 2, 3)) <= 1.0)


def test_crop_and_flip_returns_a_contiguous_batch():
    from helpers.train import crop_and_flip

    images = torch.rand(5, 3, 8, 8)
    augmented = crop_and_flip(images, torch.Generator().manual_seed(0), padding=2)
    assert augmented.shape == images.shape and augmented.is_contiguous()


def test_narrow_resnets_train_with_augmentation():
    from helpers.resnet import resnet18
    from helpers.train import uses_narrow_convolutions

    assert uses_narrow_convolutions(resnet18(4, in_channels=1))
    assert not uses_narrow_convolutions(torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3), torch.nn.Conv2d(16, 8, 3)))
    rng = np.random.default_rng(0)
    examples = Examples(rng.random((32, 1, 32, 32), dtype=np.float32), None, rng.integers(0, 10, 32))
    config = TrainConfig(max_steps=4, batch_size=16, learning_rate=0.05, eval_every=2, patience=2,
                         optimiser="sgd", augment=True)
    history = fit(resnet18(4, in_channels=1), examples, examples, config, device="cpu", progress=False)
    assert history.steps == [2, 4]


def test_training_without_validation_runs_every_step_and_keeps_the_last_weights():
    torch.manual_seed(0)
    model = build_model("cnn", image_shape=(1, 12, 12), topo_shape=None, n_classes=2)
    history = fit(model, separable_examples(64, 0), None,
                  TrainConfig(max_steps=6, eval_every=2, patience=1, label_smoothing=0.2, augment=True,
                              augment_padding=2), progress=False)
    assert history.steps == [2, 4, 6] and history.best_step == 6
    assert np.all(np.isnan(history.val_loss)) and np.all(np.isfinite(history.train_loss))


def test_bfloat16_training_learns_keeps_float32_weights_and_changes_only_the_rounding():
    def train(precision):
        torch.manual_seed(0)
        model = build_model("cnn", image_shape=(1, 12, 12), topo_shape=None, n_classes=2)
        fit(model, separable_examples(256, 0), None, TrainConfig(max_steps=40, eval_every=10, precision=precision),
            device="cpu", progress=False)
        return model
    half, full = train("bfloat16"), train("float32")
    assert all(p.dtype == torch.float32 for p in half.parameters())
    probabilities = predict_proba(half, separable_examples(128, 2), device="cpu")
    assert classification_metrics(separable_examples(128, 2).labels, probabilities)["accuracy"] > 0.9
    assert not all(torch.equal(a, b) for a, b in zip(half.parameters(), full.parameters()))
    with pytest.raises(ValueError, match=r"unknown precision 'float16'; expected one of \('float32', 'bfloat16'\)"):
        TrainConfig(precision="float16")


def test_label_smoothing_and_padding_are_checked():
    with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0, 1\), got 1.0"):
        TrainConfig(label_smoothing=1.0)
    with pytest.raises(ValueError, match="augment_padding must be a number of pixels >= 0, got -1"):
        TrainConfig(augment_padding=-1)


def test_test_time_flips_average_the_logits_of_an_image_and_its_mirror():
    torch.manual_seed(0)
    model = build_model("cnn", image_shape=(1, 12, 12), topo_shape=None, n_classes=2).eval()
    examples = separable_examples(16, 3)
    mirrored = Examples(examples.images[..., ::-1].copy(), None, examples.labels)
    with torch.no_grad():
        logits = (model(torch.from_numpy(examples.images)) + model(torch.from_numpy(mirrored.images))) / 2
    np.testing.assert_allclose(predict_proba(model, examples, device="cpu", flips=True),
                               torch.softmax(logits, 1).numpy(), atol=1e-6)
    np.testing.assert_allclose(predict_proba(model, examples, device="cpu", flips=True),
                               predict_proba(model, mirrored, device="cpu", flips=True), atol=1e-6)
