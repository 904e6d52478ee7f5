"""Tests of the dataset registry on embedded data, tiny fake files and (when present) the
offline copies named by TOPOCNN_DATA."""

import gzip
import io
import os
import pickle
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import data
from helpers.data import DATASETS, Dataset, load, resize_images, to_grayscale

REAL_DATA = os.environ.get("TOPOCNN_DATA")
needs_real_data = pytest.mark.skipif(not REAL_DATA, reason="TOPOCNN_DATA is not set")


@pytest.fixture(autouse=True)
def isolated_root(tmp_path, monkeypatch):
    """Caches and downloads go to a temporary project root, never into the repository."""
    monkeypatch.setenv("TOPOCNN_ROOT", str(tmp_path / "root"))


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzipped idx file."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def fake_mnist(folder: Path, n: int, prefix: str = "t10k") -> np.ndarray:
    """Write n fake MNIST images/labels (10 classes, balanced); return the labels."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.arange(n) % 10
    images = np.broadcast_to((labels * 25)[:, None, None], (n, 28, 28))
    write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return labels


def fake_cifar_tar(path: Path, per_class: dict[str, int]) -> None:
    """An ImageFolder JPEG tar.gz with per_class[split] images per class, each one colour."""
    with tarfile.open(path, "w:gz") as tar:
        for split, count in per_class.items():
            for label, name in enumerate(data.CIFAR10_CLASSES):
                for i in range(count):
                    buffer = io.BytesIO()
                    Image.new("RGB", (32, 32), (label * 25, 100, 200)).save(buffer, "JPEG")
                    info = tarfile.TarInfo(f"{split}/{name}/{i:04d}.jpg")
                    info.size = buffer.tell()
                    buffer.seek(0)
                    tar.addfile(info, buffer)


def assert_provenance(source: str, machine_folder: Path, copy_kind: str) -> None:
    """A source line names the kind of copy and never the machine's folders (it is printed into
    the book's pages)."""
    assert copy_kind in source
    assert str(machine_folder) not in source and str(machine_folder.resolve()) not in source


# ----------------------------------------------------------------------------- registry

def test_registry_names():
    assert set(DATASETS) == {"transients", "digits", "mnist", "cifar10", "dermamnist"}


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="'imagenet'.*'digits'"):
        load("imagenet")


def test_unknown_split_and_option_name_the_bad_value():
    with pytest.raises(ValueError, match="'validation'.*'train', 'test'"):
        load("digits", "validation")
    with pytest.raises(ValueError, match="'colour'.*'grayscale'"):
        load("cifar10", colour=True)
    with pytest.raises(ValueError, match="'grayscale'.*none"):
        load("digits", grayscale=True)


def test_n_larger_than_split_is_an_error():
    with pytest.raises(ValueError, match="n=5000 exceeds the 360"):
        load("digits", "test", n=5000)


# ----------------------------------------------------------------------------- transients

def test_transients_dataset():
    ds = load("transients", "train", n=400)
    assert isinstance(ds, Dataset)
    assert ds.images.shape == (400, 1, 38, 38) and ds.images.dtype == np.float32
    assert ds.masks.shape == (400, 38, 38) and ds.labels.sum() == 40
    assert ds.class_names == ("bogus", "real") and ds.kinds.shape == (400,)
    assert "seed=0" in ds.source and "'train'" in ds.source


def test_transients_splits_use_different_streams_and_are_deterministic():
    train, test = load("transients", "train", n=100), load("transients", "test", n=100)
    assert not np.array_equal(train.images, test.images)
    np.testing.assert_array_equal(train.images, load("transients", "train", n=100).images)
    assert not np.array_equal(train.images, load("transients", "train", n=100, seed=1).images)


def test_transients_options_and_default_sizes():
    ds = load("transients", "test", n=50, size=24, real_fraction=0.5)
    assert ds.images.shape == (50, 1, 24, 24) and ds.labels.sum() == 25
    assert data.TRANSIENT_SIZES == {"train": 8000, "test": 2000}


# ----------------------------------------------------------------------------- digits

def test_digits_fixed_split():
    train, test = load("digits", "train"), load("digits", "test")
    assert train.images.shape == (1437, 1, 8, 8) and test.images.shape == (360, 1, 8, 8)
    assert train.images.max() == 1.0 and train.images.min() == 0.0
    assert np.bincount(test.labels).min() >= 35
    assert train.masks is None


