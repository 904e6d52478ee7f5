"""Chapter 1's protocol (P1): topological features, fusion models, many seeds, paired tests.

``prepare`` loads a data set, splits it (stratified train / validation from the data set's
training split; its test split untouched), computes cubical persistence once per split and the
three vectorisations fitted on the training part only. ``train_models`` trains every
(model kind, seed) through the artifact cache and evaluates it on the test split;
``trained_model`` returns one cached model. Each seed trains on its own draw of training and
validation images (``prepare_seeds``), all seeds are tested on the same test images. A
:class:`Protocol` names everything that identifies chapter 1's networks; chapter 1 records it
(``protocol.record``) and chapter 2 reads it (``Protocol.recorded``) to find them.
``branch_use`` checks that a fusion model uses its topological input; ``signal_baselines``
measures how much a linear model gets from the Betti curves alone, an intensity histogram and
the raw pixels; ``learning_curves`` returns the validation checks of every network.
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from joblib import effective_n_jobs
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from . import data as datasets
from . import manifest
from .cache import ArtifactCache
from .claims import Effect, mean_effect, paired_effect
from .models import TOPO_INPUT, Architecture, FusionNet, build_model, count_parameters, matching_width
from .topology import TopologicalFeatures, cubical_diagrams, split_features
from .train import Examples, History, TrainConfig, classification_metrics, fit, predict_proba

SPLITS = ("train", "val", "test")


@dataclass
class FusionData:
    """A data set ready for the fusion models.

    ``images[split]`` (N, 1, H, W) float32 in [0, 1]; ``labels[split]`` (N,) int64;
    ``features[split][kind]`` standardised topological features (betti_curves (N, 2, bins),
    persistence_images (N, 2, R, R), landscapes (N, 2, bins)); ``raw_features`` the same before
    standardisation (counts and intensities, for plots); the object masks of the test images when the
    data set has them (``test_masks``, (N, H, W) bool) and the kind of object in each test image
    (``test_kinds``, (N,) str, for the simulated transients). ``config`` is what identifies it in
    the artifact cache.
    """

    config: dict[str, Any]
    class_names: tuple[str, ...]
    source: str
    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    features: dict[str, dict[str, np.ndarray]]
    raw_features: dict[str, dict[str, np.ndarray]]
    featuriser: TopologicalFeatures
    test_masks: np.ndarray | None = None
    test_kinds: np.ndarray | None = None
    feature_seconds: float = 0.0
    scalers: dict[str, StandardScaler] = field(default_factory=dict)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images["train"].shape[1:])

    def examples(self, split: str, model_kind: str) -> Examples:
        """Inputs of ``model_kind`` on ``split`` (the topological input it needs, if any)."""
        return examples_for(model_kind, self.images[split], self.features[split], self.labels[split])

    def topo_shape(self, model_kind: str) -> tuple[int, ...] | None:
        kind = TOPO_INPUT[model_kind]
        return None if kind is None else tuple(self.features["train"][kind].shape[1:])


def examples_for(model_kind: str, images: np.ndarray, features: dict[str, np.ndarray],
                 labels: np.ndarray) -> Examples:
    """Inputs of ``model_kind``: the images and, if it has a topological branch, its features."""
    kind = TOPO_INPUT[model_kind]
    return Examples(images, None if kind is None else features[kind], labels)


def _scale_channels(scaler: StandardScaler, values: np.ndarray) -> np.ndarray:
    """Apply a per-channel ``scaler`` to features (N, D, ...): channel axis 1."""
    moved = np.moveaxis(values, 1, -1)
    flat = scaler.transform(moved.reshape(-1, moved.shape[-1])).reshape(moved.shape)
    return np.moveaxis(flat, -1, 1).astype(np.float32)


def _standardise(features: dict[str, dict[str, np.ndarray]]) -> tuple[dict, dict[str, StandardScaler]]:
    """Per homology dimension (channel) zero mean / unit variance, fitted on the train split.

    Scaling a whole channel (not each bin) keeps the shape of a curve, so the 1-D branch and its
    Grad-CAM see the curve as it is."""
    scalers = {}
    for kind, train_values in features["train"].items():
        channels = train_values.shape[1]
        scalers[kind] = StandardScaler().fit(np.moveaxis(train_values, 1, -1).reshape(-1, channels))
    scaled = {split: {kind: _scale_channels(scalers[kind], values) for kind, values in by_kind.items()}
              for split, by_kind in features.items()}
    return scaled, scalers


def featurise(data: "FusionData", images: np.ndarray, n_jobs: int = -1) -> dict[str, np.ndarray]:
    """Standardised topological features of new images (N, 1, H, W) in [0, 1], with the
    featuriser and scalers fitted on ``data``'s training split (e.g. for perturbed test images)."""
    diagrams = cubical_diagrams(images[:, 0], data.featuriser.homology_dims, n_jobs, progress=False)
    raw = data.featuriser.transform(diagrams, list(data.scalers))
    return {kind: _scale_channels(data.scalers[kind], values) for kind, values in raw.items()}


