import json
import re

import nbformat
import pytest

from helpers import book
from helpers.claims import Claim

PARAMETERS_CELL = """profile = "full"   # cache namespace
n = 1000
n_train = 1000     # training images
n_test: "Optional[int]" = 500  # None: every test image
rate = 0.1
seeds = [0, 1]
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "notebooks").mkdir()
    for name in ("01_alpha", "02_beta"):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PARAMETERS_CELL, metadata={
            "tags": ["parameters"]}), nbformat.v4.new_code_cell("print(n_train)")], metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
        nbformat.write(notebook, tmp_path / "notebooks" / f"{name}.ipynb")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "smoke.yaml").write_text("01_alpha:\n  n: 3\n")
    return tmp_path


@pytest.fixture
def executed(project, monkeypatch):
    """The chapters papermill was asked to execute (nothing is executed)."""
    monkeypatch.setenv("TOPOCNN_ROOT", str(project))
    calls = []
    monkeypatch.setattr(book.papermill, "execute_notebook", lambda source, *args, **kwargs: calls.append(source))
    return calls


def test_a_misspelt_parameter_is_refused_before_any_chapter_runs(project, executed):
    (project / "params" / "smoke.yaml").write_text("01_alpha:\n  n_train: 300\n02_beta:\n  n_trian: 300\n")
    with pytest.raises(ValueError, match=r"params/smoke.yaml sets 'n_trian', which 02_beta has no parameter for "
                                         r"\(did you mean 'n_train'\?\); its parameters: n, n_test, n_train, profile"):
        book.run("smoke")
    assert executed == [] and not book.run_folder("smoke", project).exists()


@pytest.mark.parametrize("value, accepted", [(300, True), (None, False), ("300", False), (300.0, False),
                                             (True, False), ([300], False)])
def test_a_value_must_have_the_type_of_the_default(project, value, accepted):
    notebook = project / "notebooks" / "01_alpha.ipynb"
    if accepted:
        book.check_parameters(notebook, {"n_train": value}, "params/smoke.yaml")
    else:
        with pytest.raises(TypeError, match=rf"sets n_train={re.escape(repr(value))} .* whose parameter n_train is int \(default 1000\)"):
            book.check_parameters(notebook, {"n_train": value}, "params/smoke.yaml")


def test_annotations_and_floats_widen_what_a_parameter_accepts(project):
    notebook = project / "notebooks" / "01_alpha.ipynb"
    book.check_parameters(notebook, {"n_test": None, "rate": 1, "seeds": [3]}, "params/smoke.yaml")
    with pytest.raises(TypeError, match="n_test is int or NoneType"):
        book.check_parameters(notebook, {"n_test": "all"}, "params/smoke.yaml")


def test_command_line_overrides_are_checked_and_applied(project, executed):
    with pytest.raises(ValueError, match="--set sets 'n_trian', which 01_alpha"):
        book.main(["run", "--profile", "smoke", "--chapters", "01", "--set", "n_trian=3"])
    with pytest.raises(TypeError, match="--set sets seeds=3"):
        book.main(["run", "--profile", "smoke", "--set", "seeds=3"])
    with pytest.raises(ValueError, match="expected NAME=VALUE"):
        book.parse_overrides(["n_train"])
    with pytest.raises(ValueError, match="chosen with --profile"):
        book.main(["run", "--profile", "smoke", "--set", "profile=full"])
    assert executed == []
    notebook = project / "notebooks" / "01_alpha.ipynb"
    assert book.checked_parameters(notebook, "smoke", book.parse_overrides(["n_train=50", "seeds=[4]"]), project) == \
        {"n": 3, "n_train": 50, "seeds": [4], "profile": "smoke"}


def test_chapters_are_selected_by_number_or_name(project):
    assert [p.stem for p in book.select_chapters("all", project)] == ["01_alpha", "02_beta"]
    assert [p.stem for p in book.select_chapters("02", project)] == ["02_beta"]
    assert [p.stem for p in book.select_chapters("01_alpha,02", project)] == ["01_alpha", "02_beta"]
    with pytest.raises(ValueError, match="'07'.*01_alpha"):
        book.select_chapters("07", project)


def test_profile_parameters_always_carry_the_profile(project):
    assert book.profile_parameters("smoke", "01_alpha", project) == {"n": 3, "profile": "smoke"}
    assert book.profile_parameters("smoke", "02_beta", project) == {"profile": "smoke"}
    with pytest.raises(ValueError, match="'huge'"):
        book.profile_parameters("huge", "01_alpha", project)
    with pytest.raises(FileNotFoundError, match="full.yaml"):
        book.profile_parameters("full", "01_alpha", project)


def test_scorecard_counts_verdicts_and_escapes_cells():
    claims = [Claim("01", "a | b", "1", "2", "reproduced", effect="+0.20 [+0.10, +0.30]", n=5),
              Claim("01", "c", "1", "0", "inconclusive", effect="+0.05 [-0.10, +0.20]", smallest_effect="+0.10",
                    detectable="0.25", n=4, control="untrained: +0.04", rule="interval; claimed sign +"),
              Claim("02", "d", "1", "0", "inconclusive", untestable="the branch is inert")]
    text = book.scorecard_markdown(claims, "smoke")
    assert "3 claims, 2 inconclusive, 1 reproduced" in text
    assert "| d | **inconclusive** (not testable here) |" in text and "not testable here: the branch is inert" in text
    assert "a \\| b" in text
    assert "| c | **inconclusive** | +0.05 [-0.10, +0.20] | +0.10 | 0.25 | 4 | untrained: +0.04 |" in text
    assert "| c | 1 | 0 | interval; claimed sign + |" in text
    assert "*Worked example* (chapter 1, \"c\")" in text and "effects of 0.25 and more" in text


def test_staging_refuses_a_chapter_that_was_not_run(project):
    folder = book.run_folder("smoke", project)
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"chapters": {}}))
    for name in book.STAGED:
        (project / name).mkdir() if name == "book" else (project / name).write_text("")
    with pytest.raises(FileNotFoundError, match="01_alpha has not been run"):
        book.stage("smoke", project)


def test_staging_without_a_run_says_what_to_do(project):
    with pytest.raises(FileNotFoundError, match="helpers.book run --profile smoke"):
        book.stage("smoke", project)


def test_reproducibility_page_says_how_many_artifacts_each_chapter_added():
    environment = {"python": "3.11", "platform": "linux", "processor": "cpu", "cpu_cores": 2, "memory_gib": 24,
                   "gpu": "none", "torch_threads": 2, "data_variable": "unset", "commit": "abc", "packages": {}}
    chapters = {"01_alpha": {"seconds": 61.0, "peak_memory_gib": 1.0, "new_artifacts": 12, "finished": "t"},
                "02_beta": {"seconds": 5.0, "peak_memory_gib": 0.5, "finished": "t"}}
    text = book.reproducibility_markdown({"profile": "full", "environment": environment, "chapters": chapters})
    assert "| 01_alpha | 61 | 1.00 | 12 | t |" in text
    assert "| 02_beta | 5 | 0.50 | not recorded | t |" in text
    assert "1.1 minutes" in text


def test_the_run_records_the_rips_backend_and_the_reproducibility_page_shows_it():
    from helpers.topology import rips_backend

    environment = book.environment_record()
    assert environment["rips_backend"] == rips_backend()
    text = book.reproducibility_markdown({"profile": "smoke", "environment": environment, "chapters": {}})
    assert f"| Rips backend | {rips_backend()} |" in text
