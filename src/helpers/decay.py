"""P4's topological complexity by layer, its decay score theta, and theta's specification panel.

* :func:`complexity_by_layer` -- ``b0 + b1 + b2`` averaged over the images of each class, then
  over classes, per layer (P4's definition); :func:`mean_betti_by_layer` keeps the dimensions apart.
* :func:`decay_score` -- theta: a polynomial of the layer index fitted by ridge regression to the
  normalised complexity curve, and a weighted sum of its coefficients. P4's definition is the
  default; the degree, the weights and the layer scale are arguments.
* :func:`decay_tau`, :func:`decay_taus` -- the model-free alternative: Kendall tau of complexity
  with depth.
* :data:`SPECIFICATIONS` and :func:`specification_thetas` -- theta recomputed under each of a set
  of defensible choices (degree, weights, layer scale, layers dropped, one Betti dimension at a
  time, Betti numbers per voxel), so that a chapter can show which choices carry a result.

**Sign.** P4's text calls theta the *rate of decay* of topological complexity and ties faster
decay to better generalisation and transfer. Theta weights the coefficients of the fitted
polynomial the way a derivative does, so the reading fixed here, before any data, is that a more
negative theta is a faster decay and should go with higher accuracy: :data:`DECAY_RATE_SIGN` is
-1 and ``-theta`` is the score compared with other transferability scores. Theta is not the slope
of the curve: a curve that falls overall can have a positive theta (the unscaled layer index
makes the cubic term dominate), which is why :func:`decay_tau` is reported beside it.

Shapes: Betti arrays end in ``(..., L, 3)``: ``L`` layers, then ``b0, b1, b2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

THETA_DEGREE = 3
THETA_RIDGE_ALPHA = 1e-3
THETA_WEIGHTS = (1.0, 0.5, 0.5)
"""P4's theta: weights of the coefficients of x, x^2 and x^3 of the fitted polynomial."""
MIN_THETA_LAYERS = 4
"""A cubic through fewer than 4 layers interpolates them: theta refuses shorter curves."""
DECAY_RATE_SIGN = -1
"""``DECAY_RATE_SIGN * theta`` is the decay rate, which P4's text says goes with better transfer."""
LAYER_SCALES = ("index", "relative")
"""``"index"``: x = 1..L, as P4's code; ``"relative"``: x = 0..1, the relative depth."""


