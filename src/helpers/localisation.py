"""Chapter 2's protocol (P1): where the image branch looks, with and without a topological branch.

``load_models`` loads chapter 1's cached models (training them through the same cached call if
they are missing); ``explain_runs`` computes their Grad-CAM maps on a set of images; ``localisation_scores``
turns maps into P1's IoU-versus-threshold table and the threshold-free share of attention inside
the object; ``compare_at_thresholds`` pairs two models by seed at every threshold;
``distractor_study`` repeats everything on images with task-irrelevant structure added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import explain, fusion
from .cache import ArtifactCache
from .models import FusionNet
from .claims import paired_effect
from .train import TrainConfig
from .transients import add_distractor

THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
"""P1's Grad-CAM binarisation thresholds."""

P1_MEAN_IOU = {"cnn": (0.194, 0.183, 0.166, 0.144, 0.116, 0.094),
               "cnn_bc": (0.239, 0.251, 0.259, 0.243, 0.211, 0.179)}
"""P1's replication (30 seeds, 100 hand-masked HAM10000 test images): mean IoU at ``THRESHOLDS``."""

P1_SMALLEST_IOU_GAIN = min(bc - cnn for bc, cnn in zip(P1_MEAN_IOU["cnn_bc"], P1_MEAN_IOU["cnn"]))
"""P1's smallest gain of CNN-BC over the CNN at any threshold (0.045 at 0.05): the threshold of
interest of the localisation claim."""


@dataclass(frozen=True)
class Explained:
    """One trained model (kind, seed) on a set of images: its predictions (N,) and the Grad-CAM
    maps (N, H, W) in [0, 1] of the classes it was asked to explain."""

    model: str
    seed: int
    predictions: np.ndarray
    maps: np.ndarray


def load_models(data: fusion.FusionData, kinds: list[str], seeds: list[int], train_config: TrainConfig,
                cache: ArtifactCache, device: str = "auto") -> dict[tuple[str, int], FusionNet]:
    """Chapter 1's trained networks, ``{(kind, seed): model}``, from the artifact cache (a missing
    one is trained and cached by the same call chapter 1 uses)."""
    return {(kind, seed): fusion.trained_model(data, kind, seed, train_config, cache, device)[0]
            for seed in seeds for kind in kinds}


def explain_runs(models: dict[tuple[str, int], FusionNet], images: np.ndarray, features: dict[str, np.ndarray],
                 labels: np.ndarray, target: str = "predicted", layer: str = "relu4",
                 progress: bool = True) -> list[Explained]:
    """Grad-CAM of the image branch's ``layer`` (``conv1`` ... ``conv5`` or their activations
    ``relu1`` ... ``relu5``; P1: the 4th convolution's activated output, ``relu4``) for every
    model of ``models`` on ``images`` (N, 1, H, W) with their standardised ``features``.
    ``target``: ``"predicted"`` explains each model's own prediction, ``"true"`` the label."""
    if target not in ("predicted", "true"):
        raise ValueError(f"unknown target {target!r}; expected 'predicted' or 'true'")
    runs = []
    for (kind, seed), model in tqdm(models.items(), desc="Grad-CAM", disable=not progress):
        inputs = fusion.examples_for(kind, images, features, labels)
        predictions = explain.predict_targets(model, inputs.images, inputs.topo)
        targets = predictions if target == "predicted" else labels
        maps = explain.grad_cam(model, inputs.images, inputs.topo, targets,
                                layer=getattr(model.image_branch, layer))
        runs.append(Explained(kind, seed, predictions, maps))
    return runs


def localisation_scores(runs: list[Explained], masks: np.ndarray,
                        thresholds: tuple[float, ...] = THRESHOLDS) -> pd.DataFrame:
    """One row per (model, seed, threshold): mean IoU over images of the map binarised at the
    threshold with the object masks (N, H, W), and the mean share of attention inside the mask
    (``energy``, the same for every threshold of a run)."""
    rows = []
    for run in runs:
        ious = explain.iou(run.maps, masks, thresholds).mean(axis=0)
        energy = float(explain.energy_in_mask(run.maps, masks).mean())
        rows += [{"model": run.model, "seed": run.seed, "threshold": t, "iou": float(value), "energy": energy}
                 for t, value in zip(thresholds, ious)]
    return pd.DataFrame(rows)


