"""Dataset registry: ``load(name, split)`` returns images, labels and (where they exist) masks.

Names: ``transients`` (embedded simulator, :mod:`helpers.transients`), ``digits``
(scikit-learn), ``mnist``, ``cifar10`` and ``dermamnist`` (downloaded on first use with an md5
check, or read from the offline folder named by ``$TOPOCNN_DATA``; see ``data/README.md``).
Every loader returns a :class:`Dataset` whose images are (N, C, H, W) float32 in [0, 1].
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from helpers import transients
from helpers.paths import DATA_ENV, data_dir, download_dir, offline_data_dir

FIXED_SPLIT_SEED = 0
FIXED_TEST_FRACTION = 0.2
LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601
TRANSIENT_SIZES = {"train": 8000, "test": 2000}
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
# How a source line names a copy read from $TOPOCNN_DATA: the kind of copy, never the machine's path.
OFFLINE_COPY = f"offline copy in {DATA_ENV}"

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_FILES = {  # file name -> md5 of the official gzip file
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_PREFIX = {"train": "train", "test": "t10k"}

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_JPEG_ARCHIVE = "cifar10-jpeg.tar.gz"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
CIFAR10_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}

# URL and md5 as in medmnist's INFO["dermamnist"] (28 x 28 version, MedMNIST v2/v3).
DERMAMNIST_URL = "https://zenodo.org/records/10519652/files/dermamnist.npz?download=1"
DERMAMNIST_MD5 = "0744692d530f8e62ec473284d019b0c7"
DERMAMNIST_COUNTS = {"train": 7007, "val": 1003, "test": 2005}
DERMAMNIST_CLASSES = ("actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma",
                      "benign keratosis-like lesions", "dermatofibroma", "melanoma",
                      "melanocytic nevi", "vascular lesions")


@dataclass(frozen=True)
class Dataset:
    """One split of a data set.

    ``images`` (N, C, H, W) float32 in [0, 1]; ``labels`` (N,) int64 indexing ``class_names``;
    ``masks`` (N, H, W) bool exact object masks or ``None``; ``source`` one quotable line on
    which copy and which split rule; ``kinds`` (N,) str generating kind (simulated sets only).
    """

    name: str
    split: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    masks: np.ndarray | None
    source: str
    kinds: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Loader:
    """A registry entry: the splits and options (with defaults) of one data set and the
    function ``read(split, n, seed, **options) -> Dataset`` that loads it."""

    name: str
    read: Callable[..., Dataset]
    splits: tuple[str, ...] = ("train", "test")
    options: Mapping[str, object] = field(default_factory=dict)

    def __call__(self, split: str = "train", *, n: int | None = None, seed: int = 0,
                 **options: object) -> Dataset:
        """Check ``split``, ``n`` and ``options`` against this entry, then load."""
        _check_choice("split", split, self.splits, f" of data set {self.name!r}")
        for key in options:
            _check_choice("option", key, tuple(self.options), f" of data set {self.name!r}")
        if n is not None and (int(n) != n or n < 1):
            raise ValueError(f"n must be a positive integer or None, got {n!r}")
        return self.read(split, n, seed, **{**self.options, **options})


def _check_choice(what: str, value: object, choices: tuple[str, ...], where: str = "") -> None:
    """Raise ``ValueError`` naming ``value`` and the valid ``choices`` unless it is one."""
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices) or "none"
        raise ValueError(f"unknown {what} {value!r}{where}; valid choices: {valid}")


def load(name: str, split: str = "train", *, n: int | None = None, seed: int = 0,
         **options: object) -> Dataset:
    """Load split ``split`` of data set ``name`` (one of ``DATASETS``).

    ``n``: a deterministic stratified subsample of that size drawn with ``seed`` (for
    ``transients``: the number of cutouts simulated). Options depend on the data set:
    ``transients`` takes ``real_fraction``, ``size`` and ``scaling``; ``cifar10`` and ``dermamnist`` take
    ``grayscale``.
    """
    _check_choice("data set", name, tuple(DATASETS))
    return DATASETS[name](split, n=n, seed=seed, **options)


# ----------------------------------------------------------------------------- image helpers

def to_grayscale(images: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) RGB -> (N, 1, H, W) ITU-R BT.601 luma; (N, 1, H, W) is returned as is."""
    if images.shape[1] == 1:
        return images
    if images.shape[1] != 3:
        raise ValueError(f"to_grayscale expects 1 or 3 channels, got shape {images.shape}")
    weights = np.asarray(LUMA_WEIGHTS, dtype=np.float32)[None, :, None, None]
    return (images * weights).sum(axis=1, keepdims=True, dtype=np.float32)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """(N, C, H, W) float -> (N, C, size, size) float32, bilinear with antialiasing."""
    tensor = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    resized = torch.nn.functional.interpolate(tensor, size=(size, size), mode="bilinear",
                                              align_corners=False, antialias=True)
    return resized.clamp_(0.0, 1.0).numpy()


