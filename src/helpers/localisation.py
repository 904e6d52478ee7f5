"""Chapter 2's protocol (P1): where the image branch looks, with and without a topological branch.

``load_models`` loads chapter 1's cached networks (each seed's from that seed's data);
``explain_runs`` computes their Grad-CAM maps on the test images at several layers and in both
Grad-CAM conventions (:data:`helpers.explain.CONVENTIONS`); ``localisation_scores`` and
``baseline_scores`` turn maps into the benchmark's scores -- IoU at P1's thresholds, the pointing
game and the share of the map inside the object -- per object kind, for the networks and for the
model-free maps of :mod:`helpers.localisation_baselines`; ``benchmark``, ``by_kind`` and
``layer_sweep`` tabulate them with the baselines beside the networks; ``beats_model_free`` and
``record_localisation_claims`` judge the networks against each other and against the best
model-free map; ``inverse_image_scores`` and ``record_inverse_image_claims`` do the same for the
topological inverse images; ``distractor_study`` repeats the Grad-CAM on images with
task-irrelevant structure added; ``draw_gallery`` shows examples.

Shapes: test ``images`` (N, 1, H, W) in [0, 1], ``masks`` (N, H, W) bool, ``kinds`` (N,) str
(the simulator's object kind: ``"real"`` or a bogus kind), maps (N, H, W) in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import explain, fusion, plotting
from . import localisation_baselines as baselines
from .cache import ArtifactCache
from .claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, ClaimBook, Effect, judge_parts, paired_effect
from .hooks import check_layers
from .models import Architecture, FusionNet
from .train import TrainConfig
from .transients import KINDS, add_distractor

THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
"""P1's Grad-CAM binarisation thresholds."""

P1_MEAN_IOU = {"cnn": (0.194, 0.183, 0.166, 0.144, 0.116, 0.094),
               "cnn_bc": (0.239, 0.251, 0.259, 0.243, 0.211, 0.179)}
"""P1's replication (30 seeds, 100 hand-masked HAM10000 test images): mean IoU at ``THRESHOLDS``."""

P1_SMALLEST_RELATIVE_IOU_GAIN = min(bc / cnn - 1 for bc, cnn in zip(P1_MEAN_IOU["cnn_bc"], P1_MEAN_IOU["cnn"]))
"""P1's smallest gain of CNN-BC over the CNN at any threshold as a fraction of the CNN's IoU
(0.239 / 0.194 - 1 = 0.23 at 0.05): the threshold of interest of the localisation claim. A
relative gain, because absolute IoUs depend on how much of the image the object covers (a
lesion much of its image, a transient a few percent of its cutout)."""

ALL, BOGUS = "all", "bogus"
"""Kind groups beside the simulator's kinds: every image, every bogus image."""

ANY_LAYER = "any"
"""``layer`` of a model-free map in :func:`baseline_scores` (the same for every layer)."""

ANSWERS = {REPRODUCED: "yes", NOT_REPRODUCED: "no", INCONCLUSIVE: "undecided"}
"""How :func:`beats_model_free` words the verdict on "the network beats the best model-free map"."""


MODEL_FREE_CLAIM = "Grad-CAM IoU of CNN-BC > the best model-free map at every threshold (this book's check, not P1's)"
"""The name of the claim :func:`record_localisation_claims` records against the model-free maps."""


@dataclass(frozen=True)
class Explained:
    """One trained model (kind, seed) on a set of images: its predictions (N,) and the Grad-CAM
    maps (N, H, W) in [0, 1] of the classes it was asked to explain, at ``layer`` in
    ``convention``."""

    model: str
    seed: int
    predictions: np.ndarray
    maps: np.ndarray
    layer: str = "relu4"
    convention: str = "ours"


def load_models(data: Mapping[int, fusion.FusionData], kinds: Sequence[str], train_config: TrainConfig,
                cache: ArtifactCache, device: str = "auto",
                architecture: Architecture = Architecture()) -> dict[tuple[str, int], FusionNet]:
    """Chapter 1's trained networks, ``{(kind, seed): model}``, one per kind and seed of ``data``
    (``{seed: FusionData}``), from the artifact cache (a missing one is trained and cached by the
    same call chapter 1 uses); ``architecture``: chapter 1's."""
    return {(kind, seed): fusion.trained_model(data[seed], kind, seed, train_config, cache, device, architecture)[0]
            for seed in data for kind in kinds}