def prepare(dataset: str, *, n_train: int | None, n_test: int | None, val_fraction: float = 0.2,
            seed: int = 0, test_seed: int | None = None, n_bins: int = 100, image_resolution: int = 28, n_jobs: int = -1,
            dataset_options: dict[str, Any] | None = None, progress: bool = True,
            reduced_homology: bool = True, range_per_dimension: bool = True) -> FusionData:
    """Load ``dataset`` (``n_train`` / ``n_test`` images of its train / test splits, stratified
    subsamples; ``None`` = all), hold out ``val_fraction`` of the training images (stratified,
    by ``seed``), convert colour to grey, and compute the topological features. ``seed`` draws
    the training images (simulated ones are simulated anew), ``test_seed`` (default ``seed``) the
    test images.
    ``reduced_homology`` and ``range_per_dimension`` are P1's giotto-tda settings by default
    (see :class:`helpers.topology.TopologicalFeatures`)."""
    options = dict(dataset_options or {})
    train_set = datasets.load(dataset, "train", n=n_train, seed=seed, **options)
    test_seed = seed if test_seed is None else test_seed
    test_set = datasets.load(dataset, "test", n=n_test, seed=test_seed, **options)
    grey = {name: datasets.to_grayscale(s.images) if s.images.shape[1] == 3 else s.images
            for name, s in (("train", train_set), ("test", test_set))}
    train_index, val_index = train_test_split(np.arange(len(train_set.labels)), test_size=val_fraction,
                                              stratify=train_set.labels, random_state=seed)
    images = {"train": grey["train"][train_index], "val": grey["train"][val_index], "test": grey["test"]}
    labels = {"train": train_set.labels[train_index], "val": train_set.labels[val_index],
              "test": test_set.labels}
    start = time.perf_counter()
    featuriser, raw = split_features(
        {split: images[split][:, 0] for split in SPLITS},
        TopologicalFeatures(n_bins=n_bins, image_resolution=(image_resolution, image_resolution),
                            reduced_homology=reduced_homology, range_per_dimension=range_per_dimension),
        n_jobs=n_jobs, progress=progress)
    seconds = time.perf_counter() - start
    features, scalers = _standardise(raw)
    config = {"dataset": dataset, "options": options, "n_train": n_train, "n_test": n_test,
              "val_fraction": val_fraction, "seed": seed, "test_seed": test_seed, "n_bins": n_bins,
              "image_resolution": image_resolution, "reduced_homology": reduced_homology,
              "range_per_dimension": range_per_dimension}
    return FusionData(config, train_set.class_names, f"{train_set.source}; {test_set.source}", images,
                      labels, features, raw, featuriser, test_set.masks, test_set.kinds, seconds, scalers)


SeededData = FusionData | Mapping[int, FusionData]
"""One data set for every seed, or each seed's own (``{seed: FusionData}``, see :func:`prepare_seeds`)."""


def for_seed(data: SeededData, seed: int) -> FusionData:
    """The data set that the networks of ``seed`` are trained on."""
    if isinstance(data, FusionData):
        return data
    if seed not in data:
        raise ValueError(f"no data set for seed {seed}; the data sets are for seeds {sorted(data)}")
    return data[seed]