def mean_betti_by_layer(betti: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """``(L, 3)`` mean b0, b1, b2 per layer over the images of each class, then over classes.

    Args:
        betti: ``(n_classes, n_images, L, 3)`` (P4's released layout), or ``(N, L, 3)`` with
            ``labels`` (N,) naming each image's class.
    """
    values = np.asarray(betti, dtype=np.float64)
    if labels is None:
        if values.ndim != 4 or values.shape[-1] != 3:
            raise ValueError(f"betti has shape {values.shape}: expected (n_classes, n_images, L, 3) "
                             f"or (N, L, 3) with labels")
        return values.mean(axis=1).mean(axis=0)
    labels = np.asarray(labels)
    if values.ndim != 3 or values.shape[-1] != 3 or len(labels) != len(values):
        raise ValueError(f"betti has shape {values.shape} and labels {labels.shape}: expected (N, L, 3) and (N,)")
    return np.mean([values[labels == c].mean(axis=0) for c in np.unique(labels)], axis=0)


def complexity_by_layer(betti: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """P4's topological complexity per layer, ``(L,)`` float64: ``b0 + b1 + b2`` averaged over the
    images of each class, then over classes (layouts as :func:`mean_betti_by_layer`)."""
    return mean_betti_by_layer(betti, labels).sum(axis=1)


def decay_score(complexity: np.ndarray, degree: int = THETA_DEGREE, weights: Sequence[float] = THETA_WEIGHTS,
                layer_scale: str = "index") -> float:
    """The decay score theta of a complexity curve ``(L,)``, P4's definition by default.

    The curve is divided by its Euclidean norm; a polynomial of degree ``degree`` in the layer
    position (``layer_scale``: ``"index"`` 1..L as P4, or ``"relative"`` 0..1) is fitted by ridge
    regression (alpha 1e-3, intercept fitted apart); theta is the dot product of its coefficients
    of ``x, x^2, ...`` with ``weights`` (P4: degree 3, weights 1, 1/2, 1/2). Curves of fewer than
    ``max(4, degree + 1)`` layers are refused. See the module's note on the sign.
    """
    curve = np.asarray(complexity, dtype=np.float64)
    if degree < 1 or len(weights) != degree:
        raise ValueError(f"need degree >= 1 and one weight per coefficient: degree {degree}, weights {tuple(weights)}")
    if layer_scale not in LAYER_SCALES:
        raise ValueError(f"unknown layer scale {layer_scale!r}; valid choices: {LAYER_SCALES}")
    shortest = max(MIN_THETA_LAYERS, degree + 1)
    if curve.ndim != 1 or len(curve) < shortest or not np.all(np.isfinite(curve)):
        raise ValueError(f"complexity must be a finite 1-D curve over at least {shortest} layers (a degree-{degree} "
                         f"fit through fewer interpolates them), got shape {curve.shape}")
    norm = np.linalg.norm(curve)
    y = curve / norm if norm > 0 else curve
    x = np.arange(1, len(curve) + 1, dtype=np.float64)
    if layer_scale == "relative":
        x = (x - 1) / (len(curve) - 1)
    fit = make_pipeline(PolynomialFeatures(degree=degree), Ridge(alpha=THETA_RIDGE_ALPHA)).fit(x.reshape(-1, 1), y)
    coefficients = fit.steps[1][1].coef_[1:]  # the first column is the constant 1
    return float(np.dot(coefficients, weights))


def decay_tau(complexity: np.ndarray) -> tuple[float, float]:
    """Kendall tau of complexity ``(L,)`` against the layer index, and its p-value."""
    result = stats.kendalltau(np.arange(len(complexity)), complexity)
    return float(result.statistic), float(result.pvalue)


def decay_taus(curves: Sequence[np.ndarray]) -> np.ndarray:
    """Kendall tau of each complexity curve ``(L_i,)`` with its layer index, ``(n_curves,)``:
    negative where complexity falls with depth. Judge them across models with
    :func:`helpers.claims.mean_effect` or, against untrained copies of the same models,
    :func:`helpers.claims.trained_minus_control`."""
    taus = np.array([decay_tau(np.asarray(curve))[0] for curve in curves])
    if len(taus) == 0 or np.any(np.isnan(taus)):
        raise ValueError(f"need at least one curve, each with at least two distinct values; curves "
                         f"{np.flatnonzero(np.isnan(taus)).tolist()} are constant")
    return taus


def subsample_thetas(betti: np.ndarray, fraction: float, n_draws: int, seed: int) -> np.ndarray:
    """Theta of ``n_draws`` random subsets of the images of each class (``betti`` in the
    ``(n_classes, n_images, L, 3)`` layout), each keeping ``fraction`` of them; ``(n_draws,)``."""
    values = np.asarray(betti)
    if values.ndim != 4 or not 0 < fraction <= 1:
        raise ValueError(f"need betti (n_classes, n_images, L, 3) and 0 < fraction <= 1, got "
                         f"{values.shape} and {fraction}")
    keep = max(1, int(round(fraction * values.shape[1])))
    rng = np.random.default_rng(seed)
    thetas = []
    for _ in range(n_draws):
        chosen = np.stack([rng.choice(values.shape[1], keep, replace=False) for _ in range(values.shape[0])])
        thetas.append(decay_score(complexity_by_layer(np.take_along_axis(values, chosen[:, :, None, None], 1))))
    return np.asarray(thetas)


def by_class(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(N, ...)`` values regrouped as ``(n_classes, n_per_class, ...)``; every class must have
    the same number of items (a stratified sample)."""
    classes, counts = np.unique(labels, return_counts=True)
    if len(set(counts)) != 1:
        raise ValueError(f"classes have unequal counts {dict(zip(classes.tolist(), counts.tolist()))}")
    return np.stack([values[labels == c] for c in classes])


# --------------------------------------------------------------------------------------------
# The specification panel
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThetaSpecification:
    """One way of computing theta from mean Betti numbers by layer: the polynomial (``degree``,
    ``weights``, ``layer_scale``), the layers left out (``drop``: indices, negative from the
    end), the Betti dimensions summed (``dims``) and whether each layer's numbers are divided by
    its number of voxels (``per_voxel``)."""

    name: str
    degree: int = THETA_DEGREE
    weights: tuple[float, ...] = THETA_WEIGHTS
    layer_scale: str = "index"
    drop: tuple[int, ...] = ()
    dims: tuple[int, ...] = (0, 1, 2)
    per_voxel: bool = False


SPECIFICATIONS = (
    ThetaSpecification("P4 (degree 3, weights 1, 1/2, 1/2, layers 1..L, b0+b1+b2)"),
    ThetaSpecification("degree 2 (weights 1, 1/2)", degree=2, weights=(1.0, 0.5)),
    ThetaSpecification("degree 1 (the slope)", degree=1, weights=(1.0,)),
    ThetaSpecification("equal weights (1, 1, 1)", weights=(1.0, 1.0, 1.0)),
    ThetaSpecification("relative depth 0..1", layer_scale="relative"),
    ThetaSpecification("first layer dropped", drop=(0,)),
    ThetaSpecification("last layer dropped", drop=(-1,)),
    ThetaSpecification("b0 only", dims=(0,)),
    ThetaSpecification("b1 only", dims=(1,)),
    ThetaSpecification("b2 only", dims=(2,)),
    ThetaSpecification("Betti numbers per voxel", per_voxel=True),
)
"""P4's theta first, then one departure at a time."""


def specification_theta(mean_betti: np.ndarray, specification: ThetaSpecification,
                        voxels: np.ndarray | None = None) -> float:
    """Theta of one model under ``specification``, from its ``(L, 3)`` mean Betti numbers by
    layer (:func:`mean_betti_by_layer`); ``voxels`` ``(L,)`` is needed for ``per_voxel``.
    NaN where the choice leaves fewer layers than theta needs."""
    values = np.asarray(mean_betti, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != 3:
        raise ValueError(f"mean_betti has shape {values.shape}: expected (L, 3)")
    if specification.per_voxel:
        if voxels is None or len(voxels) != len(values):
            raise ValueError(f"{specification.name!r} needs the voxels per layer, shape ({len(values)},)")
        values = values / np.asarray(voxels, dtype=np.float64)[:, None]
    keep = np.setdiff1d(np.arange(len(values)), np.asarray(specification.drop, dtype=int) % len(values))
    curve = values[keep][:, list(specification.dims)].sum(axis=1)
    if len(curve) < max(MIN_THETA_LAYERS, specification.degree + 1):
        return float("nan")
    return decay_score(curve, specification.degree, specification.weights, specification.layer_scale)


def specification_thetas(mean_betti: dict[str, np.ndarray], voxels: dict[str, np.ndarray] | None = None,
                         specifications: Sequence[ThetaSpecification] = SPECIFICATIONS) -> np.ndarray:
    """``(n_specifications, n_models)`` theta of each model (``{model: (L, 3)}``, in dict order)
    under each specification; the per-voxel row is NaN when ``voxels`` is not given."""
    rows = []
    for specification in specifications:
        if specification.per_voxel and voxels is None:
            rows.append([float("nan")] * len(mean_betti))
            continue
        rows.append([specification_theta(values, specification, None if voxels is None else voxels[model])
                     for model, values in mean_betti.items()])
    return np.asarray(rows)