def image_layer(model: FusionNet, layer: str) -> torch.nn.Module:
    """The image branch's sub-module ``layer`` (``conv1`` ... ``conv5``, ``relu1`` ... ``relu5``);
    ``ValueError`` names the valid ones."""
    try:
        return check_layers(model.image_branch, [layer])[layer]
    except KeyError as error:
        raise ValueError(str(error.args[0])) from None


def layer_grid(model: FusionNet, layer: str, image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """(rows, columns) of ``layer``'s output for one image of ``image_shape`` (C, H, W): the grid
    a Grad-CAM map of that layer is computed on before upsampling."""
    shapes = []
    handle = image_layer(model, layer).register_forward_hook(lambda _m, _i, out: shapes.append(out.shape[2:]))
    try:
        with torch.no_grad():
            model.image_branch(torch.zeros((1, *image_shape), device=next(model.parameters()).device))
    finally:
        handle.remove()
    return tuple(int(s) for s in shapes[0])


def explain_runs(models: Mapping[tuple[str, int], FusionNet], images: np.ndarray,
                 features: Mapping[int, Mapping[str, np.ndarray]], labels: np.ndarray, target: str = "predicted",
                 layers: Sequence[str] = ("relu4",), conventions: Sequence[str] = ("ours",),
                 progress: bool = True) -> list[Explained]:
    """Grad-CAM of the image branch at each of ``layers`` (P1: ``relu4``, the 4th convolution's
    activated output) in each of ``conventions`` for every model of ``models`` on ``images``
    (N, 1, H, W); ``features[seed]`` are the standardised topological features of the images
    for the networks of that seed (each seed's featuriser is fitted on its own training data).
    ``target``: ``"predicted"`` explains each model's own prediction, ``"true"`` the label."""
    if target not in ("predicted", "true"):
        raise ValueError(f"unknown target {target!r}; expected 'predicted' or 'true'")
    runs = []
    for (kind, seed), model in tqdm(models.items(), desc="Grad-CAM", disable=not progress):
        inputs = fusion.examples_for(kind, images, dict(features[seed]), labels)
        predictions = explain.predict_targets(model, inputs.images, inputs.topo)
        targets = predictions if target == "predicted" else labels
        runs += [Explained(kind, seed, predictions, explain.grad_cam(
                     model, inputs.images, inputs.topo, targets, layer=image_layer(model, layer),
                     convention=convention), layer, convention)
                 for layer in layers for convention in conventions]
    return runs


def kind_groups(kinds: np.ndarray | None, n_images: int) -> dict[str, np.ndarray]:
    """``{group: (N,) bool}``: every image (``"all"``), then -- when ``kinds`` (N,) is given --
    the real sources, every bogus image (``"bogus"``), and each bogus kind present."""
    groups = {ALL: np.ones(n_images, bool)}
    if kinds is None:
        return groups
    kinds = np.asarray(kinds).astype(str)
    if kinds.shape != (n_images,):
        raise ValueError(f"kinds have shape {kinds.shape}: expected one per image, ({n_images},)")
    unknown = sorted(str(kind) for kind in set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown object kinds {unknown}; expected some of {KINDS}")
    groups.update({"real": kinds == "real", BOGUS: kinds != "real"})
    groups.update({kind: kinds == kind for kind in KINDS[1:]})
    return {name: chosen for name, chosen in groups.items() if chosen.any()}


def _score_rows(maps: np.ndarray, masks: np.ndarray, groups: Mapping[str, np.ndarray],
                thresholds: Sequence[float], tolerance: int) -> list[dict]:
    """Mean IoU at each threshold, pointing game and share in the mask of one set of maps, per group."""
    ious = explain.iou(maps, masks, thresholds)
    pointing, energy = explain.pointing_game(maps, masks, tolerance), explain.energy_in_mask(maps, masks)
    return [{"kind": group, "threshold": t, "iou": float(value), "pointing": float(pointing[chosen].mean()),
             "energy": float(energy[chosen].mean())}
            for group, chosen in groups.items() for t, value in zip(thresholds, ious[chosen].mean(axis=0))]


def localisation_scores(runs: Sequence[Explained], masks: np.ndarray, kinds: np.ndarray | None = None,
                        thresholds: Sequence[float] = THRESHOLDS, tolerance: int = 0) -> pd.DataFrame:
    """One row per (model, seed, layer, convention, kind group, threshold): mean over the group's
    images of the IoU of the map binarised at the threshold with the object mask, of the
    pointing game (``tolerance`` pixels of slack) and of the share of the map inside the mask
    (``energy``); the last two do not depend on the threshold. Groups: :func:`kind_groups`."""
    groups = kind_groups(kinds, len(masks))
    return pd.DataFrame([{"model": run.model, "seed": run.seed, "layer": run.layer, "convention": run.convention,
                          **row} for run in runs for row in _score_rows(run.maps, masks, groups, thresholds, tolerance)])


def model_free_maps(images: np.ndarray, masks: np.ndarray, sample_values: np.ndarray, centre_sigma: float,
                    window: int = explain.P1_WINDOW) -> dict[str, np.ndarray]:
    """The model-free maps of :mod:`helpers.localisation_baselines` for the test images, by name:
    the centre prior (Gaussian of ``centre_sigma`` pixels), the brightest and the darkest pixels
    (the image and its negative as maps), and the best fixed intensity band of ``window`` bins of
    ``sample_values`` (P1's inverse-image band with no network, chosen on ``masks``)."""
    band, end = baselines.best_fixed_band(images, masks, sample_values, window)
    return {f"centre prior (sigma {centre_sigma:g} px)": baselines.centre_prior(len(masks), masks.shape[1:],
                                                                                  centre_sigma),
            "brightest pixels": baselines.intensity_maps(images),
            "darkest pixels": baselines.intensity_maps(images, darkest=True),
            f"intensity band (bins {max(end - window + 1, 0)}-{end}, no model)": band.astype(float)}


def baseline_scores(model_free: Mapping[str, np.ndarray], grids: Mapping[str, tuple[int, int]], masks: np.ndarray,
                    kinds: np.ndarray | None = None, thresholds: Sequence[float] = THRESHOLDS,
                    tolerance: int = 0) -> pd.DataFrame:
    """The rows of :func:`localisation_scores` for maps made without a network: each of
    ``model_free`` (``layer`` :data:`ANY_LAYER`), and for each layer of ``grids`` ({layer: (rows,
    columns)}) the ceiling :func:`~helpers.localisation_baselines.layer_ceiling` (``method``
    "ceiling: mask on a RxC grid"). Columns ``method``, ``layer``, then those of the scores."""
    groups = kind_groups(kinds, len(masks))
    maps = [(name, ANY_LAYER, values) for name, values in model_free.items()]
    maps += [(f"ceiling: mask on a {r}x{c} grid", layer, baselines.layer_ceiling(masks, (r, c)))
             for layer, (r, c) in grids.items()]
    return pd.DataFrame([{"method": name, "layer": layer, **row} for name, layer, values in maps
                         for row in _score_rows(values, masks, groups, thresholds, tolerance)])


def _networks(scores: pd.DataFrame, layer: str | None, convention: str, kind: str) -> pd.DataFrame:
    """The networks' rows of one convention and kind group (and layer, unless ``None``), with a
    ``method`` column."""
    chosen = (scores.convention == convention) & (scores.kind == kind)
    if layer is not None:
        chosen &= scores.layer == layer
    return scores[chosen].rename(columns={"model": "method"})


def _model_free(base: pd.DataFrame, layer: str | None, kind: str) -> pd.DataFrame:
    """The baselines' rows of one kind group: the model-free maps and the ceiling of ``layer``
    (of every layer when ``None``)."""
    chosen = base.kind == kind
    if layer is not None:
        chosen &= base.layer.isin([ANY_LAYER, layer])
    return base[chosen]


def _means(rows: pd.DataFrame, metric: str, columns: str | None) -> pd.DataFrame:
    """Mean ``metric`` by method (in order of appearance) and ``columns``; IoU over every
    threshold when ``columns`` is not ``"threshold"``."""
    keys = ["method"] + ([columns] if columns else [])
    table = rows.groupby(keys, sort=False)[metric].mean()
    table = table.unstack(columns) if columns else table.to_frame(metric)
    return table.reindex(rows.method.unique())


def benchmark(scores: pd.DataFrame, base: pd.DataFrame, layer: str, convention: str = "ours",
              kind: str = ALL) -> pd.DataFrame:
    """The localisation benchmark of one layer and convention on one kind group: networks
    (means over seeds), the model-free maps and the layer's ceiling in rows; the mean IoU at each
    threshold, the pointing game and the share of the map in the mask in columns."""
    rows = pd.concat([_networks(scores, layer, convention, kind), _model_free(base, layer, kind)])
    table = _means(rows, "iou", "threshold").rename(columns=lambda t: f"IoU at {t:g}")
    return table.join(_means(rows, "pointing", None)).join(_means(rows, "energy", None).rename(
        columns={"energy": "share in mask"}))


def by_kind(scores: pd.DataFrame, base: pd.DataFrame, layer: str, metric: str, convention: str = "ours") -> pd.DataFrame:
    """``metric`` (``"iou"``: mean over the thresholds; ``"pointing"``; ``"energy"``) of every
    network and baseline of ``layer`` by kind group (columns: real sources, all bogus, each bogus kind)."""
    chosen = (scores.convention == convention) & (scores.layer == layer)
    rows = pd.concat([scores[chosen].rename(columns={"model": "method"}),
                      base[base.layer.isin([ANY_LAYER, layer])]])
    table = _means(rows, metric, "kind")
    return table[[kind for kind in table.columns if kind != ALL]]


def layer_sweep(scores: pd.DataFrame, base: pd.DataFrame, metric: str, convention: str = "ours",
                kind: str = ALL) -> pd.DataFrame:
    """``metric`` (as in :func:`by_kind`) of every network by explained layer, the model-free
    maps beside them (the same at every layer) and the ceiling of each layer's grid."""
    networks = _means(_networks(scores, None, convention, kind), metric, "layer")
    layers = list(networks.columns)
    free = _model_free(base, None, kind)
    constant = _means(free[free.layer == ANY_LAYER], metric, None)[metric]
    ceiling = _means(free[free.layer != ANY_LAYER], metric, "layer").max()
    rows = [networks, pd.DataFrame({layer: constant for layer in layers}),
            pd.DataFrame([ceiling.reindex(layers)], index=["ceiling: mask on the layer's grid"])]
    return pd.concat(rows)


def _parts(scores: pd.DataFrame, base: pd.DataFrame, model: str, metric: str, layer: str, convention: str,
           kind: str) -> dict[str, tuple[np.ndarray, str, float]]:
    """For each threshold (``"iou"``) or once (other metrics): the model's values over seeds and the
    best model-free map's name and value."""
    nets = _networks(scores, layer, convention, kind)
    free = _model_free(base, layer, kind)
    free = free[free.layer == ANY_LAYER]
    thresholds = sorted(nets.threshold.unique()) if metric == "iou" else [nets.threshold.iloc[0]]
    parts = {}
    for t in thresholds:
        ours = nets[(nets.method == model) & (nets.threshold == t)].sort_values("seed")[metric].to_numpy()
        best = free[free.threshold == t].set_index("method")[metric]
        parts[f"IoU at {t:g}" if metric == "iou" else metric] = (ours, best.idxmax(), float(best.max()))
    return parts


def versus_model_free(scores: pd.DataFrame, base: pd.DataFrame, model: str, metric: str = "iou",
                      layer: str = "relu4", convention: str = "ours", kind: str = ALL) -> dict[str, Effect]:
    """``model``'s ``metric`` minus the best model-free map's (chosen per threshold), paired
    over seeds (the map is the same for every seed): ``{part: Effect}``, parts as in :func:`beats_model_free`."""
    return {part: paired_effect(ours, np.full(len(ours), value), digits=3)
            for part, (ours, _name, value) in _parts(scores, base, model, metric, layer, convention, kind).items()}


def beats_model_free(scores: pd.DataFrame, base: pd.DataFrame, models: Sequence[str], margin: float,
                     metric: str = "iou", layer: str = "relu4", convention: str = "ours",
                     kind: str = ALL) -> pd.DataFrame:
    """Does each network localise better than the best model-free map? One row per model: its
    ``metric`` (IoU: mean over thresholds), the best model-free map's (at the weakest part for
    IoU), the difference's estimate and interval at that part, and the answer ("yes",
    "no": worse than ``margin`` above it, or "undecided"), judged by
    :func:`helpers.claims.judge_parts` over the thresholds with Holm's correction."""
    rows = []
    for model in models:
        parts = _parts(scores, base, model, metric, layer, convention, kind)
        effects = versus_model_free(scores, base, model, metric, layer, convention, kind)
        verdict, weakest = judge_parts(effects, smallest_effect=margin)
        _ours, name, value = parts[weakest]
        rows.append({"model": model, "network": float(np.mean([p[0].mean() for p in parts.values()])),
                     "best model-free map": f"{name}: {value:.3f} ({weakest})",
                     "network minus it": effects[weakest].describe(), "beats it?": ANSWERS[verdict]})
    return pd.DataFrame(rows).set_index("model")


def compare_at_thresholds(scores: pd.DataFrame, a: str, b: str, metric: str = "iou", layer: str = "relu4",
                          convention: str = "ours", kind: str = ALL) -> pd.DataFrame:
    """Model ``a`` against ``b`` at every threshold (one layer, convention and kind group),
    paired by seed: the means and ``a - b`` (``effect``, a :class:`helpers.claims.Effect` with
    its paired-t interval, and its description)."""
    rows = []
    for threshold, group in _networks(scores, layer, convention, kind).groupby("threshold"):
        table = group.pivot_table(index="seed", columns="method", values=metric)
        effect = paired_effect(table[a].to_numpy(), table[b].to_numpy(), digits=3)
        rows.append({"threshold": threshold, a: table[a].mean(), b: table[b].mean(),
                     "difference": effect.describe(), "effect": effect})
    return pd.DataFrame(rows).set_index("threshold")


def relative_gains(table: pd.DataFrame, a: str, b: str) -> dict[float, Effect]:
    """``a``'s gain over ``b`` at every threshold of a :func:`compare_at_thresholds` table, as a
    fraction of ``b``'s mean: ``{threshold: Effect}``, the paired-t interval of the difference
    divided by ``b``'s mean over seeds (0.23: 23% more IoU than ``b``)."""
    gains = {}
    for threshold, row in table.iterrows():
        if not row[b] > 0:
            raise ValueError(f"{b}'s mean IoU at threshold {threshold:g} is {row[b]}: a relative gain needs it positive")
        gains[threshold] = replace(row["effect"].scaled(1.0 / row[b]), scale=100.0, unit="%", digits=1)
    return gains


def _per_threshold(table: pd.DataFrame, a: str, b: str) -> str:
    return "; ".join(f"{t:g}: {row[a]:.3f} vs {row[b]:.3f}" for t, row in table.iterrows())


def record_localisation_claims(book: ClaimBook, scores: pd.DataFrame, base: pd.DataFrame, layer: str,
                               convention: str, iou_margin: float, invalid: str | None, note: str) -> None:
    """Record chapter 2's localisation claims in ``book`` (on every image, at ``layer`` in
    ``convention``): CNN-BC's IoU above the CNN's at every threshold (judged as a fraction of the
    CNN's IoU, P1's smallest relative gain as the effect of interest), above the wide CNN's, and
    above the best model-free map's (both ``iou_margin``, in IoU). ``invalid``: why the comparison cannot test the claim (e.g. an unused
    branch), if it cannot."""
    vs_cnn = compare_at_thresholds(scores, "cnn_bc", "cnn", layer=layer, convention=convention)
    vs_wide = compare_at_thresholds(scores, "cnn_bc", "wide_cnn", layer=layer, convention=convention)
    p1 = "; ".join(f"{t:g}: {bc:.3f} vs {c:.3f}" for t, bc, c in zip(THRESHOLDS, P1_MEAN_IOU["cnn_bc"],
                                                                     P1_MEAN_IOU["cnn"]))
    book.add_parts("Grad-CAM IoU of CNN-BC > CNN at every threshold", p1, relative_gains(vs_cnn, "cnn_bc", "cnn"),
                   smallest_effect=P1_SMALLEST_RELATIVE_IOU_GAIN, our_value=_per_threshold(vs_cnn, "cnn_bc", "cnn"),
                   invalid=invalid, note=f"{note}; effect: CNN-BC minus CNN as a fraction of the CNN's IoU, "
                                         f"threshold P1's smallest relative gain")
    book.add_parts("Grad-CAM IoU of CNN-BC > wide CNN at every threshold",
                   "not tested by P1 (its wide CNN was compared on accuracy only)",
                   dict(zip(vs_wide.index, vs_wide.effect)), smallest_effect=iou_margin,
                   our_value=_per_threshold(vs_wide, "cnn_bc", "wide_cnn"), invalid=invalid,
                   note="rules out capacity as the reason for better localisation")
    parts = _parts(scores, base, "cnn_bc", "iou", layer, convention, ALL)
    book.add_parts(MODEL_FREE_CLAIM,
                   "not tested by P1 (no model-free baseline)",
                   versus_model_free(scores, base, "cnn_bc", "iou", layer, convention), smallest_effect=iou_margin,
                   our_value="; ".join(f"{p}: {ours.mean():.3f} vs {value:.3f}" for p, (ours, _n, value) in parts.items()),
                   control="; ".join(sorted({name for _o, name, _v in parts.values()})), control_name="best map",
                   note="model-free maps: centre prior, brightest / darkest pixels, fixed intensity band")


def inverse_image_scores(marks: Mapping[str, np.ndarray], masks: np.ndarray) -> pd.DataFrame:
    """One row per (inverse image or baseline, image): IoU of its marked pixels (N, H, W) bool
    with the mask, the share of them on the object (``on_object``) and how many (``marked``)."""
    rows = []
    for name, chosen in marks.items():
        values = np.asarray(chosen, dtype=float)
        rows.append(pd.DataFrame({"method": name, "image": np.arange(len(masks)),
                                  "iou": explain.iou(values, masks, [0.5])[:, 0],
                                  "on_object": explain.energy_in_mask(values, masks),
                                  "marked": values.sum(axis=(1, 2))}))
    return pd.concat(rows, ignore_index=True)


def inverse_image_summary(per_image: pd.DataFrame, masks: np.ndarray) -> pd.DataFrame:
    """Means over images of :func:`inverse_image_scores`, with the share a random set of pixels
    would have on the object (the mask's mean area)."""
    table = per_image.groupby("method", sort=False)[["iou", "on_object", "marked"]].mean()
    return table.rename(columns={"iou": "IoU with mask", "on_object": "share of marked pixels on the object",
                                 "marked": "marked pixels per image"}).assign(
        **{"chance share (mask area)": float(np.asarray(masks).mean())})


def record_inverse_image_claims(book: ClaimBook, per_image: pd.DataFrame, band: str, band_baseline: str,
                                pairs: str, pairs_baseline: str, object_margin: float, invalid: str | None,
                                note: str) -> None:
    """Record the inverse-image claims: P1's ``band`` puts more of its pixels on the object than
    the model-free ``band_baseline`` (the fixed intensity band), and the persistence ``pairs`` more
    than ``pairs_baseline`` (as many brightest pixels); both paired over images, with
    ``object_margin`` as the smallest effect of interest. Method names are those of ``per_image``."""
    share = per_image.pivot(index="image", columns="method", values="on_object")
    controls = f"{band_baseline}: {share[band_baseline].mean():.3f}"
    book.add("P1's topological inverse image highlights the object more than a model-free intensity band "
             "(this book's test of P1's method)", "qualitative (inverse images of HAM10000 lesions)",
             paired_effect(share[band], share[band_baseline], digits=3), smallest_effect=object_margin,
             our_value=f"share on the object {share[band].mean():.3f}", control=controls, invalid=invalid,
             note=f"effect: share of marked pixels on the object minus the model-free band's, paired over images; {note}")
    book.add("The persistence-pair inverse image (this book's) highlights the object",
             "not in P1, which proposes the band version only",
             paired_effect(share[pairs], share[pairs_baseline], digits=3), smallest_effect=object_margin,
             our_value=f"share on the object {share[pairs].mean():.3f}",
             control=f"{pairs_baseline}: {share[pairs_baseline].mean():.3f}",
             note="effect: share on the object minus that of as many brightest pixels, paired over images")


def distractor_study(data: Mapping[int, fusion.FusionData], models: Mapping[tuple[str, int], FusionNet],
                     images: np.ndarray, labels: np.ndarray, masks: np.ndarray, distractors: Sequence[str],
                     seed: int = 0, layer: str = "relu4", convention: str = "ours", n_jobs: int = -1) -> pd.DataFrame:
    """Accuracy and attention of every model on clean images (N, 1, H, W) and on the same images
    with each distractor of :func:`helpers.transients.add_distractor` added and scaled back as
    the cutouts were (topological features recomputed with each seed's fitted featuriser and
    scaling, ``data[seed]``); Grad-CAM of
    ``layer`` in ``convention``.

    One row per (model, seed, distractor) with ``accuracy``, ``attention_on_object`` (share of the
    Grad-CAM map inside the object mask) and ``attention_on_distractor`` (share inside the
    distractor but outside the object; for ``"none"``, the clean images, the share outside the
    object)."""
    conditions = {"none": (images, np.ones(masks.shape, bool))}
    scaling = next(iter(data.values())).config["options"].get("scaling", "per_image")  # the cutouts' own
    for name in distractors:
        perturbed, distractor_masks = add_distractor(images[:, 0], name, seed=seed, scaling=scaling)
        conditions[name] = (perturbed[:, None], distractor_masks)
    seeds = sorted({s for _kind, s in models})
    rows = []
    for name, (condition_images, distractor_masks) in conditions.items():
        features = {s: fusion.featurise(data[s], condition_images, n_jobs=n_jobs) for s in seeds}
        for run in explain_runs(models, condition_images, features, labels, layers=[layer],
                                conventions=[convention], progress=False):
            rows.append({"model": run.model, "seed": run.seed, "distractor": name,
                         "accuracy": float((run.predictions == labels).mean()),
                         "attention_on_object": float(explain.energy_in_mask(run.maps, masks).mean()),
                         "attention_on_distractor": float(explain.energy_in_mask(
                             run.maps, distractor_masks & ~masks).mean())})
    return pd.DataFrame(rows)


def distractor_comparison(study: pd.DataFrame, a: str, b: str, distractors: Sequence[str]) -> pd.DataFrame:
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


def gallery_picks(labels: np.ndarray, predicted: np.ndarray, class_names: Sequence[str]) -> list[tuple[int, str]]:
    """For each class, the first test image classified right and the first classified wrong
    (when there is one): ``[(index, "class, right|wrong")]``."""
    picks = []
    for c, name in enumerate(class_names):
        for correct in (True, False):
            found = np.flatnonzero((labels == c) & ((predicted == labels) == correct))
            if found.size:
                picks.append((int(found[0]), f"{name}, {'right' if correct else 'wrong'}"))
    return picks


def draw_gallery(picks: Sequence[tuple[int, str]], images: np.ndarray, masks: np.ndarray,
                 maps: Mapping[str, np.ndarray], marks: Mapping[str, np.ndarray], curves: np.ndarray,
                 heat: np.ndarray) -> plt.Figure:
    """Two rows per picked image: the image with its mask (red) and two Grad-CAM ``maps``
    ({title: (N, H, W)}) over it; two inverse images ``marks`` ({title: (N, H, W) bool}) and the
    Betti curves ``curves`` (N, D, L) with the 1-D Grad-CAM ``heat`` (N, L) under them."""
    if len(maps) != 2 or len(marks) != 2:
        raise ValueError(f"the gallery shows two maps and two inverse images, got {list(maps)} and {list(marks)}")
    fig, axes = plt.subplots(2 * len(picks), 3, figsize=(plotting.BOOK_WIDTH, 5.0 * len(picks)), squeeze=False)
    for row, (index, title) in zip(np.hstack([axes[0::2], axes[1::2]]), picks):
        image = images[index, 0]
        row[0].imshow(image, cmap="gray")
        row[0].contour(masks[index], levels=[0.5], colors="red")
        row[0].set_title(title)
        for ax, (name, values) in zip(row[1:3], maps.items()):
            ax.imshow(image, cmap="gray")
            ax.imshow(values[index], cmap="jet", alpha=0.45, vmin=0, vmax=1)
            ax.contour(masks[index], levels=[0.5], colors="white", linewidths=0.8)
            ax.set_title(name)
        for ax in row[:3]:
            ax.axis("off")
        for ax, (name, chosen), colours in zip(row[3:5], marks.items(), ("cool", "autumn")):
            plotting.marked_pixels(image, chosen[index], ax, name, colour_map=colours)
        strip = plotting.curves_with_heat_strip(np.arange(curves.shape[-1]), curves[index], heat[index], row[5],
                                                title="Betti curves, 1-D Grad-CAM")
        strip.set_xlabel("filtration bin")
    fig.tight_layout()
    return fig
