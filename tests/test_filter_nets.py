"""Tests of chapter 3's networks: model, topological initialisation, cached training, tables."""

import numpy as np
import pytest
import torch

from helpers import filter_nets, filters
from helpers.cache import ArtifactCache
from helpers.claims import REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, correlation_effect, judge
from helpers.train import Examples


@pytest.fixture(autouse=True)
def isolated_root(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPOCNN_ROOT", str(tmp_path / "root"))


def tiny_task(n=120, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = rng.uniform(size=(n, 1, 28, 28)).astype(np.float32) * 0.2
    for i, label in enumerate(labels):  # a class-dependent bright column makes the task learnable
        images[i, 0, :, 2 * label + 4] = 1.0
    examples = Examples(images, None, labels.astype(np.int64))
    return filter_nets.FilterTask("toy", examples.subset(np.arange(80)), examples.subset(np.arange(80, 100)),
                                  examples.subset(np.arange(100, 120)), examples.subset(np.arange(100, 120)),
                                  {"train": "toy"}, {"dataset": "toy", "seed": seed})


def test_model_shapes_and_layers():
    model = filter_nets.FilterCNN()
    assert model(torch.zeros(2, 1, 28, 28), None).shape == (2, 10)
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 10)
    assert model.conv1.weight.shape == (64, 1, 3, 3) and model.conv2.weight.shape == (16, 64, 3, 3)
    colour = filter_nets.FilterCNN(in_channels=3)
    assert colour(torch.zeros(2, 3, 28, 28)).shape == (2, 10) and colour.conv1.weight.shape == (64, 3, 3, 3)


def test_accuracy_counts_right_answers_in_any_batch_size():
    task = tiny_task()
    torch.manual_seed(0)
    model = filter_nets.FilterCNN()
    with torch.no_grad():
        predicted = model(torch.from_numpy(task.test.images)).argmax(1).numpy()
    expected = float(np.mean(predicted == task.test.labels))
    for batch_size in (1, 7, 64):
        assert filter_nets.accuracy(model, task.test, "cpu", batch_size) == pytest.approx(expected)
    assert np.isnan(filter_nets.accuracy(model, None))


@pytest.mark.parametrize("kind", ["circle", "klein"])
def test_topological_initialisation_places_the_bank_at_the_default_scale(kind):
    torch.manual_seed(0)
    default = filter_nets.FilterCNN().conv1.weight.detach().clone()
    torch.manual_seed(0)
    model = filter_nets.initialise_first_layer(filter_nets.FilterCNN(), kind, trainable=False)
    weight = model.conv1.weight.detach().numpy()[:, 0]
    rms = lambda w: float(np.sqrt(np.mean(np.sum(np.reshape(w, (len(w), -1)) ** 2, axis=1))))
    assert rms(weight) == pytest.approx(rms(default.numpy()), rel=1e-5)
    expected = filters.filter_space(filters.filter_bank(kind, 64), 0.0).points
    np.testing.assert_allclose(filters.filter_space(weight, 0.0).points, expected, atol=1e-5)
    assert not model.conv1.weight.requires_grad and not model.conv1.bias.requires_grad
    assert model.conv2.weight.requires_grad


def test_unknown_initialisation_is_refused():
    with pytest.raises(ValueError, match="unknown initialisation 'torus'"):
        filter_nets.initialise_first_layer(filter_nets.FilterCNN(), "torus")
    with pytest.raises(ValueError, match="unknown initialisation"):
        filter_nets.NetworkSpec(n_train=100, seed=0, init="torus")


def test_training_is_cached_deterministic_and_keeps_checkpoints(tmp_path):
    task = tiny_task()
    spec = filter_nets.NetworkSpec(n_train=60, seed=1, max_steps=20, eval_every=10, batch_size=16,
                                   snapshot_steps=(0, 10, 20), learning_rate=3e-3)
    cache = ArtifactCache("smoke", tmp_path / "cache")
    record = filter_nets.train_network(spec, task, cache, device="cpu")
    assert sorted(record["checkpoints"]) == [0, 10, 20]
    assert record["weights"]["conv1"].shape == (64, 1, 3, 3)
    assert record["test_accuracy"] > 0.3  # chance is 0.1
    assert not np.allclose(record["checkpoints"][0]["weights"]["conv1"], record["checkpoints"][20]["weights"]["conv1"])
    again = filter_nets.train_network(spec, task, ArtifactCache("smoke", tmp_path / "other"), device="cpu")
    assert again["test_accuracy"] == record["test_accuracy"]
    np.testing.assert_array_equal(again["weights"]["conv2"], record["weights"]["conv2"])
    filter_nets.train_network(spec, task, cache, device="cpu")
    assert cache.hits == 1 and cache.misses == 1


def test_fixed_first_layer_does_not_move(tmp_path):
    spec = filter_nets.NetworkSpec(n_train=60, seed=0, init="circle", trainable_init=False, max_steps=10,
                                   eval_every=5, snapshot_steps=(0, 10))
    record = filter_nets.train_network(spec, tiny_task(), ArtifactCache("smoke", tmp_path), device="cpu")
    np.testing.assert_array_equal(record["checkpoints"][0]["weights"]["conv1"], record["weights"]["conv1"])
    assert spec.label == "circle (fixed)"


def test_network_table_and_pooled_space(tmp_path):
    task = tiny_task()
    specs = filter_nets.spec_grid([40, 60], [0], max_steps=10, eval_every=5, snapshot_steps=(0, 10))
    records = filter_nets.train_networks(specs, task, ArtifactCache("smoke", tmp_path), device="cpu", progress=False)
    table = filter_nets.network_table(specs, records, steps=(None, 0))
    assert len(table) == 4 and set(table.n_train) == {40, 60}
    for column in ("conv1_top", "conv2_near_circle", "gap", "shift_accuracy", "test_accuracy"):
        assert column in table
    assert table.conv1_near_circle.between(0, 1).all()
    assert table.conv1_mean_distance.between(0, np.sqrt(2)).all()
    space = filter_nets.pooled_space(records, "conv2")
    assert space.points.shape[1] == 8 and 2 * 900 < len(space) < 2 * 1024  # 10% of each network dropped
    with pytest.raises(ValueError, match="no checkpoint at step 7"):
        filter_nets.layer_filters(records[0], "conv1", step=7)
    with pytest.raises(ValueError, match="unknown layer"):
        filter_nets.layer_filters(records[0], "fc")
    with pytest.raises(ValueError, match="n_train=500 exceeds"):
        filter_nets.train_network(filter_nets.NetworkSpec(n_train=500, seed=0), task, ArtifactCache("smoke", tmp_path))


def test_steps_to_reach_interpolates():
    assert filter_nets.steps_to_reach([0, 10, 20], [0.1, 0.5, 0.9], 0.7) == pytest.approx(15.0)
    assert filter_nets.steps_to_reach([0, 10], [0.8, 0.9], 0.5) == 0.0
    assert np.isnan(filter_nets.steps_to_reach([0, 10], [0.1, 0.2], 0.5))


def test_rank_correlation_and_its_verdict():
    x = np.arange(30.0)
    strong = correlation_effect(x, x + np.random.default_rng(0).normal(0, 3, 30))
    assert strong.estimate > 0.8 and strong.low > 0.5 and strong.high <= 1.0
    assert judge(strong, smallest_effect=0.3) == REPRODUCED
    assert judge(strong, smallest_effect=0.3, direction=-1) == NOT_REPRODUCED
    noise = correlation_effect(x, np.random.default_rng(1).normal(size=30))
    assert noise.low < 0 < noise.high < 0.3 and judge(noise, smallest_effect=0.3) == NOT_REPRODUCED
    few = correlation_effect(x[:8], np.random.default_rng(1).normal(size=8))
    assert judge(few, smallest_effect=0.3) == INCONCLUSIVE and few.detectable > 0.7
    assert "spearman" in strong.describe()
    with pytest.raises(ValueError, match="at least 3 pairs"):
        correlation_effect(x[:2], x[:2])


def test_size_adjusted_correlation_removes_the_training_set_size():
    import pandas as pd
    rng = np.random.default_rng(0)
    sizes = np.repeat([100, 1000, 10000], 8)
    # both columns rise with size, and within a size they are unrelated
    table = pd.DataFrame({"n_train": sizes, "distance": np.log(sizes) + rng.normal(0, 0.1, 24),
                          "accuracy": np.log(sizes) + rng.normal(0, 0.1, 24)})
    pooled = correlation_effect(table.distance.to_numpy(), table.accuracy.to_numpy())
    adjusted = filter_nets.size_adjusted_correlation(table, "distance", "accuracy")
    assert pooled.low > 0.5 and adjusted.low < 0 < adjusted.high
    within = table.assign(accuracy=table.distance + rng.normal(0, 0.01, 24))
    assert filter_nets.size_adjusted_correlation(within, "distance", "accuracy").low > 0.5
    with pytest.raises(ValueError, match="'gap'"):
        filter_nets.size_adjusted_correlation(table, "distance", "gap")


def test_filters_that_did_not_move_cannot_show_what_training_builds():
    initial = np.random.default_rng(0).normal(size=(4, 1, 3, 3))
    moved = {"weights": {"conv1": initial * 3}, "checkpoints": {0: {"weights": {"conv1": initial}}}}
    still = {"weights": {"conv1": initial * 1.1}, "checkpoints": {0: {"weights": {"conv1": initial}}}}
    assert filter_nets.median_filter_change([moved], "conv1") == pytest.approx(2.0)
    assert filter_nets.not_trained_away([moved], "conv1", 1.0) is None
    assert "moved the median filter by 0.10" in filter_nets.not_trained_away([still], "conv1", 1.0)


def test_shift_digits_are_framed_like_mnist():
    images = np.ones((3, 1, 8, 8), dtype=np.float32)
    framed = filter_nets.framed_like_mnist(images)
    assert framed.shape == (3, 1, 28, 28)
    assert framed[:, :, 4:24, 4:24].min() > 0.5 and framed[:, :, :4].max() == 0 and framed[:, :, :, 24:].max() == 0
    with pytest.raises(ValueError, match="box=30"):
        filter_nets.framed_like_mnist(images, box=30)


def test_a_fixed_standard_first_layer_is_the_fixed_random_control():
    assert filter_nets.NetworkSpec(n_train=100, seed=0, trainable_init=False).label == filter_nets.RANDOM_FIXED
    assert filter_nets.NetworkSpec(n_train=100, seed=0).label == filter_nets.STANDARD


def test_emergence_is_judged_only_when_the_circle_is_there_at_the_end():
    assert filter_nets.emergence_untestable(REPRODUCED) is None
    assert "not stable across checkpoints" in filter_nets.emergence_untestable(REPRODUCED, filters.ABSENT)
    assert "inconclusive against the random-filter null" in filter_nets.emergence_untestable(INCONCLUSIVE)
    assert "not reproduced" in filter_nets.emergence_untestable(NOT_REPRODUCED)
    with pytest.raises(ValueError, match="unknown verdict"):
        filter_nets.emergence_untestable("maybe")


def test_an_initialisation_is_compared_with_every_control():
    import pandas as pd
    table = pd.DataFrame({"circle (fixed)": [0.8, 0.82, 0.85, 0.81], "standard": [0.6, 0.62, 0.61, 0.63],
                          "random (fixed)": [0.8, 0.83, 0.84, 0.8]})
    parts = filter_nets.versus_controls(table, "circle (fixed)", ["standard", "random (fixed)"])
    assert set(parts) == {"minus standard", "minus random (fixed)"}
    assert parts["minus standard"].estimate == pytest.approx(0.205) and parts["minus standard"].low > 0
    assert parts["minus random (fixed)"].low < 0 < parts["minus random (fixed)"].high
    with pytest.raises(ValueError, match="'klein"):
        filter_nets.versus_controls(table, "klein (fixed)", ["standard"])


def test_pooled_filters_keep_their_network_and_index():
    rng = np.random.default_rng(0)
    records = [{"weights": {"conv1": rng.normal(size=(10, 1, 3, 3))}, "checkpoints": {}} for _ in range(2)]
    space = filter_nets.pooled_space(records, "conv1", drop_fraction=0.2)
    assert space.origin.shape == (16, 3) and sorted(set(space.origin[:, 0])) == [0, 1]
    assert np.all(space.origin[:, 2] == 0)
    first = space.origin[0]
    expected = filters.filter_space(records[first[0]]["weights"]["conv1"][:, 0], 0.2).points[0]
    np.testing.assert_allclose(space.points[0], expected)
    assert np.all(np.isin(space.origin[:, 1], np.arange(10)))
    core = filter_nets.pooled_core(records, "conv1", None, 0.2, 50, 0.2)
    assert core.shape == (8, 8)


def test_half_samples_of_circle_networks_keep_a_bar_that_random_networks_do_not_reach():
    rng = np.random.default_rng(0)

    def record(weights):
        return {"weights": {"conv1": weights[:, None]}, "checkpoints": {}}

    circle = [record(filters.circle_filter_bank(32) + rng.normal(0, 0.02, (32, 3, 3))) for _ in range(6)]
    random = [record(filters.random_filters(32, seed)) for seed in range(6)]
    settings = dict(n_halves=4, seed=1, k_fraction=0.05, p=50, max_landmarks=100, n_threads=1)
    circle_tops = filter_nets.half_sample_tops(circle, "conv1", **settings)
    assert circle_tops.shape == (4,)
    np.testing.assert_array_equal(circle_tops, filter_nets.half_sample_tops(circle, "conv1", **settings))
    assert circle_tops.min() > 0.5 > filter_nets.half_sample_tops(random, "conv1", **settings).max()
    with pytest.raises(ValueError, match="need at least 2 networks and 2 halves, got 1 networks"):
        filter_nets.half_sample_tops(circle[:1], "conv1")


def colour_record(n_filters=4, seed=0):
    """A record of a colour first layer: filter i of channel c is (c + 1) times the edge
    x cos t + y sin t at t = (i + c / 3) pi / n_filters; the same weights at checkpoint 0."""
    grid = np.array([-1.0, 0.0, 1.0])
    x, y = np.meshgrid(grid, -grid)
    angles = (np.arange(n_filters)[:, None] + np.arange(3)[None, :] / 3) * np.pi / n_filters  # (filter, channel)
    scale = np.arange(1, 4)[None, :, None, None]
    weight = scale * (np.cos(angles)[..., None, None] * x + np.sin(angles)[..., None, None] * y)
    weights = {"conv1": weight, "conv2": np.random.default_rng(seed).normal(size=(2, n_filters, 3, 3))}
    return {"weights": weights, "checkpoints": {0: {"weights": weights, "test_accuracy": 0.1}}}


def test_a_colour_first_layer_is_split_into_one_filter_space_per_channel():
    records = [colour_record(seed=0), colour_record(seed=1)]
    assert records[0]["weights"]["conv1"].shape == (4, 3, 3, 3)
    for channel in range(3):
        cut = filter_nets.channel_records(records, channel)
        assert cut[0]["weights"]["conv1"].shape == (4, 1, 3, 3) and cut[0]["channel"] == channel
        assert cut[0]["checkpoints"][0]["weights"]["conv1"].shape == (4, 1, 3, 3)
        np.testing.assert_array_equal(cut[1]["weights"]["conv1"][:, 0], records[1]["weights"]["conv1"][:, channel])
        assert cut[0]["weights"]["conv2"] is records[0]["weights"]["conv2"]
        space = filter_nets.pooled_space(cut, "conv1", drop_fraction=0.0)
        np.testing.assert_array_equal(space.origin, [[n, i, channel] for n in range(2) for i in range(4)])
        # every point is the edge it was built as: on the primary circle at its own angle
        np.testing.assert_allclose(filters.distance_to_primary_circle(space.points), 0.0, atol=1e-6)
        np.testing.assert_allclose(filters.circle_angles(space.points), np.tile((np.arange(4) + channel / 3) * np.pi / 4, 2),
                                   atol=1e-6)
    # the input records are untouched, and their unsplit pool names every channel
    assert records[0]["weights"]["conv1"].shape == (4, 3, 3, 3)
    whole = filter_nets.pooled_space(records[:1], "conv1", drop_fraction=0.0)
    np.testing.assert_array_equal(whole.origin, [[0, i, c] for i in range(4) for c in range(3)])


def test_filter_views_split_colour_tasks_and_keep_grey_ones_whole():
    grey = [{"weights": {"conv1": np.ones((4, 1, 3, 3)), "conv2": np.ones((2, 4, 3, 3))}, "checkpoints": {}}] * 3
    views = filter_nets.filter_views({"mnist": grey, "cifar10": [colour_record(), colour_record(seed=1)]}, 1)
    assert list(views) == [("mnist", "conv1"), ("mnist", "conv2"), ("cifar10 (red)", "conv1"),
                           ("cifar10 (green)", "conv1"), ("cifar10 (blue)", "conv1"), ("cifar10", "conv2")]
    assert len(views["mnist", "conv1"]) == 3 and len(views["mnist", "conv2"]) == 1
    assert views["cifar10 (blue)", "conv1"][1]["channel"] == 2
    with pytest.raises(ValueError, match="2 input channels; expected 1 or 3"):
        filter_nets.filter_views({"odd": [{"weights": {"conv1": np.ones((4, 2, 3, 3))}}]}, 1)


def test_bad_channels_and_zoo_settings_are_refused():
    with pytest.raises(ValueError, match=r"channel=3: expected an input channel of conv1, an integer in 0\.\.2"):
        filter_nets.channel_records([colour_record()], 3)
    with pytest.raises(ValueError, match="already cut to channel 0"):
        filter_nets.channel_records(filter_nets.channel_records([colour_record()], 0), 0)
    with pytest.raises(ValueError, match="task 'cifar10', which is not trained"):
        filter_nets.zoo_grids(["mnist"], [100], [0, 1], {"cifar10": {"n_seeds": 1}})
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['init'\] for task 'mnist'"):
        filter_nets.zoo_grids(["mnist"], [100], [0, 1], {"mnist": {"init": "circle"}})
    with pytest.raises(ValueError, match="n_seeds=3 for task 'mnist': expected 1 to 2"):
        filter_nets.zoo_grids(["mnist"], [100], [0, 1], {"mnist": {"n_seeds": 3}})


def test_zoo_grids_apply_each_task_s_overrides():
    overrides = {"cifar10": {"n_seeds": 2, "learning_rate": 0.01, "max_steps": 40, "snapshot_steps": [0, 40]}}
    grids = filter_nets.zoo_grids(["mnist", "cifar10"], [100, 200], [0, 1, 2], overrides,
                                  max_steps=20, learning_rate=0.003, snapshot_steps=(0, 20))
    assert [(s.n_train, s.seed) for s in grids["mnist"]] == [(n, s) for n in (100, 200) for s in (0, 1, 2)]
    assert [(s.n_train, s.seed) for s in grids["cifar10"]] == [(n, s) for n in (100, 200) for s in (0, 1)]
    assert {s.learning_rate for s in grids["mnist"]} == {0.003} and {s.learning_rate for s in grids["cifar10"]} == {0.01}
    assert {s.max_steps for s in grids["mnist"]} == {20} and {s.max_steps for s in grids["cifar10"]} == {40}
    assert grids["cifar10"][0].snapshot_steps == (0, 40) and overrides["cifar10"]["n_seeds"] == 2


def fake_cifar(calls):
    """A stand-in for :func:`helpers.data.load` serving 32x32 colour images (grey when asked)."""
    from helpers import data

    def load(name, split, n=None, seed=0, **options):
        calls.append((name, split, options))
        n = n or 60
        rng = np.random.default_rng(seed)
        images = rng.uniform(size=(n, 3, 32, 32)).astype(np.float32)
        if options.get("grayscale"):
            images = data.to_grayscale(images)
        return data.Dataset(name, split, images, (np.arange(n) % 10).astype(np.int64), tuple("abcdefghij"), None,
                            f"fake {name} {split}")
    return load


def test_the_colour_task_keeps_three_channels_at_28_pixels(monkeypatch):
    calls = []
    monkeypatch.setattr(filter_nets.datasets, "load", fake_cifar(calls))
    task = filter_nets.prepare_task("cifar10", n_pool=40, n_val=20, n_test=30)
    assert task.pool.images.shape == (40, 3, 28, 28) and task.val.images.shape == (20, 3, 28, 28)
    assert task.test.images.shape == (30, 3, 28, 28) and task.pool.images.dtype == np.float32
    assert calls == [("cifar10", "train", {"grayscale": False}), ("cifar10", "test", {"grayscale": False})]
    assert task.description["options"] == {"grayscale": False} and task.description["image_size"] == 28
    grey = filter_nets.prepare_task("cifar10-gray", n_pool=40, n_val=20, n_test=30)
    assert grey.pool.images.shape == (40, 1, 28, 28) and calls[-1] == ("cifar10", "test", {"grayscale": True})
    assert grey.description != task.description


def test_unknown_tasks_are_refused_by_name():
    with pytest.raises(ValueError, match=r"unknown task 'cifar100'; expected one of \('mnist', 'digits', 'cifar10', 'cifar10-gray'\)"):
        filter_nets.prepare_task("cifar100", n_pool=40, n_val=20, n_test=30)
