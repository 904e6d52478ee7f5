"""Throughput of the transient-vs-bogus simulator (``helpers.transients.simulate``).

Times ``simulate(n)`` (38x38 cutouts with exact object masks) over ``--repeats`` runs after one
warm-up and prints the best rate in cutouts/s. Chapter 1 simulates a few thousand cutouts per
run, so a rate of 1,000/s or more keeps the simulator out of its time budget.

    PYTHONPATH=src python benchmarks/bench_transients.py --n 10000
"""

from __future__ import annotations

import argparse
import time

from helpers.transients import simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="cutouts per run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after one warm-up")
    args = parser.parse_args()
    simulate(min(args.n, 500), seed=0)
    best = min(_timed(args.n, seed) for seed in range(args.repeats))
    print(f"simulate({args.n:,}): best of {args.repeats} runs {best:.2f} s, {args.n / best:,.0f} cutouts/s")


def _timed(n: int, seed: int) -> float:
    start = time.perf_counter()
    simulate(n, seed=seed)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
