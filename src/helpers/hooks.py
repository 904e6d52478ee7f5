"""Forward hooks: what named layers of a network output, in one forward pass per batch.

:func:`forward_layers` runs a model once over the inputs, batch by batch, with a forward hook on
each named sub-module, and hands every layer's output of every batch to a ``reduce`` function
before the next batch runs, so that large activations are summarised (pooled, projected, turned
into Betti numbers) without ever being held for all inputs at once. :func:`layer_outputs` is the
plain case that keeps the outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import torch
from torch import nn

Reduced = TypeVar("Reduced")
Reduce = Callable[[str, torch.Tensor, slice], Reduced]
"""``reduce(layer, output, rows)``: one layer's output for the inputs ``rows`` of the batch."""


def check_layers(model: nn.Module, layers: Sequence[str]) -> dict[str, nn.Module]:
    """The named sub-modules ``layers`` of ``model``; ``KeyError`` names the unknown ones and
    the valid names."""
    modules = dict(model.named_modules())
    unknown = [name for name in layers if name not in modules]
    if unknown:
        raise KeyError(f"unknown layers {unknown}; the model has {sorted(n for n in modules if n)}")
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers {list(layers)} name a module twice")
    return {name: modules[name] for name in layers}


@torch.no_grad()
def forward_layers(model: nn.Module, inputs: np.ndarray, layers: Sequence[str], reduce: Reduce,
                   batch_size: int = 64, device: str = "cpu") -> dict[str, list[Reduced]]:
    """``reduce`` applied to each named layer's output, batch by batch, in one forward pass.

    Args:
        model: put in evaluation mode and moved to ``device``.
        inputs: ``(N, ...)`` array of what the model takes (cast to float32).
        layers: names of sub-modules (``model.named_modules()``), in the order wanted.
        reduce: ``reduce(layer, output, rows)``, called with the detached output tensor of
            ``layer`` for the inputs ``inputs[rows]``.
        batch_size: inputs per forward pass.

    Returns:
        ``{layer: [reduce's result for each batch, in order]}``.
    """
    modules = check_layers(model, layers)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    target = torch.device(device)
    model.to(target).eval()
    results: dict[str, list[Reduced]] = {name: [] for name in layers}
    rows = slice(0, 0)

    def hook(name: str) -> Callable[[nn.Module, object, torch.Tensor], None]:
        return lambda _module, _inputs, output: results[name].append(reduce(name, output.detach(), rows))

    handles = [module.register_forward_hook(hook(name)) for name, module in modules.items()]
    try:
        for start in range(0, len(inputs), batch_size):
            rows = slice(start, min(start + batch_size, len(inputs)))
            model(torch.from_numpy(np.ascontiguousarray(inputs[rows], dtype=np.float32)).to(target))
    finally:
        for handle in handles:
            handle.remove()
    return results


def layer_outputs(model: nn.Module, inputs: np.ndarray, layers: Sequence[str], batch_size: int = 64,
                  device: str = "cpu") -> dict[str, np.ndarray]:
    """Outputs of the named sub-modules for ``inputs`` (N, ...): ``{layer: (N, ...) float32}``
    in the order of ``layers`` (one forward pass per batch)."""
    parts = forward_layers(model, inputs, layers, lambda _name, output, _rows: output.float().cpu().clone(),
                           batch_size, device)
    return {name: torch.cat(chunks).numpy() for name, chunks in parts.items()}