@dataclass(frozen=True)
class Protocol(manifest.Recorded):
    """Everything that identifies a set of chapter 1's trained networks: the data set and the
    arguments of :func:`prepare` (``prepare_options``: n_train, n_test, n_bins,
    reduced_homology, range_per_dimension, dataset_options), the seeds (seed ``s`` trains on its
    own training draw; every seed is tested on the draw of ``seeds[0]``), the model kinds, the
    training settings and the architecture."""

    CHAPTER: ClassVar[str] = "01_fusion_training"  # trains the fusion networks and records this protocol

    dataset: str
    prepare_options: dict[str, Any]
    seeds: tuple[int, ...]
    models: tuple[str, ...]
    train_config: TrainConfig
    architecture: Architecture

    def as_dict(self) -> dict[str, Any]:
        """The protocol as JSON-serialisable values (what the manifest holds)."""
        return {"dataset": self.dataset, "prepare_options": self.prepare_options, "seeds": list(self.seeds),
                "models": list(self.models), "train_config": vars(self.train_config),
                "architecture": asdict(self.architecture)}

    def require_models(self, kinds: Sequence[str]) -> None:
        """Raise ``ValueError`` naming the ``kinds`` this protocol did not train (a later chapter
        must not silently train networks the chapter that owns them never made)."""
        missing = [kind for kind in kinds if kind not in self.models]
        if missing:
            raise ValueError(f"models {missing} were not trained by chapter 1 in this profile (it trained "
                             f"{list(self.models)}): add them to chapter 1's `models` and run it again")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Protocol":
        return cls(values["dataset"], values["prepare_options"], tuple(values["seeds"]), tuple(values["models"]),
                   TrainConfig(**values["train_config"]), Architecture(**values["architecture"]))


def prepare_seeds(protocol: Protocol, n_jobs: int = -1, progress: bool = True) -> dict[int, FusionData]:
    """``{seed: FusionData}``: each seed's own training and validation draw, the test draw of
    ``protocol.seeds[0]`` for all (see :func:`prepare`)."""
    return {seed: prepare(protocol.dataset, seed=seed, test_seed=protocol.seeds[0], n_jobs=n_jobs,
                          progress=False, **protocol.prepare_options)
            for seed in tqdm(protocol.seeds, desc=f"{protocol.dataset}: data per seed", disable=not progress)}


@functools.lru_cache(maxsize=32)
def _wide_width(image_shape: tuple[int, int, int], curve_shape: tuple[int, int], n_classes: int,
                architecture: Architecture) -> float:
    target = count_parameters(build_model("cnn_bc", image_shape=image_shape, topo_shape=curve_shape,
                                          n_classes=n_classes, architecture=architecture))
    return matching_width(target, image_shape=image_shape, n_classes=n_classes)


def wide_width(data: FusionData, architecture: Architecture = Architecture()) -> float | None:
    """Width factor of the wide-CNN control: ``None`` for P1's wide CNN (doubled channels,
    ``architecture.wide == "p1"``), else the factor that gives the plain CNN CNN-BC's parameter
    count."""
    if architecture.wide == "p1":
        return None
    return _wide_width(data.image_shape, data.topo_shape("cnn_bc"), len(data.class_names), architecture)


def new_model(data: FusionData, kind: str, architecture: Architecture = Architecture()) -> FusionNet:
    """An untrained model of ``kind`` shaped for ``data`` (initialised with the current torch
    random state)."""
    width = wide_width(data, architecture) if kind == "wide_cnn" else None
    train_images = data.images["train"]
    return build_model(kind, image_shape=data.image_shape, topo_shape=data.topo_shape(kind),
                       n_classes=len(data.class_names), width=width, image_mean=float(train_images.mean()),
                       image_std=float(train_images.std()), architecture=architecture)


def _train_one(data: FusionData, kind: str, train_config: TrainConfig, architecture: Architecture,
               device: str) -> dict[str, Any]:
    """Train one model; the artifact keeps its weights, history, parameter count and test
    probabilities, so that a warm rerun needs no forward pass."""
    torch.manual_seed(train_config.seed)  # the seed decides the initial weights too
    model = new_model(data, kind, architecture)
    history = fit(model, data.examples("train", kind), data.examples("val", kind), train_config,
                  device=device, progress=False)
    return {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "history": history,
            "parameters": count_parameters(model),
            # evaluated channels-last, as prediction_changes evaluates, whatever the training format
            "test_probabilities": predict_proba(model, data.examples("test", kind), device, channels_last=True)}