def compare_at_thresholds(scores: pd.DataFrame, a: str, b: str, metric: str = "iou") -> pd.DataFrame:
    """Model ``a`` against ``b`` at every threshold, paired by seed: the means and ``a - b``
    (``effect``, a :class:`helpers.claims.Effect` with its paired-t interval, and its description)."""
    rows = []
    for threshold, group in scores.groupby("threshold"):
        table = group.pivot_table(index="seed", columns="model", values=metric)
        effect = paired_effect(table[a].to_numpy(), table[b].to_numpy(), digits=3)
        rows.append({"threshold": threshold, a: table[a].mean(), b: table[b].mean(),
                     "difference": effect.describe(), "effect": effect})
    return pd.DataFrame(rows).set_index("threshold")


def distractor_study(data: fusion.FusionData, models: dict[tuple[str, int], FusionNet], images: np.ndarray,
                     labels: np.ndarray, masks: np.ndarray, distractors: list[str], seed: int = 0,
                     layer: str = "relu4", n_jobs: int = -1) -> pd.DataFrame:
    """Accuracy and attention of every model on clean images (N, 1, H, W) and on the same images
    with each distractor of :func:`helpers.transients.add_distractor` added (topological features
    recomputed with ``data``'s fitted featuriser and scaling).

    One row per (model, seed, distractor) with ``accuracy``, ``attention_on_object`` (share of the
    Grad-CAM map inside the object mask) and ``attention_on_distractor`` (share inside the
    distractor but outside the object; for ``"none"``, the clean images, the share outside the
    object)."""
    conditions = {"none": (images, np.ones(masks.shape, bool))}
    for name in distractors:
        perturbed, distractor_masks = add_distractor(images[:, 0], name, seed=seed)
        conditions[name] = (perturbed[:, None], distractor_masks)
    rows = []
    for name, (condition_images, distractor_masks) in conditions.items():
        features = fusion.featurise(data, condition_images, n_jobs=n_jobs)
        runs = explain_runs(models, condition_images, features, labels, layer=layer, progress=False)
        for run in runs:
            rows.append({"model": run.model, "seed": run.seed, "distractor": name,
                         "accuracy": float((run.predictions == labels).mean()),
                         "attention_on_object": float(explain.energy_in_mask(run.maps, masks).mean()),
                         "attention_on_distractor": float(explain.energy_in_mask(
                             run.maps, distractor_masks & ~masks).mean())})
    return pd.DataFrame(rows)


def distractor_comparison(study: pd.DataFrame, a: str, b: str, distractors: list[str]) -> pd.DataFrame:
    """For each distractor, model ``a`` against ``b`` paired by seed (rows of
    :func:`distractor_study`): ``b``'s share of attention on the distractor minus ``a``'s, and
    ``b``'s loss of accuracy from clean images minus ``a``'s (both positive when ``a`` copes
    better), as descriptions and as :class:`helpers.claims.Effect` (``attention_effect``,
    ``drop_effect``) for the claim "``a`` is less distracted than ``b``"."""
    clean = study[study.distractor == "none"].set_index(["model", "seed"]).accuracy
    rows = []
    for name in distractors:
        subset = study[study.distractor == name]
        attention = fusion.compare(subset, b, a, "attention_on_distractor", scale=1.0, unit="", digits=3)
        drop = (clean - subset.set_index(["model", "seed"]).accuracy).rename("drop").reset_index()
        accuracy_drop = fusion.compare(drop, b, a, "drop")
        rows.append({"distractor": name,
                     f"attention: {b} minus {a}": attention.describe(),
                     f"accuracy drop: {b} minus {a}": accuracy_drop.describe(),
                     "attention_effect": attention, "drop_effect": accuracy_drop})
    return pd.DataFrame(rows).set_index("distractor")
