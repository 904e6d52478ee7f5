"""Seconds per optimisation step of chapter 1's networks (``helpers.fusion``), on this machine.

Trains each model kind for ``--steps`` steps (batch 32, Adam, one validation check at the end)
on simulated transients (38x38 cutouts and their Betti curves, persistence images and
landscapes), after one untimed warm-up step, with ``--threads`` torch threads, and prints the
best of ``--repeats`` runs per kind: P1's architecture in the channels-last memory format (how
chapter 1 trains), in the default format, and the book's earlier architecture (PyTorch
initialisation, no curve-input normalisation or dropouts). Chapter 1 trains its networks in
processes of one thread each, so ``--threads 1`` is its setting. Its time budget is (number of
networks) x (steps) x (seconds per step) / (cores).

    PYTHONPATH=src python benchmarks/bench_fusion_training.py --threads 1 --steps 50
"""

from __future__ import annotations

import torch
from training_timing import parser, seconds_per_step

from helpers import fusion
from helpers.models import EARLIER_ARCHITECTURE, MODEL_KINDS, Architecture
from helpers.train import TrainConfig


BATCH = 32  # P1's batch size


def step_seconds(data: fusion.FusionData, kind: str, architecture: Architecture, steps: int,
                 channels_last: bool) -> float:
    """Seconds per step of one model kind (validation included)."""
    def config(max_steps: int) -> TrainConfig:
        return TrainConfig(max_steps=max_steps, eval_every=max_steps, patience=1, batch_size=BATCH,
                           channels_last=channels_last)
    torch.manual_seed(0)
    model = fusion.new_model(data, kind, architecture)
    return seconds_per_step(model, data.examples("train", kind), data.examples("val", kind), config, steps)


def main() -> None:
    arguments = parser(__doc__.splitlines()[0], steps=50, repeats=3, repeated="model kind")
    arguments.add_argument("--n-train", type=int, default=1000, help="simulated training cutouts")
    args = arguments.parse_args()
    torch.set_num_threads(args.threads)
    data = fusion.prepare("transients", n_train=args.n_train, n_test=100, seed=0, n_jobs=args.threads,
                          progress=False, dataset_options={"real_fraction": 0.5})
    print(f"{args.threads} torch threads, {args.steps} steps of batch {BATCH}, best of {args.repeats} runs")
    print(f"seconds per step (images per second): {'P1, channels-last':>18} {'P1, default':>18} {'earlier':>18}")
    for kind in MODEL_KINDS:
        times = [min(step_seconds(data, kind, architecture, args.steps, channels_last) for _ in range(args.repeats))
                 for architecture, channels_last in ((Architecture(), True), (Architecture(), False),
                                                     (EARLIER_ARCHITECTURE, False))]
        print(f"{kind:10} " + " ".join(f"{1000 * t:9.1f} ms ({BATCH / t:5.0f}/s)" for t in times))


if __name__ == "__main__":
    main()
