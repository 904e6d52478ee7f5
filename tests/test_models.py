import pytest
import torch

from helpers.models import (MODEL_KINDS, CausalConv1d, build_model, count_parameters, matching_width)

CURVES = (2, 100)
IMAGES = (2, 28, 28)


def topo_shape(kind):
    return IMAGES if kind == "cnn_pi" else CURVES


@pytest.mark.parametrize("kind", sorted(MODEL_KINDS))
@pytest.mark.parametrize("image_shape", [(1, 28, 28), (1, 38, 38), (1, 8, 8)])
def test_every_model_maps_inputs_to_logits(kind, image_shape):
    width = 1.5 if kind == "wide_cnn" else None
    model = build_model(kind, image_shape=image_shape, topo_shape=topo_shape(kind), n_classes=7, width=width)
    logits = model(torch.zeros(3, *image_shape), torch.zeros(3, *topo_shape(kind)))
    assert logits.shape == (3, 7)


def test_parameter_counts_match_p1_for_28x28_inputs():
    # P1's published counts: CNN 657k, CNN-BC 1.18M (7 HAM10000 classes).
    cnn = count_parameters(build_model("cnn", image_shape=(1, 28, 28), topo_shape=None, n_classes=7))
    fusion = count_parameters(build_model("cnn_bc", image_shape=(1, 28, 28), topo_shape=CURVES, n_classes=7))
    assert abs(cnn - 657_000) < 1_000
    assert abs(fusion - 1_180_000) < 10_000


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
        build_model("wide_cnn", image_shape=(1, 28, 28), topo_shape=None, n_classes=2)
    model = build_model("cnn_bc", image_shape=(1, 28, 28), topo_shape=CURVES, n_classes=2)
    with pytest.raises(ValueError, match="topo"):
        model(torch.zeros(1, 1, 28, 28), None)
