"""The library installs where readers run the chapters: Colab on Python 3.12 and 3.13, or a fresh
virtual environment without the book toolchain.

The resolution tests ask PyPI (pip ``--dry-run``, reading only the wheels' metadata); the
library-only environment installs from the package registries too, then runs one chapter at the
``smoke`` profile.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from helpers.book import prepare

ROOT = Path(__file__).resolve().parents[1]
COLAB = {python: ROOT / "tests" / "colab" / f"pip-freeze-{python}.txt" for python in ("3.12", "3.13")}
CHAPTER = "04_layer_persistence_distances"
"""The chapter the library-only environment runs: it trains networks on real data (CIFAR-10) and
computes Rips persistence (ripser.py there) and diagram distances."""
BOOK_ONLY_MODULES = ("papermill", "jupyter_book", "sphinx_book_theme", "sphinxcontrib.bibtex", "nbval", "gph")
"""What a library-only install must not bring: the runner, the book toolchain, the test tools and
the optional Rips accelerator."""


def library_requirements() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def colab_versions(python: str) -> dict[str, Version]:
    """``{canonical name: version}`` of the Colab runtime's packages on ``python``; a package
    installed from a wheel's URL (torch: the CPU build) gets the version in the file name."""
    versions = {}
    for line in COLAB[python].read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        if " @ " in line:
            name, url = line.split(" @ ")
            wheel = re.search(r"/[^/-]+-([^-/]+)-[^/]+\.whl$", url)
            if wheel:
                versions[canonicalize_name(name)] = Version(wheel.group(1).replace("%2B", "+"))
        else:
            name, version = line.split("==")
            versions[canonicalize_name(name)] = Version(version)
    return versions


@pytest.mark.parametrize("python", COLAB)
def test_colab_has_versions_inside_the_library_ranges(python):
    colab = colab_versions(python)
    outside = [f"{r} (Colab: {colab[canonicalize_name(r.name)]})" for r in map(Requirement, library_requirements())
               if canonicalize_name(r.name) in colab and not r.specifier.contains(colab[canonicalize_name(r.name)])]
    assert not outside, f"Colab on Python {python} would have to replace these (and restart): {outside}"


def metadata_only_wheel(folder: Path, name: str, version: Version) -> Path:
    """A wheel holding only the metadata of ``name`` ``version``, without requirements: stands
    in for a package the runtime already has, so that the resolver keeps it and does not look
    for the dependencies of another build (PyPI's torch is the CUDA build; Colab's is the CPU
    build)."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", "")
    return path


@pytest.mark.parametrize("python", COLAB)
def test_the_library_resolves_to_wheels_beside_the_colab_runtime(python, tmp_path):
    """pip resolves the library's dependencies for CPython ``python`` on manylinux x86_64 to
    binary wheels, with every package Colab already has kept at Colab's version (constraints),
    so that the Colab cell replaces nothing and needs no restart. torch is Colab's own build."""
    colab = colab_versions(python)
    constraints = tmp_path / "colab.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in colab.items()))
    metadata_only_wheel(tmp_path, "torch", colab["torch"])
    report = tmp_path / "report.json"
    tag = python.replace(".", "")
    platforms = [arg for p in ("manylinux_2_35_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64",
                               "manylinux2014_x86_64") for arg in ("--platform", p)]
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--use-feature=fast-deps",
               "--ignore-installed", "--target", str(tmp_path / "target"), "--report", str(report),
               "--only-binary=:all:", "--python-version", python, "--implementation", "cp", "--abi", f"cp{tag}",
               *platforms, "--find-links", str(tmp_path), "-c", str(constraints), *library_requirements()]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, f"no resolution for CPython {python}:\n{result.stderr[-3000:]}"
    installed = {canonicalize_name(item["metadata"]["name"]): item for item in json.loads(report.read_text())["install"]}
    assert {canonicalize_name(Requirement(r).name) for r in library_requirements()} <= set(installed)
    for name, item in installed.items():
        assert item["download_info"]["url"].endswith(".whl"), f"{name} would be built from source"
        if name in colab:
            assert Version(item["metadata"]["version"]) == colab[name], f"{name} would replace Colab's {colab[name]}"


def installed_torch_spec() -> str:
    """How to install torch in a fresh environment: ``$TORCH_SPEC`` (what make passes), else the
    version this environment has."""
    return os.environ.get("TORCH_SPEC") or f"torch=={Version(metadata.version('torch')).public}"


def test_the_library_alone_runs_a_chapter(tmp_path):
    """A fresh virtual environment gets torch and the library alone (as the Colab cell installs
    it, at the book's versions), then executes one chapter at the smoke profile in a Jupyter kernel
    of that environment, with a cache of its own."""
    source = tmp_path / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")

    def run(*args: str, **kwargs) -> None:
        result = subprocess.run(list(args), capture_output=True, text=True, **kwargs)
        assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"

    run(sys.executable, "-m", "venv", str(venv))
    constraints = ["-c", str(ROOT / "constraints.txt")]
    run(python, "-m", "pip", "install", "--quiet", *constraints, *installed_torch_spec().split())
    # the build backend (setuptools) is already there: torch requires it
    run(python, "-m", "pip", "install", "--quiet", "--no-build-isolation", *constraints, str(source))
    absent = f"import importlib.util as u; found = [m for m in {BOOK_ONLY_MODULES!r} if u.find_spec(m)]; assert not found, found"
    run(python, "-c", absent)
    run(python, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3")

    (notebook,) = prepare("smoke", tmp_path / "prepared", CHAPTER)
    execute = ("import sys, nbclient, nbformat; nb = nbformat.read(sys.argv[1], as_version=4); "
               "nbclient.NotebookClient(nb, kernel_name='python3', timeout=600, "
               "resources={'metadata': {'path': sys.argv[2]}}).execute(); nbformat.write(nb, sys.argv[1])")
    environment = {**os.environ, "JUPYTER_PATH": str(venv / "share" / "jupyter"), "TOPOCNN_ROOT": str(ROOT),
                   "TOPOCNN_CACHE": str(tmp_path / "cache"), "TOPOCNN_RUN_DIR": str(tmp_path / "run")}
    run(python, "-c", execute, str(notebook), str(ROOT / "notebooks"), env=environment, cwd=str(ROOT / "notebooks"))
    assert (tmp_path / "run" / "claims" / f"{CHAPTER}.json").exists(), "the chapter saved no claims"
    assert any((tmp_path / "cache").rglob("artifact.pt")), "the chapter trained nothing in its own cache"
