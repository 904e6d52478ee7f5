"""P4's released arrays: the per-layer Betti numbers of nine ImageNet-pretrained models on CIFAR-10.

:data:`RELEASED` pins each array to a commit of the authors' repository with its md5 and the
fine-tuned accuracy P4 reports; :func:`load_released` reads the offline copy named by
``TOPOCNN_DATA`` or downloads the file. Each array is ``(10 classes, 200 images, L layers, 3)``:
b0, b1, b2 of each image's activation volume at each probed layer.

:func:`identical_adjacent_layers` finds consecutive layers whose Betti numbers are identical for
every image, which says something about the threshold behind an array: a BatchNorm output and the
ReLU after it have the same sublevel sets at every threshold of 0 or above, and different ones
below 0 (where the ReLU's sublevel set is empty).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

from helpers import data
from helpers.paths import DATA_ENV, download_dir, offline_data_dir

RELEASED_REPOSITORY = "Cross-Caps/DNNTopology"
RELEASED_FOLDER = "dnntopology-cifar10"


@dataclass(frozen=True)
class ReleasedArray:
    """One of P4's released arrays: ``(10 classes, 200 images, L layers, 3)`` Betti numbers of an
    ImageNet-pretrained torchvision model on CIFAR-10, the fine-tuned accuracy (%) P4 reports,
    and where the file lies in the authors' repository (path at a fixed commit) with its md5."""

    model: str
    file: str
    accuracy: float
    commit: str
    folder: str
    md5: str

    @property
    def url(self) -> str:
        return (f"https://raw.githubusercontent.com/{RELEASED_REPOSITORY}/{self.commit}/"
                f"{quote(self.folder)}/{self.file}")


_OLD, _PRL = "7597ae8ae85e882c605d20d1a9725422b3ba51a4", "ab90d2d01891877343ce00b5f6bab3eb28b62234"
_OLD_FOLDER, _PRL_FOLDER = "Accuracy vs TTP plots/Bettis/cifar10", "PRL/Accuracy vs TTP plots/Bettis/cifar10"
RELEASED = (
    ReleasedArray("VGG16", "vgg16_cifar10.npy", 94.74, _PRL, _PRL_FOLDER, "8cf8e76a9a5590a35d87e371be427843"),
    ReleasedArray("ResNet18", "resnet18_cifar10.npy", 95.42, _PRL, _PRL_FOLDER, "1d143c003cd2720e12aa14e0bcf78d70"),
    ReleasedArray("ResNet50", "resnet50_cifar10.npy", 95.78, _PRL, _PRL_FOLDER, "05f45302477de9c3e752cc1b0f277073"),
    ReleasedArray("ResNet101", "resnet101_cifar10.npy", 95.92, _PRL, _PRL_FOLDER, "6d76924d7c79e1cff5128b79791a9783"),
    ReleasedArray("ResNet152", "resnet152_cifar10.npy", 95.93, _OLD, _OLD_FOLDER, "0ff639ab4f8324a9ded18b03d44df151"),
    ReleasedArray("MobileNetV2", "mobilet_cifar10.npy", 95.17, _OLD, _OLD_FOLDER, "e07b2aada84f6a355f9c404ad5fc94d1"),
    ReleasedArray("DenseNet121", "densenet121_cifar10.npy", 96.53, _OLD, _OLD_FOLDER, "ddb9dbe01a80e2cb3a131b63c57d1f39"),
    ReleasedArray("DenseNet169", "densenet169_cifar10.npy", 96.21, _OLD, _OLD_FOLDER, "5e3341be4d577a2b5b8c411e8c6811a6"),
    ReleasedArray("DenseNet201", "densenet201_cifar10.npy", 96.39, _OLD, _OLD_FOLDER, "32b618a1a33eee7de0f7fadc41f81b0f"),
)


def _released_file(entry: ReleasedArray) -> tuple[Path, str]:
    """Path of one released array (offline copy or download) and a phrase saying which copy."""
    offline = offline_data_dir()
    if offline is None:
        path = download_dir() / RELEASED_FOLDER / entry.file
        if not path.exists():
            data.download(entry.url, path, entry.md5)
        return path, f"downloaded from {entry.url} (md5 verified)"
    path = offline / RELEASED_FOLDER / entry.file
    if not path.exists():
        raise FileNotFoundError(f"P4's array {entry.file} not found in {DATA_ENV}={offline}: looked for "
                                f"{path}. Download it from {entry.url}, or unset {DATA_ENV} to download it")
    found = data.md5sum(path)
    if found != entry.md5:
        raise ValueError(f"{path} has md5 {found}, expected {entry.md5} (the file at {entry.url})")
    return path, f"{data.OFFLINE_COPY}, md5 verified against the authors' file"


def load_released(model: str) -> tuple[np.ndarray, str]:
    """P4's released Betti numbers of ``model`` (a name in :data:`RELEASED`):
    ``(10, 200, L, 3)`` int64, and one line saying which copy was read."""
    entries = {entry.model: entry for entry in RELEASED}
    if model not in entries:
        raise ValueError(f"unknown released model {model!r}; valid choices: {', '.join(entries)}")
    path, copy = _released_file(entries[model])
    array = np.load(path)
    if array.ndim != 4 or array.shape[:2] != (10, 200) or array.shape[3] != 3:
        raise ValueError(f"{path} holds shape {array.shape}: expected (10, 200, L, 3)")
    return array, copy


def identical_adjacent_layers(array: np.ndarray) -> list[int]:
    """Indices ``i`` of the layers whose Betti numbers equal those of layer ``i + 1`` for every
    class, image and dimension, in a ``(n_classes, n_images, L, 3)`` array."""
    values = np.asarray(array)
    if values.ndim != 4 or values.shape[-1] != 3:
        raise ValueError(f"array has shape {values.shape}: expected (n_classes, n_images, L, 3)")
    same = np.all(values[:, :, :-1] == values[:, :, 1:], axis=(0, 1, 3))
    return np.flatnonzero(same).tolist()