def _artifact_item(data: FusionData, kind: str, seed: int, train_config: TrainConfig,
                   architecture: Architecture, device: str) -> tuple[dict[str, Any], Any]:
    """The cache configuration of one (kind, seed) network and the call that trains it."""
    config = {"data": data.config, "model": kind, "architecture": asdict(architecture),
              "train": {**vars(train_config), "seed": seed}}
    seeded = TrainConfig(**{**vars(train_config), "seed": seed})
    return config, functools.partial(_train_one, data, kind, seeded, architecture, device)


def _artifacts(items: list[tuple[FusionData, str, int]], train_config: TrainConfig, architecture: Architecture,
               cache: ArtifactCache, device: str, n_jobs: int = 1, progress: bool = False) -> list[dict[str, Any]]:
    """The artifacts of the (data, kind, seed) networks of ``items``, missing ones trained in
    ``n_jobs`` processes (-1: all cores) of one torch thread each, so that a network is the same
    whichever call trains it and however many processes run."""
    requests = [_artifact_item(data, kind, seed, train_config, architecture, device) for data, kind, seed in items]
    desc = f"{items[0][0].config['dataset']} models" if items else None
    return cache.get_or_compute_many("fusion-model", requests, n_jobs=effective_n_jobs(n_jobs), progress=progress,
                                     desc=desc)


def _artifact(data: FusionData, kind: str, seed: int, train_config: TrainConfig, architecture: Architecture,
              cache: ArtifactCache, device: str) -> dict[str, Any]:
    return _artifacts([(data, kind, seed)], train_config, architecture, cache, device)[0]


def trained_model(data: FusionData, kind: str, seed: int, train_config: TrainConfig, cache: ArtifactCache,
                  device: str = "auto", architecture: Architecture = Architecture()) -> tuple[FusionNet, History]:
    """The model of ``kind`` trained on ``data`` with ``seed``: from the cache, or trained and
    cached. Returns the model (evaluation mode, CPU) and its training history."""
    artifact = _artifact(data, kind, seed, train_config, architecture, cache, device)
    model = new_model(data, kind, architecture)
    model.load_state_dict(artifact["state_dict"])
    return model.eval(), artifact["history"]


def train_models(data: SeededData, kinds: list[str], seeds: list[int], train_config: TrainConfig,
                 cache: ArtifactCache, device: str = "auto", progress: bool = True,
                 architecture: Architecture = Architecture(), n_jobs: int = 1) -> pd.DataFrame:
    """Train (or load) every model kind with every seed, on the seed's data set (see
    :data:`SeededData`), the missing networks in ``n_jobs`` processes (-1: all cores; the
    networks are the same for any ``n_jobs``); one row of test metrics per run with
    columns dataset, n_requested (the ``n_train`` asked of :func:`prepare`), n_train (the
    training images left after the validation split), model, seed, parameters, best_step, steps
    (run before stopping),
    seconds (of training, validation checks included, on the machine that trained it),
    seconds_per_step (seconds / steps) and the metrics of
    :func:`helpers.train.classification_metrics`."""
    rows = []
    runs = [(for_seed(data, seed), kind, seed) for seed in seeds for kind in kinds]
    artifacts = _artifacts(runs, train_config, architecture, cache, device, n_jobs, progress)
    for (seed_data, kind, seed), artifact in zip(runs, artifacts):
        history = artifact["history"]
        steps = history.steps[-1] if history.steps else 0
        rows.append({"dataset": seed_data.config["dataset"], "n_requested": seed_data.config.get("n_train"),
                     "n_train": len(seed_data.labels["train"]),
                     "model": kind, "seed": seed, "parameters": artifact["parameters"],
                     "best_step": history.best_step, "steps": steps, "seconds": history.seconds,
                     "seconds_per_step": history.seconds / max(steps, 1),
                     **classification_metrics(seed_data.labels["test"], artifact["test_probabilities"])})
    return pd.DataFrame(rows)


