import numpy as np
import pytest

from helpers import released


def test_released_arrays_are_pinned_to_the_authors_repository(monkeypatch, tmp_path):
    assert len(released.RELEASED) == 9
    for entry in released.RELEASED:
        assert entry.url.startswith("https://raw.githubusercontent.com/Cross-Caps/DNNTopology/")
        assert " " not in entry.url and entry.url.endswith(entry.file)
    with pytest.raises(ValueError, match="unknown released model"):
        released.load_released("AlexNet")
    monkeypatch.setenv("TOPOCNN_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="vgg16_cifar10.npy"):
        released.load_released("VGG16")
    folder = tmp_path / released.RELEASED_FOLDER
    folder.mkdir()
    np.save(folder / "vgg16_cifar10.npy", np.zeros((10, 200, 13, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="md5"):
        released.load_released("VGG16")


def test_offline_released_array_when_present():
    import os

    if not os.environ.get("TOPOCNN_DATA"):
        pytest.skip("no offline data folder")
    array, copy = released.load_released("ResNet18")
    assert array.shape == (10, 200, 11, 3) and "md5 verified" in copy
    assert "offline copy" in copy and os.environ["TOPOCNN_DATA"] not in copy


def test_released_array_without_copy_or_network_names_the_url(monkeypatch, tmp_path):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.delenv("TOPOCNN_DATA", raising=False)
    monkeypatch.setenv("TOPOCNN_ROOT", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(RuntimeError, match="raw.githubusercontent.com/Cross-Caps/DNNTopology/.*resnet18_cifar10.npy"):
        released.load_released("ResNet18")


def test_identical_adjacent_layers():
    values = np.random.default_rng(0).integers(0, 5, (2, 3, 4, 3))
    values[:, :, 2] = values[:, :, 1]
    assert released.identical_adjacent_layers(values) == [1]
    with pytest.raises(ValueError, match="n_classes, n_images, L, 3"):
        released.identical_adjacent_layers(values[0])
