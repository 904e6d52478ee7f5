"""Cubical H0+H1 persistence and 100-bin Betti curves: helpers.topology against gudhi's pipeline.

Both pipelines run on the same images in this process:

* ``helpers``: ``cubical_diagrams`` then ``TopologicalFeatures(n_bins=100)`` fit and
  ``betti_curves``;
* ``gudhi``: ``gudhi.sklearn.cubical_persistence.CubicalPersistence(homology_dimensions=[0, 1],
  n_jobs=-1)`` then ``gudhi.representations.BettiCurve`` per dimension, sampled on the same 100
  filtration values (its automatic range degenerates on H0, whose deaths include +inf).

Images: the MNIST test set from ``$TOPOCNN_DATA/mnist/t10k-images-idx3-ubyte.gz`` when
``TOPOCNN_DATA`` is set, else random smoothed 28x28 images. Prints images/s for each pipeline
(best of ``--repeats`` runs after one warm-up) and checks that the Betti curves are identical.

    PYTHONPATH=src python benchmarks/bench_cubical_features.py --n 5000
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import gudhi
import numpy as np
from gudhi.representations import BettiCurve
from gudhi.sklearn.cubical_persistence import CubicalPersistence
from joblib import effective_n_jobs
from scipy.ndimage import gaussian_filter

from helpers.topology import TopologicalFeatures, cubical_diagrams

N_BINS = 100
IDX_HEADER_BYTES = 16
MNIST_SIDE = 28


def mnist_images(n: int, data_root: Path) -> np.ndarray:
    """The first ``n`` MNIST test images, ``(n, 28, 28)`` uint8, read from the idx.gz file."""
    path = data_root / "mnist" / "t10k-images-idx3-ubyte.gz"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: TOPOCNN_DATA should hold mnist/{path.name}")
    with gzip.open(path, "rb") as file:
        raw = file.read()
    images = np.frombuffer(raw, dtype=np.uint8, offset=IDX_HEADER_BYTES)
    return images.reshape(-1, MNIST_SIDE, MNIST_SIDE)[:n]


def smoothed_random_images(n: int, seed: int = 0) -> np.ndarray:
    """``(n, 28, 28)`` float64 noise smoothed into MNIST-like blobs, scaled to [0, 255]."""
    noise = np.random.default_rng(seed).random((n, MNIST_SIDE, MNIST_SIDE))
    smooth = gaussian_filter(noise, sigma=(0, 2, 2))
    low, high = smooth.min(), smooth.max()
    return (smooth - low) / (high - low) * 255


def load_images(n: int) -> tuple[np.ndarray, str]:
    """``n`` MNIST-like images and a description of where they came from."""
    data_root = os.environ.get("TOPOCNN_DATA")
    if data_root:
        images = mnist_images(n, Path(data_root))
        return images, f"MNIST test set ({len(images)} images)"
    return smoothed_random_images(n), f"random smoothed images ({n})"


def helpers_pipeline(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Betti curves ``(N, 2, 100)`` and their sample values, with helpers.topology."""
    diagrams = cubical_diagrams(images, homology_dims=(0, 1), n_jobs=-1, progress=False)
    # full homology on one common grid: what gudhi's BettiCurve computes below
    features = TopologicalFeatures(homology_dims=(0, 1), n_bins=N_BINS, reduced_homology=False,
                                   range_per_dimension=False).fit(diagrams)
    return features.betti_curves(diagrams), features.sample_values


def gudhi_pipeline(images: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Betti curves ``(N, 2, len(grid))`` with gudhi's scikit-learn classes."""
    diagrams = CubicalPersistence(homology_dimensions=[0, 1], n_jobs=-1).fit_transform(images)
    curves = [BettiCurve(predefined_grid=grid).fit_transform([item[dim] for item in diagrams])
              for dim in (0, 1)]
    return np.stack(curves, axis=1)


def best_time(run: Callable[[], object], repeats: int) -> float:
    """Smallest wall time in seconds of ``repeats`` calls of ``run``, after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="number of images (default 5000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per pipeline")
    args = parser.parse_args()

    images, source = load_images(args.n)
    n_images = len(images)
    print(f"images: {source}; machine: {platform.processor() or platform.machine()}, "
          f"{effective_n_jobs(-1)} cores; gudhi {gudhi.__version__}")

    ours, grid = helpers_pipeline(images)
    theirs = gudhi_pipeline(images, grid)
    identical = np.array_equal(ours, theirs)
    print(f"Betti curves identical: {identical} (shape {ours.shape})")

    ours_s = best_time(lambda: helpers_pipeline(images), args.repeats)
    theirs_s = best_time(lambda: gudhi_pipeline(images, grid), args.repeats)
    print(f"helpers.topology : {n_images / ours_s:9.0f} images/s ({ours_s:.3f} s)")
    print(f"gudhi sklearn    : {n_images / theirs_s:9.0f} images/s ({theirs_s:.3f} s)")
    print(f"speed-up         : {theirs_s / ours_s:9.2f}x")
    if not identical:
        raise SystemExit("the two pipelines disagree")


if __name__ == "__main__":
    main()