def _to_float_images(pixels: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, C) -> float32 (N, C, H, W) in [0, 1]."""
    if pixels.ndim == 3:
        pixels = pixels[..., None]
    channels_first = pixels.transpose(0, 3, 1, 2)
    images = np.empty(channels_first.shape, dtype=np.float32)
    return np.multiply(channels_first, np.float32(1.0 / 255.0), out=images)


# ----------------------------------------------------------------------------- splitting

def stratified_indices(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of a stratified random subsample of size ``n`` (largest-remainder
    allocation per class), deterministic in ``seed``."""
    if n > len(labels):
        raise ValueError(f"n={n} exceeds the {len(labels)} images available in this split")
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n / len(labels)
    take = np.floor(quota).astype(int)
    take[np.argsort(take - quota, kind="stable")[: n - take.sum()]] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
              for c, k in zip(classes, take)]
    return np.sort(np.concatenate(chosen))


def fixed_split_indices(labels: np.ndarray, split: str) -> np.ndarray:
    """Sorted indices of the ``split`` part of a stratified 80/20 train/test split, seed 0."""
    train, test = train_test_split(np.arange(len(labels)), test_size=FIXED_TEST_FRACTION,
                                   stratify=labels, random_state=FIXED_SPLIT_SEED)
    return np.sort(train if split == "train" else test)


def _subsample(dataset: Dataset, n: int | None, seed: int) -> Dataset:
    """``dataset`` itself when ``n`` is None, else its stratified subsample of size ``n``."""
    if n is None:
        return dataset
    keep = stratified_indices(dataset.labels, n, seed)
    return replace(dataset, images=dataset.images[keep], labels=dataset.labels[keep],
                   masks=None if dataset.masks is None else dataset.masks[keep],
                   kinds=None if dataset.kinds is None else dataset.kinds[keep],
                   source=dataset.source + _subsample_note(n, seed))


# ----------------------------------------------------------------------------- files

def md5sum(path: Path) -> str:
    """Hex md5 digest of a file, read in 1 MiB blocks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, destination: Path, md5: str) -> Path:
    """Fetch ``url`` to ``destination`` with a progress bar; verify ``md5``; write atomically.

    Raises ``RuntimeError`` naming the URL when the download fails or the checksum differs.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=destination.name) as bar:
                while block := response.read(1 << 20):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise RuntimeError(
            f"could not download {url}: {error}. On a machine without internet access, set "
            f"{DATA_ENV} to a folder holding the offline copies, laid out as described in "
            f"data/README.md") from error
    found = md5sum(partial)
    if found != md5:
        partial.unlink()
        raise RuntimeError(f"{url} arrived with md5 {found}, expected {md5}; the download is "
                           f"corrupt or the file changed upstream, try again")
    os.replace(partial, destination)
    return destination


def _fetched(url: str, destination: Path, md5: str) -> Path:
    """``destination``, downloading it first when absent (files only land there verified)."""
    return destination if destination.exists() else download(url, destination, md5)


