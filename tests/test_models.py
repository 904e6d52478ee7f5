import pytest
import torch

import math

from torch import nn

from helpers.models import (EARLIER_ARCHITECTURE, MODEL_KINDS, WIDE_CHANNELS, Architecture, CausalConv1d, build_model, count_parameters,
                            matching_width)

CURVES = (2, 100)
IMAGES = (2, 28, 28)


def topo_shape(kind):
    return IMAGES if kind == "cnn_pi" else CURVES


@pytest.mark.parametrize("kind", sorted(MODEL_KINDS))
@pytest.mark.parametrize("image_shape", [(1, 28, 28), (1, 38, 38), (1, 8, 8)])
def test_every_model_maps_inputs_to_logits(kind, image_shape):
    for architecture in (Architecture(), Architecture(init="torch", pi_branch="small", curve_input_norm=False)):
        model = build_model(kind, image_shape=image_shape, topo_shape=topo_shape(kind), n_classes=7,
                            architecture=architecture)
        logits = model(torch.zeros(3, *image_shape), torch.zeros(3, *topo_shape(kind)))
        assert logits.shape == (3, 7)


def test_parameter_counts_match_p1_for_28x28_inputs():
    # P1's published counts: CNN 657k, CNN-BC 1.18M, wide CNN 1.24M (7 HAM10000 classes).
    cnn = count_parameters(build_model("cnn", image_shape=(1, 28, 28), topo_shape=None, n_classes=7))
    fusion = count_parameters(build_model("cnn_bc", image_shape=(1, 28, 28), topo_shape=CURVES, n_classes=7))
    wide = count_parameters(build_model("wide_cnn", image_shape=(1, 28, 28), topo_shape=None, n_classes=7))
    assert abs(cnn - 657_000) < 1_000
    assert abs(fusion - 1_180_000) < 10_000
    assert abs(wide - 1_240_000) < 5_000


def _weighted_layers(model):
    return [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]


def _glorot_bound(layer):
    receptive = layer.weight[0, 0].numel()  # kernel size (1 for a dense layer)
    fan_in, fan_out = layer.weight.shape[1] * receptive, layer.weight.shape[0] * receptive
    return math.sqrt(6 / (fan_in + fan_out))


@pytest.mark.parametrize("kind", ["cnn_bc", "cnn_pi", "wide_cnn"])
def test_keras_initialisation_is_glorot_uniform_with_zero_biases(kind):
    torch.manual_seed(0)
    model = build_model(kind, image_shape=(1, 38, 38), topo_shape=topo_shape(kind), n_classes=2)
    layers = _weighted_layers(model)
    assert len(layers) >= 8
    for layer in layers:
        bound = _glorot_bound(layer)
        assert torch.all(layer.bias == 0)
        assert layer.weight.abs().max() <= bound
        if layer.weight.numel() >= 1_000:  # uniform on [-bound, bound]: fills it, variance bound^2 / 3
            assert layer.weight.abs().max() > 0.95 * bound
            assert layer.weight.var().item() == pytest.approx(bound**2 / 3, rel=0.15)
    torch_init = build_model(kind, image_shape=(1, 38, 38), topo_shape=topo_shape(kind), n_classes=2,
                             architecture=Architecture(init="torch"))
    assert any(torch.any(layer.bias != 0) for layer in _weighted_layers(torch_init))


def test_layers_follow_p1s_published_code():
    model = build_model("cnn_bc", image_shape=(1, 38, 38), topo_shape=CURVES, n_classes=2)
    body = list(model.topo_branch.body)
    assert isinstance(body[0], nn.BatchNorm1d) and body[0].eps == 1e-3 and body[0].num_features == 2
    causal = [i for i, m in enumerate(body) if isinstance(m, CausalConv1d)]
    assert [body[i].dilation[0] for i in causal] == [1, 2, 4, 8, 1, 2, 4, 8]
    for i in causal:  # each causal convolution: ReLU, then dropout 0.1
        assert isinstance(body[i + 1], nn.ReLU) and isinstance(body[i + 2], nn.Dropout) and body[i + 2].p == 0.1
    last = body.index(model.topo_branch.last_conv)
    assert model.topo_branch.last_conv.kernel_size == (1,) and model.topo_branch.last_conv.out_channels == 10
    assert isinstance(body[last + 1], nn.Flatten)  # no activation after the 1x1 convolution
    head = list(model.head)
    assert [type(m) for m in head] == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Linear]
    assert head[0].out_features == 512 and head[2].p == 0.3 and head[3].out_features == 256
    wide = build_model("wide_cnn", image_shape=(1, 38, 38), topo_shape=None, n_classes=2)
    assert tuple(getattr(wide.image_branch, f"conv{i}").out_channels for i in range(1, 6)) == WIDE_CHANNELS
    pi = build_model("cnn_pi", image_shape=(1, 38, 38), topo_shape=IMAGES, n_classes=2)
    assert pi.topo_branch.conv5.out_channels == 256  # P1 reuses the image CNN on persistence images


def test_the_previous_choices_remain_available():
    model = build_model("cnn_bc", image_shape=(1, 38, 38), topo_shape=CURVES, n_classes=2,
                        architecture=EARLIER_ARCHITECTURE)
    body = list(model.topo_branch.body)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.Dropout)) for m in body + list(model.head))
    assert isinstance(body[body.index(model.topo_branch.last_conv) + 1], nn.ReLU)
    scaled = build_model("wide_cnn", image_shape=(1, 38, 38), topo_shape=None, n_classes=2, width=1.5)
    assert scaled.image_branch.conv5.out_channels == 384
    for bad, message in (({"init": "he"}, "init"), ({"pi_branch": "big"}, "pi_branch"),
                         ({"curve_dropout": 1.0}, "curve_dropout"), ({"wide": "double"}, "wide")):
        with pytest.raises(ValueError, match=message):
            Architecture(**bad)


def test_wide_cnn_matches_the_fusion_parameter_count():
    target = count_parameters(build_model("cnn_bc", image_shape=(1, 38, 38), topo_shape=CURVES, n_classes=2))
    width = matching_width(target, image_shape=(1, 38, 38), n_classes=2)
    wide = count_parameters(build_model("wide_cnn", image_shape=(1, 38, 38), topo_shape=None, n_classes=2,
                                        width=width))
    assert width > 1
    assert abs(wide - target) / target < 0.02


def test_causal_convolution_never_looks_ahead():
    conv = CausalConv1d(1, 1, kernel_size=2, dilation=4)
    signal = torch.zeros(1, 1, 20)
    signal[0, 0, 10] = 1.0
    response = conv(signal) - conv(torch.zeros_like(signal))
    assert response.shape == signal.shape
    assert torch.all(response[0, 0, :10] == 0)
    assert response[0, 0, 10:].abs().sum() > 0


def test_unknown_kind_and_missing_inputs_are_named():
    with pytest.raises(ValueError, match="'resnet'.*expected one of"):
        build_model("resnet", image_shape=(1, 28, 28), topo_shape=None, n_classes=2)
    with pytest.raises(ValueError, match="betti_curves"):
        build_model("cnn_bc", image_shape=(1, 28, 28), topo_shape=None, n_classes=2)
    with pytest.raises(ValueError, match="width"):
        build_model("cnn", image_shape=(1, 28, 28), topo_shape=None, n_classes=2, width=2.0)
    model = build_model("cnn_bc", image_shape=(1, 28, 28), topo_shape=CURVES, n_classes=2)
    with pytest.raises(ValueError, match="topo"):
        model(torch.zeros(1, 1, 28, 28), None)
