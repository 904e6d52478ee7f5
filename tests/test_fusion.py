import numpy as np
import pandas as pd
import torch
import pytest

from helpers import fusion, manifest, transients
from helpers.cache import ArtifactCache
from helpers.train import TrainConfig


@pytest.fixture(scope="module")
def data():
    return fusion.prepare("transients", n_train=120, n_test=60, seed=0, n_jobs=1, progress=False)


def test_prepare_splits_and_fits_features_on_the_training_part_only(data):
    assert {len(data.labels[s]) for s in fusion.SPLITS} == {96, 24, 60}
    assert data.features["train"]["betti_curves"].shape == (96, 2, 100)
    assert data.features["test"]["persistence_images"].shape == (60, 2, 28, 28)
    assert data.test_masks.shape == (60, 38, 38)
    train_curves = data.features["train"]["betti_curves"]
    # standardised per homology dimension on the training part: mean 0, variance 1 per channel
    assert np.allclose(train_curves.mean(axis=(0, 2)), 0, atol=1e-4)
    assert np.allclose(train_curves.std(axis=(0, 2)), 1, atol=1e-3)
    # P1's settings: reduced homology, one sampling range per homology dimension
    assert data.config["reduced_homology"] and data.config["range_per_dimension"]
    samplings = data.featuriser.samplings
    assert samplings.shape == (2, 100)
    np.testing.assert_array_equal(samplings[:, 0], [low for low, _ in data.featuriser.ranges])
    np.testing.assert_array_equal(samplings[:, -1], [high for _, high in data.featuriser.ranges])


def test_models_are_trained_once_and_then_loaded_from_the_cache(data, tmp_path):
    cache = ArtifactCache("smoke", root=tmp_path)
    config = TrainConfig(max_steps=3, eval_every=3)
    first = fusion.train_models(data, ["cnn", "cnn_bc"], [0, 1], config, cache, progress=False)
    second = fusion.train_models(data, ["cnn", "cnn_bc"], [0, 1], config, cache, progress=False)
    assert (cache.misses, cache.hits) == (4, 4)
    assert first[["model", "seed", "accuracy", "roc_auc"]].equals(second[["model", "seed", "accuracy", "roc_auc"]])
    comparison = fusion.compare(first, "cnn_bc", "cnn")
    assert comparison.n == 2 and comparison.low <= comparison.estimate <= comparison.high
    with pytest.raises(ValueError, match="wide_cnn"):
        fusion.compare(first, "cnn_bc", "wide_cnn")


def test_wide_control_has_the_fusion_model_parameter_count(data):
    from helpers.models import Architecture, count_parameters
    wide = count_parameters(fusion.new_model(data, "wide_cnn"))  # P1's: doubled channels, 1.24M vs 1.18M
    bc = count_parameters(fusion.new_model(data, "cnn_bc"))
    assert fusion.wide_width(data) is None and 0 < (wide - bc) / bc < 0.07
    matched = Architecture(wide="matched")
    assert fusion.wide_width(data, matched) > 1
    wide = count_parameters(fusion.new_model(data, "wide_cnn", matched))
    bc = count_parameters(fusion.new_model(data, "cnn_bc", matched))
    assert abs(wide - bc) / bc < 0.02


def test_a_cached_model_reproduces_its_stored_test_probabilities(data, tmp_path):
    from helpers.train import predict_proba
    cache = ArtifactCache("smoke", root=tmp_path)
    config = TrainConfig(max_steps=3, eval_every=3)
    results = fusion.train_models(data, ["cnn_bc"], [0], config, cache, progress=False)
    model, history = fusion.trained_model(data, "cnn_bc", 0, config, cache)
    assert cache.hits == 1 and history.best_step == 3
    probabilities = predict_proba(model, data.examples("test", "cnn_bc"))
    accuracy = (probabilities.argmax(1) == data.labels["test"]).mean()
    assert accuracy == results.loc[0, "accuracy"]


def test_featurise_reproduces_the_prepared_test_features(data):
    features = fusion.featurise(data, data.images["test"], n_jobs=1)
    for kind, values in features.items():
        assert np.allclose(values, data.features["test"][kind], atol=1e-5), kind


