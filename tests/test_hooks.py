import numpy as np
import pytest
import torch

from helpers import hooks


def test_one_forward_pass_per_batch_feeds_every_layer():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(2, 3, 3))
    calls = []
    model.register_forward_pre_hook(lambda *_: calls.append(1))
    images = np.random.default_rng(0).random((5, 1, 8, 8)).astype(np.float32)
    seen = hooks.forward_layers(model, images, ["1", "2"], lambda name, out, rows: (rows.start, rows.stop, out.shape),
                                batch_size=2)
    assert len(calls) == 3  # batches of 2, 2 and 1
    assert [r[:2] for r in seen["1"]] == [(0, 2), (2, 4), (4, 5)]
    assert seen["2"][0][2] == (2, 3, 6, 6)
    outputs = hooks.layer_outputs(model, images, ["1", "2"], batch_size=3)
    assert outputs["1"].shape == (5, 2, 8, 8) and outputs["2"].shape == (5, 3, 6, 6)
    with torch.no_grad():
        assert np.allclose(outputs["2"], model(torch.from_numpy(images)).numpy(), atol=1e-6)


def test_unknown_or_repeated_layers_are_named():
    model = torch.nn.Sequential(torch.nn.ReLU())
    with pytest.raises(KeyError, match="unknown layers"):
        hooks.layer_outputs(model, np.zeros((1, 1, 2, 2)), ["nope"])
    with pytest.raises(ValueError, match="twice"):
        hooks.layer_outputs(model, np.zeros((1, 1, 2, 2)), ["0", "0"])