def learning_curves(data: SeededData, kinds: list[str], seeds: list[int], train_config: TrainConfig,
                    cache: ArtifactCache, device: str = "auto",
                    architecture: Architecture = Architecture()) -> pd.DataFrame:
    """The validation checks of every (kind, seed) network (trained or from the cache): one row
    per check with columns model, seed, step, train_loss (mean since the previous check),
    val_loss, val_accuracy and best (whether its weights were kept)."""
    rows = []
    for kind in kinds:
        for seed in seeds:
            history = _artifact(for_seed(data, seed), kind, seed, train_config, architecture, cache, device)["history"]
            rows += [{"model": kind, "seed": seed, "step": step, "train_loss": train, "val_loss": val,
                      "val_accuracy": accuracy, "best": step == history.best_step}
                     for step, train, val, accuracy in zip(history.steps, history.train_loss, history.val_loss,
                                                           history.val_accuracy)]
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each metric, one row per (dataset, n_train, model)."""
    grouped = results.groupby(["dataset", "n_train", "model"], sort=False)[metrics]
    return grouped.agg(["mean", "std"])


def compare(results: pd.DataFrame, a: str, b: str, metric: str = "accuracy", scale: float = 100.0,
            unit: str = " pp", digits: int = 2) -> Effect:
    """Model ``a`` minus model ``b`` on ``metric``, paired by seed (one dataset and size), with its
    paired-t interval; printed times ``scale`` with ``unit`` (percentage points by default)."""
    table = _by_seed(results, a, b, metric)
    return paired_effect(table[a].to_numpy(), table[b].to_numpy(), scale=scale, unit=unit, digits=digits)


def _by_seed(results: pd.DataFrame, a: str, b: str, metric: str) -> pd.DataFrame:
    """``metric`` of models ``a`` and ``b`` with one row per seed, from results of one dataset and
    training-set size."""
    groups = [column for column in ("dataset", "n_train") if column in results]
    if groups and len(results.groupby(groups)) > 1:
        raise ValueError(f"results hold several {' / '.join(groups)} groups: select one before comparing")
    table = results.pivot_table(index="seed", columns="model", values=metric)
    missing = [kind for kind in (a, b) if kind not in table.columns]
    if missing:
        raise ValueError(f"models {missing} are not in the results; have {sorted(table.columns)}")
    return table


# P1's own effects, the thresholds of interest of chapter 1's claims (accuracy as a fraction):
# CNN-BC minus the wide CNN in its replication (73.64% vs 69.95%, HAM10000).
P1_WIDE_CNN_GAIN = 0.7364 - 0.6995


def majority_rate(labels: np.ndarray) -> float:
    """Accuracy of always answering the most frequent class of ``labels`` (N,): the model-free
    baseline a network has to beat before its comparisons mean anything."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    return float(np.bincount(labels).max() / labels.size)


CHANCE_METRICS = ("accuracy", "macro_recall", "roc_auc")
"""Metrics with a model-free chance level (:func:`chance_level`)."""


def chance_level(labels: np.ndarray, metric: str = "accuracy") -> float:
    """The best score on ``metric`` of a model that ignores its input, for test ``labels`` (N,):
    the majority-class rate for accuracy, 1 / (number of classes) for macro recall (balanced
    accuracy: a constant answer recalls one class fully and the others not at all), 0.5 for ROC AUC."""
    if metric not in CHANCE_METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {CHANCE_METRICS}")
    if metric == "accuracy":
        return majority_rate(labels)
    if metric == "roc_auc":
        return 0.5
    return 1.0 / len(np.unique(labels))


def not_learned(results: pd.DataFrame, kinds: list[str], baseline_rate: float, metric: str = "accuracy") -> str | None:
    """``None`` when every model kind's test ``metric`` over seeds lies above ``baseline_rate``
    (its paired-t interval excludes it; see :func:`chance_level`); otherwise the reason a
    comparison of these models cannot test a claim, naming the kinds that did not learn."""
    failing = []
    for kind in kinds:
        scores = results.loc[results.model == kind, metric].to_numpy()
        if len(scores) < 2:
            raise ValueError(f"model {kind!r} has {len(scores)} seeds in the results; need at least 2")
        if not paired_effect(scores, np.full(len(scores), baseline_rate)).low > 0:
            failing.append(kind)
    if not failing:
        return None
    return (f"{', '.join(failing)} did not beat the model-free {metric.replace('_', ' ')} of "
            f"{100 * baseline_rate:.1f}%: the comparison cannot see the claim")


