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

import torch
from training_timing import parser, seconds_per_step

from helpers import cifar_networks
from helpers.train import TrainConfig

EPOCH_IMAGES = 50_000  # the CIFAR-10 training split


def step_seconds(data: cifar_networks.NetworkData, width: int, batch_size: int, steps: int, precision: str) -> float:
    """Seconds per step of chapter 4's recipe for the fast network of ``width`` (one check at the end)."""
    def config(max_steps: int) -> TrainConfig:
        return TrainConfig(max_steps=max_steps, batch_size=batch_size, learning_rate=0.4, eval_every=max_steps,
                           optimiser="sgd", schedule="one_cycle", weight_decay=5e-4, augment=True, augment_padding=2,
                           label_smoothing=0.2, channels_last=True, precision=precision)
    model = cifar_networks.untrained_network(data, 0, width, "fast")
    return seconds_per_step(model, data.examples("train"), None, config, steps)


def main() -> None:
    arguments = parser(__doc__.splitlines()[0], steps=100, repeats=2, repeated="batch size")
    arguments.add_argument("--width", type=int, default=32, help="channels of the network's first group")
    arguments.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 512], help="batch sizes to time")
    arguments.add_argument("--precision", default="bfloat16", choices=["float32", "bfloat16"],
                           help="training forward pass (TrainConfig.precision)")
    arguments.add_argument("--n-train", type=int, default=10_000, help="CIFAR-10 training images loaded")
    args = arguments.parse_args()
    torch.set_num_threads(args.threads)
    data = cifar_networks.prepare(args.n_train, 0, 100, seed=0, dataset="cifar10")
    print(f"{args.threads} torch threads, fast network of width {args.width}, {args.precision}, {args.steps} steps, "
          f"best of {args.repeats} runs")
    for batch_size in args.batch_sizes:
        step = min(step_seconds(data, args.width, batch_size, args.steps, args.precision) for _ in range(args.repeats))
        print(f"batch {batch_size:4}: {1000 * step:7.1f} ms per step, {batch_size / step:6.0f} images/s, "
              f"{EPOCH_IMAGES * step / batch_size:5.1f} s per epoch of {EPOCH_IMAGES:,} images")


if __name__ == "__main__":
    main()
