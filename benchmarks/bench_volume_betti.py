"""Betti numbers of activation volumes at one threshold: helpers.volume_betti's engine against a
full gudhi persistence diagram of the same volumes, side by side; fails unless the numbers agree.

    python benchmarks/bench_volume_betti.py --shape 64 56 56 --n 4
"""

import argparse
import time

import numpy as np
from scipy import ndimage

from helpers import volume_betti


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(64, 56, 56), metavar=("C", "H", "W"))
    parser.add_argument("--n", type=int, default=4, help="volumes")
    parser.add_argument("--construction", choices=volume_betti.CONSTRUCTIONS, default="V")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    volumes = volume_betti.standardise(np.stack([ndimage.gaussian_filter(rng.normal(size=args.shape), 1.0)
                                                 for _ in range(args.n)]))
    start = time.perf_counter()
    engine = volume_betti.betti_numbers(volumes, [0.0], args.construction)
    engine_s = (time.perf_counter() - start) / args.n
    start = time.perf_counter()
    reference = volume_betti.reference_betti_numbers(volumes, [0.0], args.construction)
    gudhi_s = (time.perf_counter() - start) / args.n
    if not np.array_equal(engine, reference):
        raise SystemExit("the engine and gudhi disagree")
    print(f"{args.construction}-construction, volumes {tuple(args.shape)}: engine {1e3 * engine_s:.1f} ms, "
          f"gudhi {1e3 * gudhi_s:.1f} ms per volume, {gudhi_s / engine_s:.0f}x; numbers identical")


if __name__ == "__main__":
    main()