def test_digits_subsample_is_stratified_and_seeded():
    a, b = load("digits", "train", n=100, seed=3), load("digits", "train", n=100, seed=3)
    np.testing.assert_array_equal(a.images, b.images)
    assert np.bincount(a.labels).min() >= 9 and len(a) == 100
    assert not np.array_equal(a.images, load("digits", "train", n=100, seed=4).images)
    assert "subsample of 100 with seed 3" in a.source


# ----------------------------------------------------------------------------- MNIST

def test_mnist_offline_test_set_only_is_split(tmp_path, monkeypatch, capsys):
    fake_mnist(tmp_path / "offline" / "mnist", 100)
    monkeypatch.setenv("TOPOCNN_DATA", str(tmp_path / "offline"))
    train = load("mnist", "train")
    notice = capsys.readouterr().out.strip().splitlines()
    assert len(notice) == 1 and "only the official test set" in notice[0]
    assert str(tmp_path) not in notice[0]
    test = load("mnist", "test")
    assert train.images.shape == (80, 1, 28, 28) and test.images.shape == (20, 1, 28, 28)
    assert np.bincount(test.labels).tolist() == [2] * 10
    np.testing.assert_allclose(train.images[:, 0, 0, 0], train.labels * 25 / 255, rtol=1e-6)
    assert "split stratified 80/20" in train.source and "train part (80)" in train.source
    assert_provenance(train.source, tmp_path, "MNIST official test set from the offline copy in TOPOCNN_DATA")


def test_mnist_offline_official_split(tmp_path, monkeypatch, capsys):
    fake_mnist(tmp_path / "offline" / "mnist", 30, "train")
    fake_mnist(tmp_path / "offline" / "mnist", 20, "t10k")
    monkeypatch.setenv("TOPOCNN_DATA", str(tmp_path / "offline"))
    assert len(load("mnist", "train")) == 30 and len(load("mnist", "test")) == 20
    assert capsys.readouterr().out == ""


