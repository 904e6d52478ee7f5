import json

import pytest

from helpers import book
from helpers.claims import Claim


@pytest.fixture
def project(tmp_path):
    (tmp_path / "notebooks").mkdir()
    for name in ("01_alpha", "02_beta"):
        (tmp_path / "notebooks" / f"{name}.ipynb").write_text("{}")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "smoke.yaml").write_text("01_alpha:\n  n: 3\n")
    return tmp_path


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