def test_compare_refuses_to_pool_different_training_set_sizes():
    import pandas as pd
    rows = [{"dataset": "d", "n_train": n, "model": m, "seed": s, "accuracy": 0.5}
            for n in (10, 20) for m in ("a", "b") for s in (0, 1)]
    with pytest.raises(ValueError, match="n_train"):
        fusion.compare(pd.DataFrame(rows), "a", "b")


def _results(accuracies: dict[str, list[float]], n_train: int = 10):
    import pandas as pd
    return pd.DataFrame([{"dataset": "d", "n_train": n_train, "model": m, "seed": s, "accuracy": a}
                         for m, values in accuracies.items() for s, a in enumerate(values)])


def test_chance_levels_are_what_a_constant_answer_scores():
    labels = np.array([0] * 91 + [1] * 9)
    assert fusion.chance_level(labels, "accuracy") == 0.91
    assert fusion.chance_level(labels, "macro_recall") == 0.5
    assert fusion.chance_level(labels, "roc_auc") == 0.5
    from helpers.train import classification_metrics
    constant = classification_metrics(labels, np.tile([0.9, 0.1], (100, 1)))
    assert constant["accuracy"] == 0.91 and constant["macro_recall"] == 0.5 and constant["roc_auc"] == 0.5
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        fusion.chance_level(labels, "f1")


def test_models_at_the_majority_rate_have_not_learned():
    assert fusion.majority_rate(np.array([0, 0, 0, 1])) == 0.75
    learned = _results({"a": [0.90, 0.92, 0.91], "b": [0.85, 0.86, 0.84]})
    assert fusion.not_learned(learned, ["a", "b"], 0.5) is None
    chance = _results({"a": [0.90, 0.92, 0.91], "b": [0.50, 0.51, 0.49]})
    assert "b did not beat the model-free accuracy of 50.0%" in fusion.not_learned(chance, ["a", "b"], 0.5)
    with pytest.raises(ValueError, match="shape"):
        fusion.majority_rate(np.zeros((2, 2), int))


def test_gain_difference_pairs_the_gains_by_seed():
    small = _results({"a": [0.80, 0.82, 0.81], "b": [0.70, 0.71, 0.72]}, 10)
    large = _results({"a": [0.90, 0.91, 0.92], "b": [0.89, 0.90, 0.91]}, 20)
    effect = fusion.gain_difference(small, large, "a", "b")
    assert effect.estimate == pytest.approx(0.09) and effect.low > 0 and effect.n == 3
    fewer = _results({"a": [0.90, 0.91], "b": [0.89, 0.90]}, 20)
    with pytest.raises(ValueError, match="different seeds"):
        fusion.gain_difference(small, fewer, "a", "b")


class _ReadsOneInput(torch.nn.Module):
    """Logits from the topological input alone, or from the image alone."""

    def __init__(self, use_topo: bool):
        super().__init__()
        self.use_topo = use_topo

    def forward(self, images, topo):
        source = topo if self.use_topo else images
        score = source.flatten(1).mean(1, keepdim=True)
        return torch.cat([-score, score], 1)


def test_shuffling_the_curves_shows_whether_a_branch_is_used():
    from helpers.train import Examples
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    topo = (labels[:, None, None] * 2.0 - 1.0 + rng.normal(0, 0.3, (400, 2, 5))).astype(np.float32)
    images = rng.normal(0, 1, (400, 1, 4, 4)).astype(np.float32)
    examples = Examples(images, topo, labels)
    used = fusion.prediction_changes(_ReadsOneInput(True), examples, device="cpu")
    ignored = fusion.prediction_changes(_ReadsOneInput(False), examples, device="cpu")
    assert used["accuracy"] > 0.95 and used["changed by shuffled input"] > 0.3
    assert used["accuracy, mean input"] < 0.6
    assert ignored["changed by shuffled input"] == ignored["changed by mean input"] == 0.0
    table = pd.DataFrame([{"model": "cnn_bc", "seed": 0, **used}, {"model": "cnn_bc", "seed": 1, **ignored}])
    assert "inert in seeds [1]" in fusion.inert_branch(table)
    assert fusion.inert_branch(table.iloc[:1]) is None
    with pytest.raises(ValueError, match="topo is None"):
        fusion.prediction_changes(_ReadsOneInput(True), Examples(images, None, labels))


