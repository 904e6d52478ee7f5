"""The repository's own promises: consistent environments, clean notebooks, complete profiles."""

import ast
import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from helpers.book import chapters, checked_parameters, profile_parameters
from helpers.cache import PROFILES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = chapters(ROOT)


def normalise(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).lower().replace("_", "-")


def test_environment_yml_installs_the_same_pinned_set_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {normalise(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    listed = {normalise(r) for r in pip_section if not r.startswith("-e")}
    assert listed == wanted, f"only in environment.yml: {listed - wanted}; only in pyproject: {wanted - listed}"
    assert "-e ." in pip_section


def test_book_toolchain_is_pinned_exactly_and_below_version_2():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = dict(normalise(d).split("==") for d in dependencies if "==" in d)
    assert pins["jupyter-book"].startswith("1.")
    for tool in ("sphinx", "myst-nb", "myst-parser", "sphinx-book-theme", "sphinxcontrib-bibtex"):
        assert tool in pins, f"{tool} is not pinned exactly"


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


# Chapter 2 explains chapter 1's cached networks: it finds them only if the settings that
# identify them (data and training) agree in every profile.
SHARED_WITH_CHAPTER_1 = ("seeds", "main_dataset", "real_fraction", "n_train", "n_test", "n_bins", "max_steps",
                         "batch_size", "eval_every", "patience")


# Chapter 5 draws Mapper graphs of chapter 4's cached ResNets: the settings that identify them
# (data and training) must agree in every profile.
SHARED_WITH_CHAPTER_4 = ("dataset", "n_train", "n_val", "n_test", "data_seed", "seeds", "width", "max_steps",
                         "batch_size", "learning_rate", "eval_every", "patience", "weight_decay")


# (producer, consumer, the parameters that identify the producer's cached networks)
CHAPTER_PAIRS = [("01_fusion_training", "02_gradcam_comparison", SHARED_WITH_CHAPTER_1),
                 ("04_layer_persistence_distances", "05_mapper_hierarchies", SHARED_WITH_CHAPTER_4)]


@pytest.mark.parametrize("producer, consumer, shared", CHAPTER_PAIRS, ids=[pair[1] for pair in CHAPTER_PAIRS])
@pytest.mark.parametrize("profile", PROFILES)
def test_a_chapter_asks_for_the_networks_an_earlier_chapter_trains(profile, producer, consumer, shared):
    def effective(stem):
        return {**parameter_defaults(ROOT / "notebooks" / f"{stem}.ipynb"), **profile_parameters(profile, stem, ROOT)}
    first, second = effective(producer), effective(consumer)
    for name in shared:
        assert first[name] == second[name], (f"{profile}: {name} is {first[name]!r} in {producer} "
                                             f"but {second[name]!r} in {consumer}")
