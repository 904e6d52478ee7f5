"""The repository's own promises: consistent environments, clean notebooks, complete profiles."""

import ast
import re
import tomllib
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from helpers.book import chapters, checked_parameters, profile_parameters
from helpers.cache import PROFILES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = chapters(ROOT)


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def lock() -> dict[str, Version]:
    """constraints.txt: ``{canonical name: pinned version}``."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, separator, version = line.partition("==")
            assert separator and version.strip(), f"constraints.txt: {line!r} is not an exact pin name==version"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def book_extras() -> str:
    """The extras the Makefile installs (``EXTRAS := ...``)."""
    return re.search(r"^EXTRAS := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)


def test_every_requirement_of_the_book_environment_is_pinned_in_the_lock_within_its_range():
    extras = project()["optional-dependencies"]
    requirements = [Requirement(r) for r in project()["dependencies"]]
    requirements += [Requirement(r) for extra in book_extras().split(",") for r in extras[extra]]
    pins = lock()
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), \
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject.toml's range {requirement}"


def installed_version(name: str) -> Version | None:
    try:
        return Version(metadata.version(name))
    except metadata.PackageNotFoundError:
        return None


def test_this_environment_is_the_locked_one():
    installed = {name: installed_version(name) for name in lock()}
    differing = {name: (str(pin), str(installed[name] or "not installed")) for name, pin in lock().items()
                 if installed[name] is None or installed[name].public != pin.public}
    assert not differing, f"installed versions differ from constraints.txt (pin, installed): {differing}; rerun make"


def test_make_and_environment_yml_install_the_library_with_the_lock_and_the_same_extras():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^\$\(STAMP\): .*constraints\.txt", makefile, re.M), "the install must rerun when the lock changes"
    installs = [line for line in makefile.splitlines() if "pip install" in line]
    assert installs and all("-c constraints.txt" in line for line in installs), installs
    assert '-e ".[$(EXTRAS)]"' in makefile
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert pip_section == ["-c constraints.txt", f"-e .[{book_extras()}]"]
    assert "- python=3.11" in (ROOT / "environment.yml").read_text()


def test_the_book_toolchain_and_the_test_tools_are_extras_not_library_dependencies():
    def names(requirements: list[str]) -> set[str]:
        return {canonicalize_name(Requirement(r).name) for r in requirements}

    library = names(project()["dependencies"])
    extras = project()["optional-dependencies"]
    for extra, tools in (("book", ("jupyter-book", "sphinx", "papermill", "sphinx-book-theme", "sphinxcontrib-bibtex")),
                         ("test", ("pytest", "nbval"))):
        for tool in tools:
            assert tool not in library and tool in names(extras[extra]), f"{tool} belongs in the {extra} extra"
    assert "giotto-ph" not in library, "giotto-ph is optional (AGPL-3.0, no wheels past CPython 3.12)"
    jupyter_book = next(Requirement(r) for r in extras["book"] if r.startswith("jupyter-book"))
    assert not jupyter_book.specifier.contains("2.0"), "Jupyter Book 2 ignores _config.yml"
    assert lock()["jupyter-book"].major == 1


def test_the_library_declares_ranges_not_pins():
    pinned = [r for r in project()["dependencies"] if "==" in r]
    assert not pinned, f"exact pins belong in constraints.txt, not in the library's dependencies: {pinned}"
    supported = SpecifierSet(project()["requires-python"])
    assert all(supported.contains(python) for python in ("3.11", "3.12", "3.13")), supported


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks/NN_*.ipynb found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stripped_and_parameterised(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), "strip the outputs"
    tagged = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell must be tagged 'parameters'"
    assert "google.colab" in code[0].source and "pip install" in code[0].source, \
        "the first cell installs the helpers on Colab"


def parameter_defaults(path: Path) -> dict[str, object]:
    """The names and literal values assigned in a notebook's parameters cell."""
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    assigned = {target.id: node.value for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)
                for target in node.targets}
    annotated = {node.target.id: node.value for node in ast.parse(cell.source).body if isinstance(node, ast.AnnAssign)}
    return {name: ast.literal_eval(value) for name, value in {**assigned, **annotated}.items()}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_profile_passes_the_runners_parameter_check(path, profile):
    checked_parameters(path, profile, root=ROOT)


def test_the_paper_profile_runs_every_chapter_on_the_best_device():
    table = yaml.safe_load((ROOT / "params" / "paper.yaml").read_text())
    assert set(table) == {path.stem for path in NOTEBOOKS}
    assert all(settings["device"] == "auto" for settings in table.values())


def test_profiles_only_name_existing_chapters():
    stems = {path.stem for path in NOTEBOOKS}
    for profile in PROFILES:
        table = yaml.safe_load((ROOT / "params" / f"{profile}.yaml").read_text()) or {}
        assert set(table) <= stems, f"{profile}.yaml names unknown chapters {set(table) - stems}"


def test_table_of_contents_lists_every_chapter():
    toc = (ROOT / "_toc.yml").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in toc


def test_ci_calls_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()


# Chapter 2 explains chapter 1's cached networks through the protocol chapter 1 records
# (helpers.fusion.Protocol.record), and chapter 5 draws Mapper graphs of chapter 4's through
# helpers.cifar_networks.Protocol.record: the later chapter must not repeat the settings that
# identify the networks, which could then drift apart.
CHAPTER_1_SETTINGS = ("seeds", "models", "main_dataset", "real_fraction", "cutout_scaling", "n_train", "n_test",
                      "n_bins", "max_steps", "min_steps", "batch_size", "eval_every", "patience", "init")
CHAPTER_4_SETTINGS = ("dataset", "n_train", "n_val", "n_test", "data_seed", "seeds", "architecture", "width",
                      "epochs", "batch_size", "learning_rate", "weight_decay", "label_smoothing", "augment_padding",
                      "patience", "channels_last")
CHAPTER_PAIRS = [("01_fusion_training", "02_gradcam_comparison", CHAPTER_1_SETTINGS),
                 ("04_layer_persistence_distances", "05_mapper_hierarchies", CHAPTER_4_SETTINGS)]


@pytest.mark.parametrize("producer, consumer, settings", CHAPTER_PAIRS, ids=[pair[1] for pair in CHAPTER_PAIRS])
@pytest.mark.parametrize("profile", PROFILES)
def test_a_chapter_reads_the_settings_of_the_networks_it_reuses_instead_of_repeating_them(profile, producer,
                                                                                          consumer, settings):
    first = parameter_defaults(ROOT / "notebooks" / f"{producer}.ipynb")
    second = {**parameter_defaults(ROOT / "notebooks" / f"{consumer}.ipynb"),
              **profile_parameters(profile, consumer, ROOT)}
    assert set(settings) <= set(first)
    assert not set(settings) & set(second)
