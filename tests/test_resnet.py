import pytest
import torch

from helpers.models import count_parameters
from helpers.resnet import CifarResNet, resnet18


def test_full_width_resnet18_has_the_cifar_resnet18_parameter_count():
    # 11,173,962 parameters: ResNet-18 for CIFAR-10 (He et al.'s layout with a 3x3 stem)
    assert count_parameters(resnet18(width=64)) == 11_173_962


def test_narrow_resnet_maps_images_to_logits_and_names_modules_like_torchvision():
    model = CifarResNet((1, 1, 1, 1), width=8, in_channels=1, n_classes=5)
    assert model(torch.rand(3, 1, 32, 32)).shape == (3, 5)
    names = dict(model.named_modules())
    assert {"conv1", "layer1.0.conv1", "layer4.0.bn2", "layer4.0.shortcut.0"} <= set(names)


def test_bad_blocks_or_width_are_named():
    with pytest.raises(ValueError, match=r"four positive counts.*\(2, 2, 2\)"):
        CifarResNet((2, 2, 2))
    with pytest.raises(ValueError, match="width must be a positive number of channels, got 0"):
        CifarResNet(width=0)