def _dots(n: int, clustered: bool, rng: np.random.Generator) -> np.ndarray:
    """(n, 1, 12, 12) images with four dark pixels on a noisy bright background: a 2x2 block
    (one component) or four isolated pixels (four components). Same pixel values either way."""
    images = 0.8 + 0.02 * rng.standard_normal((n, 1, 12, 12))
    for image in images[:, 0]:
        if clustered:
            r, c = rng.integers(1, 9, 2)
            image[r:r + 2, c:c + 2] = 0.1
        else:
            for r, c in ((2, 2), (2, 8), (8, 2), (8, 8)):
                image[r + rng.integers(-1, 2), c + rng.integers(-1, 2)] = 0.1
    return images.astype(np.float32)


def test_only_the_betti_curves_see_a_label_the_intensities_do_not_carry():
    from helpers.topology import TopologicalFeatures, cubical_diagrams
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    images = np.concatenate([_dots(1, bool(label), rng) for label in labels])
    diagrams = cubical_diagrams(images, n_jobs=1, progress=False)
    featuriser = TopologicalFeatures(n_bins=20).fit(diagrams[:300])
    curves = featuriser.betti_curves(diagrams)
    inputs = fusion.signal_inputs(images, curves, 20, (0.0, 1.0))
    assert inputs["intensity histogram"].shape == (400, 20) and inputs["raw pixels"].shape == (400, 144)
    np.testing.assert_allclose(inputs["intensity histogram"].sum(1), 1.0)
    correct = {name: fusion.balanced_credit(fusion.linear_probe(x[:300], labels[:300], x[300:], labels[300:]),
                                            labels[300:]) for name, x in inputs.items()}
    table = fusion.signal_table(correct)
    assert table.loc["Betti curves", "accuracy"] > 0.95
    assert table.loc["intensity histogram", "accuracy"] < 0.7  # same pixel values in both classes
    assert table.loc["raw pixels", "low"] < table.loc["raw pixels", "accuracy"] < table.loc["raw pixels", "high"]
    assert "beyond the intensity distribution" in fusion.topological_signal(correct)
    blind = {**correct, "Betti curves": correct["intensity histogram"]}
    assert "finds no information in the curves beyond" in fusion.topological_signal(blind)
    with pytest.raises(ValueError, match="value_range"):
        fusion.intensity_histograms(images, 10, (1.0, 1.0))


def test_signal_baselines_on_prepared_data(data):
    credit = fusion.signal_baselines(data)
    assert set(credit) == set(fusion.SIGNAL_INPUTS)
    assert all(c.shape == (60,) and c.dtype == np.float64 for c in credit.values())
    table = fusion.signal_table(credit)
    assert list(table.index) == list(fusion.SIGNAL_INPUTS)
    assert table.accuracy.between(0, 1).all()


def test_balanced_credit_averages_to_the_balanced_accuracy():
    from sklearn.metrics import balanced_accuracy_score
    labels = np.array([0] * 91 + [1] * 9)
    always_bogus = labels == 0
    assert fusion.balanced_credit(always_bogus, labels).mean() == pytest.approx(0.5)  # not 91%
    rng = np.random.default_rng(1)
    predicted = np.where(rng.random(100) < 0.8, labels, 1 - labels)
    assert fusion.balanced_credit(predicted == labels, labels).mean() == pytest.approx(
        balanced_accuracy_score(labels, predicted))