def gain_difference(small: pd.DataFrame, large: pd.DataFrame, a: str, b: str, metric: str = "accuracy") -> Effect:
    """How much more ``a`` gains over ``b`` with the training set of ``small`` than with that of
    ``large``: (a - b at small) minus (a - b at large), paired by seed, in percentage points."""
    def gains(results: pd.DataFrame) -> pd.Series:
        table = _by_seed(results, a, b, metric)
        return table[a] - table[b]

    small_gain, large_gain = gains(small), gains(large)
    seeds = small_gain.index.intersection(large_gain.index)
    if len(seeds) < len(small_gain) or len(seeds) < len(large_gain):
        raise ValueError(f"the two sizes have different seeds: {sorted(small_gain.index)} and {sorted(large_gain.index)}")
    return paired_effect(small_gain[seeds].to_numpy(), large_gain[seeds].to_numpy(), scale=100.0, unit=" pp")


def prediction_changes(model: torch.nn.Module, examples: Examples, seed: int = 0,
                       device: str = "auto") -> dict[str, float]:
    """Does ``model`` use its topological input? Test accuracy with the input as it is, shuffled
    across the images (each image gets another image's features) and replaced by its mean over
    the images, and the share of predictions that each change flips (``examples.topo`` (N, ...)
    must exist)."""
    if examples.topo is None:
        raise ValueError("prediction_changes needs examples with topological features (topo is None)")
    shuffled = examples.topo[np.random.default_rng(seed).permutation(len(examples.labels))]
    averaged = np.broadcast_to(examples.topo.mean(0, keepdims=True), examples.topo.shape).copy()
    own = predict_proba(model, examples, device, channels_last=True).argmax(1)
    row = {"accuracy": float((own == examples.labels).mean())}
    for name, topo in (("shuffled", shuffled), ("mean", averaged)):
        changed = predict_proba(model, Examples(examples.images, topo, examples.labels), device,
                                channels_last=True).argmax(1)
        row[f"accuracy, {name} input"] = float((changed == examples.labels).mean())
        row[f"changed by {name} input"] = float((changed != own).mean())
    return row


@torch.no_grad()
def curve_branch_activity(model: FusionNet, curves: np.ndarray) -> dict[str, float]:
    """How much the output of ``model``'s topological branch varies across images (N, ...)
    of ``curves``, in evaluation mode: ``dead units``, the share of its output units that give the
    same value for every image (after a final ReLU: zero), and ``relative spread``, the mean over
    units of the standard deviation across images divided by the mean absolute output. A branch
    whose output hardly varies cannot tell the head anything about the image."""
    if model.topo_branch is None:
        raise ValueError("curve_branch_activity needs a model with a topological branch (topo_branch is None)")
    was_training = model.training
    model.eval()
    outputs = model.topo_branch(torch.as_tensor(curves, dtype=torch.float32)).cpu().numpy()
    model.train(was_training)
    spread = outputs.std(axis=0)
    scale = np.abs(outputs).mean()
    return {"dead units": float((spread <= 1e-7 * max(scale, 1e-12)).mean()),
            "relative spread": float(spread.mean() / scale) if scale > 0 else 0.0}


def initial_branch_activity(data: FusionData, architectures: Mapping[str, Architecture],
                            seeds: Sequence[int]) -> pd.DataFrame:
    """:func:`curve_branch_activity` of untrained CNN-BC curve branches on ``data``'s training
    curves, for each named architecture, initialised with each of ``seeds``: one row per
    architecture with the mean over seeds of ``dead units`` and ``relative spread``. Shows
    whether an initialisation leaves the branch anything to tell the head."""
    rows = {}
    for name, architecture in architectures.items():
        activity = []
        for seed in seeds:
            torch.manual_seed(seed)
            activity.append(curve_branch_activity(new_model(data, "cnn_bc", architecture),
                                                  data.features["train"]["betti_curves"]))
        rows[name] = pd.DataFrame(activity).mean()
    return pd.DataFrame(rows).T