def test_offline_folder_lacking_the_file_names_the_paths(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("TOPOCNN_DATA", str(tmp_path / "empty"))
    expected = str(tmp_path / "empty" / "mnist" / "t10k-images-idx3-ubyte.gz")
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.gz") as error:
        load("mnist")
    assert expected in str(error.value)
    with pytest.raises(FileNotFoundError, match="cifar10-jpeg.tar.gz"):
        load("cifar10")
    with pytest.raises(FileNotFoundError, match="dermamnist/dermamnist.npz"):
        load("dermamnist")


@needs_real_data
def test_mnist_real_offline_copy():
    train = load("mnist", "train")
    assert train.images.shape[1:] == (1, 28, 28) and train.images.dtype == np.float32
    assert len(train) + len(load("mnist", "test")) in (10_000, 70_000)
    assert set(np.unique(train.labels)) == set(range(10))


# ----------------------------------------------------------------------------- downloads

def refuse_network(*args, **kwargs):
    raise urllib.error.URLError("network is unreachable")


def test_failed_download_explains_the_fix(monkeypatch):
    monkeypatch.delenv("TOPOCNN_DATA", raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", refuse_network)
    with pytest.raises(RuntimeError, match="TOPOCNN_DATA") as error:
        load("mnist")
    message = str(error.value)
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in message
    assert "network is unreachable" in message and "data/README.md" in message


class FakeResponse(io.BytesIO):
    headers = {"Content-Length": "5"}


def test_download_verifies_md5_and_writes_atomically(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: FakeResponse(b"hello"))
    good = data.download("https://x/y", tmp_path / "y", "5d41402abc4b2a76b9719d911017c592")
    assert good.read_bytes() == b"hello"
    with pytest.raises(RuntimeError, match="md5"):
        data.download("https://x/z", tmp_path / "z", "0" * 32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["y"]


# ----------------------------------------------------------------------------- CIFAR-10

def test_cifar10_offline_fake_archive_and_cache(tmp_path, monkeypatch):
    offline = tmp_path / "offline"
    offline.mkdir()
    fake_cifar_tar(offline / "cifar10-jpeg.tar.gz", {"train": 3, "test": 2})
    monkeypatch.setenv("TOPOCNN_DATA", str(offline))
    test = load("cifar10", "test")
    assert test.images.shape == (20, 3, 32, 32) and test.images.dtype == np.float32
    np.testing.assert_array_equal(test.labels, np.repeat(np.arange(10), 2))
    assert np.abs(test.images[:, 0].mean(axis=(1, 2)) - test.labels * 25 / 255).max() < 0.03
    assert list((tmp_path / "root" / "data" / "prepared").glob("cifar10-jpeg-test-*.npz"))
    np.testing.assert_array_equal(load("cifar10", "test").images, test.images)
    gray = load("cifar10", "train", grayscale=True)
    assert gray.images.shape == (30, 1, 32, 32) and "luma" in gray.source
    assert_provenance(test.source, tmp_path, "CIFAR-10 test set from the offline copy in TOPOCNN_DATA")


def test_cifar10_subsample_same_with_and_without_cache(tmp_path, monkeypatch):
    offline = tmp_path / "offline"
    offline.mkdir()
    fake_cifar_tar(offline / "cifar10-jpeg.tar.gz", {"test": 4})
    monkeypatch.setenv("TOPOCNN_DATA", str(offline))
    before = load("cifar10", "test", n=20, seed=2)
    assert not (tmp_path / "root" / "data" / "prepared").exists()
    load("cifar10", "test")
    after = load("cifar10", "test", n=20, seed=2)
    np.testing.assert_array_equal(before.images, after.images)
    np.testing.assert_array_equal(before.labels, after.labels)
    assert np.bincount(after.labels).tolist() == [2] * 10


@needs_real_data
def test_cifar10_real_offline_copy_subsample():
    ds = load("cifar10", "test", n=200)
    assert ds.images.shape == (200, 3, 32, 32)
    assert np.bincount(ds.labels).tolist() == [20] * 10
    assert 0.3 < ds.images.mean() < 0.65


# ----------------------------------------------------------------------------- DermaMNIST

def test_dermamnist_offline_fake_npz(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, count in data.DERMAMNIST_COUNTS.items():
        arrays[f"{split}_images"] = rng.integers(0, 256, (count, 28, 28, 3), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(count) % 7)[:, None]
    (tmp_path / "offline" / "dermamnist").mkdir(parents=True)
    np.savez(tmp_path / "offline" / "dermamnist" / "dermamnist.npz", **arrays)
    monkeypatch.setenv("TOPOCNN_DATA", str(tmp_path / "offline"))
    val = load("dermamnist", "val", grayscale=True)
    assert val.images.shape == (1003, 1, 28, 28) and len(val.class_names) == 7
    expected = (arrays["val_images"] @ np.array(data.LUMA_WEIGHTS)) / 255
    np.testing.assert_allclose(val.images[:, 0], expected, atol=1e-5)
    assert len(load("dermamnist", "test", n=70)) == 70
    assert_provenance(val.source, tmp_path, "DermaMNIST")
    assert_provenance(val.source, tmp_path, "from the offline copy in TOPOCNN_DATA")


# ----------------------------------------------------------------------------- image helpers

def test_to_grayscale_weights():
    images = np.zeros((2, 3, 4, 4), np.float32)
    images[0, 0], images[1, 2] = 1.0, 1.0
    gray = to_grayscale(images)
    assert gray.shape == (2, 1, 4, 4)
    np.testing.assert_allclose(gray[:, 0, 0, 0], [0.299, 0.114], rtol=1e-6)
    assert to_grayscale(gray) is gray


def test_resize_images_shape_range_and_constant_images():
    images = np.random.default_rng(0).random((3, 2, 28, 28), dtype=np.float32)
    resized = resize_images(images, 14)
    assert resized.shape == (3, 2, 14, 14) and resized.dtype == np.float32
    assert resized.min() >= 0.0 and resized.max() <= 1.0
    np.testing.assert_allclose(resize_images(np.full((1, 1, 8, 8), 0.25, np.float32), 20), 0.25,
                               rtol=1e-6)


def test_cifar10_downloaded_pickle_archive(tmp_path, monkeypatch):
    monkeypatch.delenv("TOPOCNN_DATA", raising=False)
    archive = tmp_path / "root" / "data" / "downloads" / "cifar-10-python.tar.gz"
    archive.parent.mkdir(parents=True)
    with tarfile.open(archive, "w:gz") as tar:
        for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                     "data_batch_5", "test_batch"]:
            labels = list(range(10))
            pixels = np.repeat(np.arange(10, dtype=np.uint8)[:, None] * 20, 3072, axis=1)
            payload = pickle.dumps({"data": pixels, "labels": labels})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    train = load("cifar10", "train")
    assert train.images.shape == (50, 3, 32, 32) and "official train set" in train.source
    assert_provenance(train.source, tmp_path, f"downloaded from {data.CIFAR10_URL}")
    np.testing.assert_allclose(train.images[:, 2, 5, 5], np.tile(np.arange(10) * 20 / 255, 5),
                               rtol=1e-6)