def _offline_file(candidates: list[str], what: str, how: str) -> Path:
    """The first of ``candidates`` (paths relative to ``$TOPOCNN_DATA``) that exists.

    Raises ``FileNotFoundError`` naming every path looked for and ``how`` to get the file.
    """
    paths = [offline_data_dir() / c for c in candidates]
    for path in paths:
        if path.exists():
            return path
    raise _not_found(what, paths, how)


def _not_found(what: str, paths: list[Path], how: str) -> FileNotFoundError:
    """The error for a data set missing from ``$TOPOCNN_DATA``: what, where looked, how to fix."""
    looked = ", ".join(str(p) for p in paths)
    return FileNotFoundError(f"{what} not found in {DATA_ENV}={offline_data_dir()}: looked for "
                             f"{looked}. {how} (layout in data/README.md), or unset {DATA_ENV} "
                             f"to download it")


def _prepared_path(stem: str, archive: Path) -> Path:
    """Cache file ``data/prepared/<stem>-<key>.npz``, keyed by the archive's path, size, mtime."""
    stat = archive.stat()
    key = hashlib.sha1(f"{archive.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return data_dir() / "prepared" / f"{stem}-{key.hexdigest()[:10]}.npz"


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write ``arrays`` to ``path`` atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part.npz")
    np.savez(partial, **arrays)
    os.replace(partial, path)


# ----------------------------------------------------------------------------- transients

def _load_transients(split: str, n: int | None, seed: int, *, real_fraction: float,
                     size: int, scaling: str) -> Dataset:
    """Simulated cutouts; the random stream is derived from ``(seed, split)``."""
    count = TRANSIENT_SIZES[split] if n is None else n
    cutouts = transients.simulate(count, seed=(seed, SPLIT_CODES[split]),
                                  real_fraction=real_fraction, size=size, scaling=scaling)
    source = (f"simulated transient-vs-bogus cutouts (helpers.transients), {count:,} images of "
              f"{size}x{size} px, real fraction {real_fraction}, {scaling.replace('_', '-')} scaling, random stream "
              f"(seed={seed}, split={split!r})")
    return Dataset("transients", split, cutouts.images[:, None], cutouts.labels, ("bogus", "real"),
                   cutouts.masks, source, cutouts.kinds)


# ----------------------------------------------------------------------------- digits

def _load_digits(split: str, n: int | None, seed: int) -> Dataset:
    """scikit-learn's 8x8 digits (values 0..16 scaled to [0, 1]), fixed stratified 80/20 split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    keep = fixed_split_indices(bunch.target, split)
    images = (bunch.images[keep, None] / 16.0).astype(np.float32)
    source = (f"scikit-learn load_digits (1,797 images of 8x8 px), split stratified 80/20 with "
              f"seed {FIXED_SPLIT_SEED}: this is the {split} part ({len(keep):,})")
    dataset = Dataset("digits", split, images, bunch.target[keep].astype(np.int64),
                      tuple(str(d) for d in range(10)), None, source)
    return _subsample(dataset, n, seed)


# ----------------------------------------------------------------------------- MNIST

def read_idx(path: Path) -> np.ndarray:
    """Array stored in an idx file (optionally gzipped): unsigned bytes, big-endian dims."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an idx file of unsigned bytes (magic {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != np.prod(shape):
        raise ValueError(f"{path}: header announces shape {shape}, data has {data.size} bytes")
    return data.reshape(shape)


def _mnist_part(folder: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) of ``<prefix>-*-idx?-ubyte.gz`` in ``folder``."""
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    if len(images) != len(labels):
        raise ValueError(f"{folder}: {len(images)} {prefix} images but {len(labels)} labels")
    return images, labels


def _mnist_folder() -> tuple[Path, str]:
    """Folder holding the MNIST idx files and a phrase saying which copy it is.

    Offline copies are not md5-checked: re-gzipping changes the digest, not the content.
    """
    if offline_data_dir() is None:
        folder = download_dir() / "mnist"
        for name, md5 in MNIST_FILES.items():
            _fetched(MNIST_URL + name, folder / name, md5)
        return folder, f"downloaded from {MNIST_URL} (md5 verified)"
    folder = offline_data_dir() / "mnist"
    needed = [folder / name for name in MNIST_FILES if name.startswith("t10k")]
    if not all(path.exists() for path in needed):
        raise _not_found("MNIST", needed, f"Copy the idx .gz files of {MNIST_URL} there "
                         f"(the two train-* files too for the official split)")
    return folder, f"from the {OFFLINE_COPY}"


_NOTICES_GIVEN: set[str] = set()


def _notify_once(message: str) -> None:
    """Print ``message`` the first time it comes up in this process."""
    if message not in _NOTICES_GIVEN:
        _NOTICES_GIVEN.add(message)
        print(message)


def _load_mnist(split: str, n: int | None, seed: int) -> Dataset:
    """MNIST: the official split, or the official test set split 80/20 when only it is there."""
    folder, copy = _mnist_folder()
    if all((folder / name).exists() for name in MNIST_FILES):
        images, labels = _mnist_part(folder, MNIST_PREFIX[split])
        source = f"MNIST official {split} set {copy} ({len(labels):,} images)"
    else:
        all_images, all_labels = _mnist_part(folder, "t10k")
        keep = fixed_split_indices(all_labels, split)
        images, labels = all_images[keep], all_labels[keep]
        source = (f"MNIST official test set {copy} ({len(all_labels):,} images), split "
                  f"stratified 80/20 with seed {FIXED_SPLIT_SEED}: this is the {split} part "
                  f"({len(keep):,})")
        _notify_once(f"mnist: only the official test set is in the {OFFLINE_COPY}; using it split stratified "
                     f"80/20 (seed {FIXED_SPLIT_SEED}) into train and test")
    dataset = Dataset("mnist", split, _to_float_images(images), labels,
                      tuple(str(d) for d in range(10)), None, source)
    return _subsample(dataset, n, seed)


# ----------------------------------------------------------------------------- CIFAR-10

def _jpeg_members(archive: Path, split: str) -> tuple[list[bytes], np.ndarray]:
    """Raw JPEG bytes and labels (N,) of ``<split>/<class>/*.jpg`` in an ImageFolder tar.gz,
    in the order (class, file name)."""
    found: list[tuple[int, str, bytes]] = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = Path(member.name).parts
            if member.isfile() and len(parts) >= 3 and parts[-3] == split \
                    and parts[-2] in CIFAR10_CLASSES and parts[-1].endswith(".jpg"):
                label = CIFAR10_CLASSES.index(parts[-2])
                found.append((label, parts[-1], tar.extractfile(member).read()))
    if not found:
        raise ValueError(f"{archive} holds no {split}/<class>/*.jpg files of the CIFAR-10 classes")
    found.sort(key=lambda item: item[:2])
    return [item[2] for item in found], np.array([item[0] for item in found], dtype=np.int64)


def _decode_jpegs(blobs: list[bytes]) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB pixels of JPEG byte strings, with a progress bar."""
    return np.stack([np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"))
                     for blob in tqdm(blobs, desc="decoding CIFAR-10 JPEGs", unit="img",
                                      disable=len(blobs) < 2000)])


def _cifar10_jpeg(archive: Path, split: str, n: int | None, seed: int
                  ) -> tuple[np.ndarray, np.ndarray, str]:
    """Pixels (N, 32, 32, 3) uint8, labels and a subsample note from the JPEG archive.

    The whole split is decoded once and cached under ``data/prepared``; a subsample (``n``)
    asked for before the cache exists decodes only the chosen images.
    """
    cache = _prepared_path(f"cifar10-jpeg-{split}", archive)
    if cache.exists():
        with np.load(cache) as stored:
            pixels, labels = stored["pixels"], stored["labels"]
    else:
        blobs, labels = _jpeg_members(archive, split)
        if n is not None:
            keep = stratified_indices(labels, n, seed)
            return _decode_jpegs([blobs[i] for i in keep]), labels[keep], _subsample_note(n, seed)
        pixels = _decode_jpegs(blobs)
        _save_npz(cache, pixels=pixels, labels=labels)
    if n is None:
        return pixels, labels, ""
    keep = stratified_indices(labels, n, seed)
    return pixels[keep], labels[keep], _subsample_note(n, seed)


def _subsample_note(n: int, seed: int) -> str:
    """The phrase ``_subsample`` appends to a source line."""
    return f"; stratified subsample of {n:,} with seed {seed}"


def _cifar10_pickles(archive: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (N, 32, 32, 3) uint8 and labels (N,) of the python-pickle CIFAR-10 archive,
    cached under ``data/prepared``."""
    cache = _prepared_path(f"cifar10-python-{split}", archive)
    if not cache.exists():
        with tarfile.open(archive, "r:gz") as tar:
            batches = [pickle.load(tar.extractfile(f"cifar-10-batches-py/{name}"),
                                   encoding="latin1") for name in CIFAR10_BATCHES[split]]
        pixels = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32)
        labels = np.concatenate([b["labels"] for b in batches]).astype(np.int64)
        _save_npz(cache, pixels=pixels.transpose(0, 2, 3, 1), labels=labels)
    with np.load(cache) as stored:
        return stored["pixels"], stored["labels"]


def _load_cifar10(split: str, n: int | None, seed: int, *, grayscale: bool) -> Dataset:
    """CIFAR-10 from the offline JPEG archive or the official python archive."""
    if offline_data_dir() is None:
        archive = _fetched(CIFAR10_URL, download_dir() / "cifar-10-python.tar.gz", CIFAR10_MD5)
        pixels, labels = _cifar10_pickles(archive, split)
        copy = f"CIFAR-10 official {split} set downloaded from {CIFAR10_URL} (md5 verified)"
        dataset = Dataset("cifar10", split, _to_float_images(pixels), labels, CIFAR10_CLASSES,
                          None, f"{copy} ({len(labels):,} images)")
        dataset = _subsample(dataset, n, seed)
    else:
        archive = _offline_file([CIFAR10_JPEG_ARCHIVE], "CIFAR-10",
                                "Put the ImageFolder JPEG archive there")
        pixels, labels, note = _cifar10_jpeg(archive, split, n, seed)
        source = (f"CIFAR-10 {split} set from the {OFFLINE_COPY}, {archive.name} (ImageFolder layout of JPEGs, "
                  f"lossy re-encoding of the official images){note}")
        dataset = Dataset("cifar10", split, _to_float_images(pixels), labels, CIFAR10_CLASSES,
                          None, source)
    return _grayscale_if(dataset, grayscale)


def _grayscale_if(dataset: Dataset, grayscale: bool) -> Dataset:
    """``dataset`` with its images turned to ITU-R 601 luma when ``grayscale`` is true."""
    if not grayscale:
        return dataset
    return replace(dataset, images=to_grayscale(dataset.images),
                   source=f"{dataset.source}; converted to ITU-R 601 luma")


# ----------------------------------------------------------------------------- DermaMNIST

def _dermamnist_file() -> tuple[Path, str]:
    """Path of ``dermamnist.npz`` and a phrase saying which copy it is."""
    if offline_data_dir() is None:
        path = _fetched(DERMAMNIST_URL, download_dir() / "dermamnist.npz", DERMAMNIST_MD5)
        return path, f"downloaded from {DERMAMNIST_URL} (md5 verified)"
    path = _offline_file(["dermamnist.npz", "dermamnist/dermamnist.npz"], "DermaMNIST",
                         f"Download it from {DERMAMNIST_URL}")
    return path, f"from the {OFFLINE_COPY}"


def _load_dermamnist(split: str, n: int | None, seed: int, *, grayscale: bool) -> Dataset:
    """DermaMNIST (MedMNIST v2, HAM10000 at 28x28 RGB, 7 classes), official split."""
    path, copy = _dermamnist_file()
    with np.load(path) as stored:
        pixels, labels = stored[f"{split}_images"], stored[f"{split}_labels"].reshape(-1)
    # Offline copies are not md5-checked (they may be re-saved); their shapes are checked instead.
    if pixels.shape != (DERMAMNIST_COUNTS[split], 28, 28, 3) or len(labels) != len(pixels):
        raise ValueError(f"{path}: {split} images have shape {pixels.shape}, expected "
                         f"({DERMAMNIST_COUNTS[split]}, 28, 28, 3); is it the 28x28 DermaMNIST?")
    source = (f"DermaMNIST (MedMNIST v2, HAM10000 at 28x28) official {split} split {copy} "
              f"({len(labels):,} images)")
    dataset = Dataset("dermamnist", split, _to_float_images(pixels), labels.astype(np.int64),
                      DERMAMNIST_CLASSES, None, source)
    return _grayscale_if(_subsample(dataset, n, seed), grayscale)


DATASETS: dict[str, Loader] = {
    "transients": Loader("transients", _load_transients,
                         options={"real_fraction": 0.1, "size": 38, "scaling": "per_image"}),
    "digits": Loader("digits", _load_digits),
    "mnist": Loader("mnist", _load_mnist),
    "cifar10": Loader("cifar10", _load_cifar10, options={"grayscale": False}),
    "dermamnist": Loader("dermamnist", _load_dermamnist, splits=("train", "val", "test"),
                         options={"grayscale": False}),
}


# ----------------------------------------------------------------------------- natural patches

# Lee, Pedersen & Mumford's high-contrast 3x3 patches of van Hateren's images, as published with
# javaplex (BSD-style licence): 50,000 points of S^7 in the DCT coordinates of Carlsson et al.
NATURAL_PATCHES_URL = ("https://raw.githubusercontent.com/appliedtopology/javaplex/"
                       "23607cb6fb6f7f2b1922d37176b3cabdb132cbd8/data/natural_images/n50000Dct.mat")
NATURAL_PATCHES_MD5 = "eede83d3a052c46a0ecd32b60df9d62f"
NATURAL_PATCHES_FILE = "n50000Dct.mat"


def load_natural_patches(n: int | None = None, seed: int = 0) -> tuple[np.ndarray, str]:
    """The 50,000 natural-image patches: ``(points, source)``, ``points`` (N, 8) float64 unit
    vectors (DCT coordinates), ``source`` one line on the copy used. ``n``: a uniform random
    subsample of that size drawn with ``seed``."""
    from scipy.io import loadmat

    if offline_data_dir() is None:
        path = _fetched(NATURAL_PATCHES_URL, download_dir() / "natural-patches" / NATURAL_PATCHES_FILE,
                        NATURAL_PATCHES_MD5)
        copy = f"downloaded from {NATURAL_PATCHES_URL} (md5 verified)"
    else:
        path = _offline_file([f"natural-patches/{NATURAL_PATCHES_FILE}", NATURAL_PATCHES_FILE],
                             "the natural-image patches", f"Download {NATURAL_PATCHES_URL} into natural-patches/")
        copy = f"from the {OFFLINE_COPY}"
    points = np.asarray(loadmat(path)[Path(NATURAL_PATCHES_FILE).stem], dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 8:
        raise ValueError(f"{path}: expected an (N, 8) array of DCT coordinates, got shape {points.shape}")
    source = f"{len(points):,} high-contrast 3x3 patches of van Hateren's images (Lee, Pedersen & Mumford) {copy}"
    if n is not None:
        if int(n) != n or not 1 <= n <= len(points):
            raise ValueError(f"n={n!r}: expected an integer between 1 and {len(points)}")
        keep = np.sort(np.random.default_rng(seed).choice(len(points), size=int(n), replace=False))
        points = points[keep]
        source += f"; uniform random subsample of {int(n):,} with seed {seed}"
    return points, source