def branch_use(data: SeededData, kind: str, seeds: list[int], train_config: TrainConfig, cache: ArtifactCache,
               device: str = "auto", architecture: Architecture = Architecture()) -> pd.DataFrame:
    """:func:`prediction_changes` on the test split for the trained model of ``kind`` with each
    seed (from the cache): one row per seed, with columns model, seed, n_train and those of
    :func:`prediction_changes`."""
    if TOPO_INPUT.get(kind) is None:
        raise ValueError(f"model kind {kind!r} has no topological branch; kinds with one: "
                         f"{[k for k, v in TOPO_INPUT.items() if v is not None]}")
    rows = []
    for seed in seeds:
        seed_data = for_seed(data, seed)
        model, _ = trained_model(seed_data, kind, seed, train_config, cache, device, architecture)
        rows.append({"model": kind, "seed": seed, "n_train": len(seed_data.labels["train"]),
                     **prediction_changes(model, seed_data.examples("test", kind), seed, device)})
    return pd.DataFrame(rows)


def inert_branch(use: pd.DataFrame, min_changed: float = 0.01) -> str | None:
    """``None`` when shuffling the topological input changes at least ``min_changed`` of the
    predictions of every seed in ``use`` (rows of :func:`branch_use`); otherwise the reason a
    claim about the topological branch cannot be tested by these networks."""
    inert = use[use["changed by shuffled input"] < min_changed]
    if inert.empty:
        return None
    return (f"the topological branch of {', '.join(sorted(set(inert.model)))} is inert in seeds "
            f"{inert.seed.tolist()}: shuffling its input across images changes "
            f"{inert['changed by shuffled input'].max():.1%} of predictions or fewer")


# The topological signal of a data set: what a linear model gets from each kind of input.

SIGNAL_INPUTS = ("Betti curves", "intensity histogram", "raw pixels")


def intensity_histograms(images: np.ndarray, n_bins: int, value_range: tuple[float, float]) -> np.ndarray:
    """(N, n_bins) share of each image's pixels in each of ``n_bins`` equal intensity bins over
    ``value_range`` (values outside it fall in the end bins); ``images`` (N, ...) any shape per
    image. The intensity distribution without any spatial arrangement: what the Betti curves
    must beat to carry topology rather than brightness."""
    low, high = value_range
    if not high > low:
        raise ValueError(f"value_range={value_range!r}: expected (low, high) with high > low")
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    index = np.clip(((flat - low) / (high - low) * n_bins).astype(int), 0, n_bins - 1)
    counts = np.stack([np.bincount(row, minlength=n_bins) for row in index])
    return counts / flat.shape[1]


def signal_inputs(images: np.ndarray, curves: np.ndarray, n_bins: int,
                  value_range: tuple[float, float]) -> dict[str, np.ndarray]:
    """The three inputs of :data:`SIGNAL_INPUTS` as (N, features) arrays: the Betti curves
    (N, D, L) flattened, the intensity histograms (``n_bins`` bins over ``value_range``) and the
    raw pixels of ``images`` (N, C, H, W) flattened."""
    n = len(images)
    return {"Betti curves": np.asarray(curves, dtype=np.float64).reshape(n, -1),
            "intensity histogram": intensity_histograms(images, n_bins, value_range),
            "raw pixels": np.asarray(images, dtype=np.float64).reshape(n, -1)}


def linear_probe(train_inputs: np.ndarray, train_labels: np.ndarray, test_inputs: np.ndarray,
                 test_labels: np.ndarray, C: float = 1.0) -> np.ndarray:
    """Logistic regression (scikit-learn, L2 penalty ``C``, classes weighted inversely to their
    frequency, inputs standardised on the training part) fitted on (N, F) ``train_inputs``;
    returns (M,) bool: which test images it classifies right."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000, class_weight="balanced"))
    probe.fit(train_inputs, train_labels)
    return probe.predict(test_inputs) == np.asarray(test_labels)


def balanced_credit(correct: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N,) per-image credit whose mean is the balanced accuracy (the mean of the classes'
    recalls): a right answer on an image of class c counts N / (K * N_c), K classes, N_c images
    of class c; a wrong one 0. With balanced classes it is the plain 0/1 correctness."""
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    weight = len(labels) / (len(classes) * counts[np.searchsorted(classes, labels)])
    return np.asarray(correct, dtype=np.float64) * weight


