"""Seconds per epoch of chapter 4's CIFAR-10 networks (``helpers.cifar_networks``), on this machine.

Trains the fast network (``architecture="fast"``) of ``--width`` for ``--steps`` steps of each
batch size in ``--batch-sizes`` (SGD, one-cycle schedule, shifts and flips, label smoothing, the
channels-last memory format, the forward pass in ``--precision``: chapter 4's recipe), after one
untimed warm-up step, with ``--threads`` torch threads, and prints the best of ``--repeats`` runs
as seconds per step, images per second and seconds per epoch of 50,000 images. Chapter 4 trains
its networks one after the other on two threads, so ``--threads 2`` is its setting; its training
time is about (seeds) x (epochs) x (seconds per epoch).

    TOPOCNN_DATA=/path/to/offline/data PYTHONPATH=src python benchmarks/bench_cifar_training.py --threads 2
"""

from __future__ import annotations

import argparse
import time

import torch

from helpers import cifar_networks
from helpers.train import TrainConfig, fit

EPOCH_IMAGES = 50_000  # the CIFAR-10 training split


def seconds_per_step(data: cifar_networks.NetworkData, width: int, batch_size: int, steps: int,
                     precision: str) -> float:
    """Wall-clock seconds per step of one training run of ``steps`` steps (one check at the end)."""
    def config(max_steps: int) -> TrainConfig:
        return TrainConfig(max_steps=max_steps, batch_size=batch_size, learning_rate=0.4, eval_every=max_steps,
                           optimiser="sgd", schedule="one_cycle", weight_decay=5e-4, augment=True, augment_padding=2,
                           label_smoothing=0.2, channels_last=True, precision=precision)
    model = cifar_networks.untrained_network(data, 0, width, "fast")
    fit(model, data.examples("train"), None, config(1), device="cpu", progress=False)  # warm-up
    start = time.perf_counter()
    fit(model, data.examples("train"), None, config(steps), device="cpu", progress=False)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="timed optimisation steps per run")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per batch size")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--width", type=int, default=32, help="channels of the network's first group")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 512], help="batch sizes to time")
    parser.add_argument("--precision", default="bfloat16", choices=["float32", "bfloat16"],
                        help="training forward pass (TrainConfig.precision)")
    parser.add_argument("--n-train", type=int, default=10_000, help="CIFAR-10 training images loaded")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = cifar_networks.prepare(args.n_train, 0, 100, seed=0, dataset="cifar10")
    print(f"{args.threads} torch threads, fast network of width {args.width}, {args.precision}, {args.steps} steps, "
          f"best of {args.repeats} runs")
    for batch_size in args.batch_sizes:
        step = min(seconds_per_step(data, args.width, batch_size, args.steps, args.precision) for _ in range(args.repeats))
        print(f"batch {batch_size:4}: {1000 * step:7.1f} ms per step, {batch_size / step:6.0f} images/s, "
              f"{EPOCH_IMAGES * step / batch_size:5.1f} s per epoch of {EPOCH_IMAGES:,} images")


if __name__ == "__main__":
    main()
