"""What the training benchmarks (``bench_*_training.py``) share: their common command-line
options and one timed training run."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from torch import nn

from helpers.train import Examples, TrainConfig, fit


def parser(description: str, steps: int, repeats: int, repeated: str) -> argparse.ArgumentParser:
    """A parser with ``--steps`` (default ``steps``), ``--repeats`` (default ``repeats``, timed
    runs per ``repeated``) and ``--threads`` (torch intra-op threads, default 1)."""
    arguments = argparse.ArgumentParser(description=description)
    arguments.add_argument("--steps", type=int, default=steps, help="timed optimisation steps per run")
    arguments.add_argument("--repeats", type=int, default=repeats, help=f"timed runs per {repeated}")
    arguments.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    return arguments


def seconds_per_step(model: nn.Module, train: Examples, val: Examples | None, config: Callable[[int], TrainConfig],
                     steps: int) -> float:
    """Wall-clock seconds per step of :func:`helpers.train.fit` of ``model`` with ``config(steps)``
    on the CPU, after one untimed warm-up step (``config(1)``); torch's thread count as set."""
    fit(model, train, val, config(1), device="cpu", progress=False)
    start = time.perf_counter()
    fit(model, train, val, config(steps), device="cpu", progress=False)
    return (time.perf_counter() - start) / steps