def signal_baselines(data: FusionData, C: float = 1.0) -> dict[str, np.ndarray]:
    """For each of :data:`SIGNAL_INPUTS`, the :func:`balanced_credit` ((N_test,) float) of a
    logistic regression trained on ``data``'s training split: its mean is the probe's balanced
    accuracy, so that a probe cannot score by answering the majority class. The Betti curves are
    the raw counts of the fitted featuriser; the histogram has ``data.config["n_bins"]`` bins over
    the training images' intensity range."""
    train_images = data.images["train"]
    value_range = (float(train_images.min()), float(train_images.max()))
    inputs = {split: signal_inputs(data.images[split], data.raw_features[split]["betti_curves"],
                                   data.config["n_bins"], value_range) for split in ("train", "test")}
    return {name: balanced_credit(linear_probe(inputs["train"][name], data.labels["train"], inputs["test"][name],
                                               data.labels["test"], C), data.labels["test"])
            for name in SIGNAL_INPUTS}


def signal_table(credit: dict[str, np.ndarray], reference: str = "Betti curves") -> pd.DataFrame:
    """Balanced test accuracy of each probe of :func:`signal_baselines` with its 95% interval
    over the test images, and that of ``reference`` minus each, paired over images (one row per
    input; accuracies as fractions)."""
    if reference not in credit:
        raise ValueError(f"reference {reference!r} is not among the probes {sorted(credit)}")
    rows = []
    for name, values in credit.items():
        accuracy = mean_effect(values, scale=100.0, unit="%")
        row = {"input": name, "accuracy": accuracy.estimate, "low": accuracy.low, "high": accuracy.high,
               "balanced accuracy (95% interval)": f"{accuracy.bare(accuracy.estimate, False)}% "
                                                   f"[{accuracy.bare(accuracy.low, False)}, "
                                                   f"{accuracy.bare(accuracy.high, False)}]"}
        if name != reference:
            row[f"{reference} minus this"] = signal_gap(credit, reference, name).describe()
        rows.append(row)
    return pd.DataFrame(rows).set_index("input")


def signal_comparison(probes_by_setting: dict[str, dict[str, np.ndarray]], reference: str = "Betti curves"
                      ) -> pd.DataFrame:
    """:func:`signal_table` of each setting's probes (e.g. one per cutout scaling), one block of
    rows per setting (index: setting, input), with the balanced accuracy and its gap to ``reference``."""
    tables = {setting: signal_table(probes, reference).drop(columns=["accuracy", "low", "high"])
              for setting, probes in probes_by_setting.items()}
    return pd.concat(tables, names=["setting", "input"])


def signal_gap(credit: dict[str, np.ndarray], a: str, b: str) -> Effect:
    """Balanced accuracy of probe ``a`` minus probe ``b`` (see :func:`signal_baselines`), paired
    over the test images, in percentage points."""
    return paired_effect(credit[a], credit[b], scale=100.0, unit=" pp")


def topological_signal(credit: dict[str, np.ndarray]) -> str:
    """One sentence on whether the Betti curves carry information beyond the intensity
    distribution: their probe's balanced accuracy minus the histogram probe's, paired over the
    test images, with its interval; "beyond" only when the interval lies above zero, otherwise
    "no detectable extra signal" (not a proof of absence)."""
    gap = signal_gap(credit, "Betti curves", "intensity histogram")
    if gap.low > 0:
        finding = "the curves carry information about the label beyond the intensity distribution"
    else:
        finding = ("a linear probe finds no information in the curves beyond the intensity distribution "
                   "on this draw, so the fusion networks have little topological signal to gain from")
    return f"Betti curves minus intensity histogram (balanced accuracy): {gap.describe()}; {finding}."


def still_improving(results: pd.DataFrame, max_steps: int) -> pd.DataFrame:
    """Rows of ``results`` (of :func:`train_models`) whose best validation check was the last
    step the budget allowed (``best_step == max_steps``): networks stopped by the step cap while
    their validation loss was still falling, i.e. not shown to have converged."""
    return results[results.best_step >= max_steps]