def _curve_task(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images of pure noise and curves (n, 2, 30) that carry the label: class 1 has a bump."""
    labels = rng.integers(0, 2, n)
    images = rng.uniform(0, 1, (n, 1, 12, 12)).astype(np.float32)
    bump = np.exp(-0.5 * ((np.arange(30) - 15) / 3.0) ** 2)
    curves = rng.normal(0, 1, (n, 2, 30)) + 2.0 * labels[:, None, None] * bump
    return images, curves.astype(np.float32), labels


def test_a_trained_fusion_model_uses_curves_that_alone_carry_the_label(tmp_path):
    from helpers.topology import TopologicalFeatures
    rng = np.random.default_rng(1)
    parts = {split: _curve_task(n, rng) for split, n in (("train", 400), ("val", 100), ("test", 200))}
    features = {split: {"betti_curves": part[1]} for split, part in parts.items()}
    data = fusion.FusionData({"dataset": "curve task", "seed": 1}, ("flat", "bump"), "synthetic",
                             {s: p[0] for s, p in parts.items()}, {s: p[2] for s, p in parts.items()},
                             features, features, TopologicalFeatures())
    cache = ArtifactCache("smoke", root=tmp_path)
    config = TrainConfig(max_steps=80, eval_every=20, patience=2)
    # three seeds: with EARLIER_ARCHITECTURE (PyTorch's initialisation, a ReLU after the 1x1
    # convolution) seed 2 left the branch inert here (52% accuracy, no prediction changed)
    results = fusion.train_models(data, ["cnn_bc"], [0, 1, 2], config, cache, progress=False)
    assert (results.accuracy > 0.85).all() and (results.seconds_per_step > 0).all()
    use = fusion.branch_use(data, "cnn_bc", [0, 1, 2], config, cache)
    assert (use["changed by shuffled input"] > 0.25).all()  # an inert branch changes none
    assert (use["accuracy, mean input"] < 0.7).all()        # the images alone carry nothing
    assert fusion.inert_branch(use) is None
    curves = fusion.learning_curves(data, ["cnn_bc"], [0], config, cache)
    assert list(curves.step) == [20, 40, 60, 80][:len(curves)] and curves.best.sum() == 1


def test_networks_whose_best_check_is_the_step_cap_are_still_improving():
    results = pd.DataFrame({"model": ["a", "a", "b"], "seed": [0, 1, 0], "best_step": [100, 60, 100]})
    assert fusion.still_improving(results, 100).seed.tolist() == [0, 0]
    assert fusion.still_improving(results, 200).empty


def test_curve_branch_activity_sees_dead_and_live_branches():
    from helpers.models import EARLIER_ARCHITECTURE, Architecture, build_model
    rng = np.random.default_rng(0)
    curves = rng.normal(0, 1, (300, 2, 100)).astype(np.float32)
    torch.manual_seed(0)
    live = build_model("cnn_bc", image_shape=(1, 12, 12), topo_shape=(2, 100), n_classes=2)
    activity = fusion.curve_branch_activity(live.train(), curves)
    assert live.training  # the mode is restored
    assert activity["dead units"] == 0 and activity["relative spread"] > 0.3
    dead = build_model("cnn_bc", image_shape=(1, 12, 12), topo_shape=(2, 100), n_classes=2,
                       architecture=EARLIER_ARCHITECTURE)
    with torch.no_grad():
        dead.topo_branch.last_conv.bias.fill_(-100.0)  # every unit below zero before the final ReLU
    assert fusion.curve_branch_activity(dead, curves) == {"dead units": 1.0, "relative spread": 0.0}
    with pytest.raises(ValueError, match="topo_branch is None"):
        fusion.curve_branch_activity(build_model("cnn", image_shape=(1, 12, 12), topo_shape=None, n_classes=2),
                                     curves)


def test_each_seed_trains_on_its_own_draw_and_all_are_tested_on_the_same_images(tmp_path):
    protocol = fusion.Protocol("transients", {"n_train": 60, "n_test": 30, "dataset_options": {"real_fraction": 0.5}},
                               (3, 4), ("cnn", "cnn_bc"), TrainConfig(max_steps=2, eval_every=2), fusion.Architecture())
    by_seed = fusion.prepare_seeds(protocol, n_jobs=1, progress=False)
    assert sorted(by_seed) == [3, 4]
    np.testing.assert_array_equal(by_seed[3].images["test"], by_seed[4].images["test"])
    np.testing.assert_array_equal(by_seed[3].test_kinds, by_seed[4].test_kinds)
    assert set(by_seed[3].test_kinds) <= {"real", *transients.BOGUS_KINDS}
    assert not np.array_equal(by_seed[3].images["train"], by_seed[4].images["train"])
    cache = ArtifactCache("smoke", root=tmp_path)
    results = fusion.train_models(by_seed, ["cnn"], [3, 4], protocol.train_config, cache, progress=False)
    assert results.seed.tolist() == [3, 4] and cache.misses == 2
    with pytest.raises(ValueError, match=r"no data set for seed 5.*\[3, 4\]"):
        fusion.for_seed(by_seed, 5)


def test_chapter_two_finds_the_protocol_chapter_one_recorded(tmp_path):
    cache = ArtifactCache("smoke", root=tmp_path)
    with pytest.raises(manifest.MissingManifestError, match=r"01_fusion_training.*--profile smoke --chapters 01"):
        fusion.Protocol.recorded(cache)
    protocol = fusion.Protocol("transients", {"n_train": 60, "n_test": 30, "n_bins": 50}, (0, 1, 2), ("cnn",),
                               TrainConfig(max_steps=7, patience=2), fusion.Architecture(init="torch"))
    protocol.record(cache)
    assert fusion.Protocol.recorded(cache) == protocol
    protocol.require_models(["cnn"])
    with pytest.raises(ValueError, match=r"models \['cnn_pi'\] were not trained by chapter 1.*\['cnn'\]"):
        protocol.require_models(["cnn", "cnn_pi"])
    assert fusion.Protocol.recorded(ArtifactCache("smoke", root=tmp_path)).train_config.max_steps == 7
    with pytest.raises(manifest.MissingManifestError, match="'quick'"):
        fusion.Protocol.recorded(ArtifactCache("quick", root=tmp_path))


def test_networks_trained_in_parallel_processes_equal_those_trained_here(data, tmp_path):
    config = TrainConfig(max_steps=4, eval_every=2, channels_last=True)
    here = fusion.train_models(data, ["cnn", "cnn_bc"], [0, 1], config, ArtifactCache("smoke", root=tmp_path / "a"),
                               progress=False, n_jobs=1)
    parallel = fusion.train_models(data, ["cnn", "cnn_bc"], [0, 1], config,
                                   ArtifactCache("smoke", root=tmp_path / "b"), progress=False, n_jobs=2)
    pd.testing.assert_frame_equal(here.drop(columns=["seconds", "seconds_per_step"]),
                                  parallel.drop(columns=["seconds", "seconds_per_step"]))
    model, _ = fusion.trained_model(data, "cnn_bc", 1, config, ArtifactCache("smoke", root=tmp_path / "b"))
    assert model.image_branch.conv1.weight.is_contiguous()  # stored in the default memory format


def test_signal_comparison_stacks_one_table_per_setting():
    rng = np.random.default_rng(0)
    probes = {name: (rng.random(200) < p).astype(float) for name, p in zip(fusion.SIGNAL_INPUTS, (0.9, 0.6, 0.8))}
    table = fusion.signal_comparison({"per_image": probes, "asinh": probes})
    assert table.index.names == ["setting", "input"] and len(table) == 6
    assert table.loc[("asinh", "Betti curves"), "balanced accuracy (95% interval)"] == \
        table.loc[("per_image", "Betti curves"), "balanced accuracy (95% interval)"]
    assert table.loc[("asinh", "intensity histogram"), "Betti curves minus this"].startswith("+")


def test_pytorch_initialisation_leaves_more_of_the_curve_branch_dead_than_keras(data):
    from helpers.models import EARLIER_ARCHITECTURE
    table = fusion.initial_branch_activity(data, {"keras": fusion.Architecture(), "earlier": EARLIER_ARCHITECTURE},
                                           [0, 1])
    assert list(table.index) == ["keras", "earlier"] and list(table.columns) == ["dead units", "relative spread"]
    assert table.loc["keras", "dead units"] < table.loc["earlier", "dead units"]
    assert table.loc["keras", "relative spread"] > table.loc["earlier", "relative spread"]
