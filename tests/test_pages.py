"""The book's page conventions: which code cells fold (helpers.pages.fold_tag), held for every
chapter; the checks of a built book, on small pages; provenance without the machine's paths."""

from __future__ import annotations

import nbformat
import pytest

from helpers import book, pages
from helpers.pages import fold_tag, machine_paths, uncaptioned_figures


@pytest.mark.parametrize("source, tags, expected", [
    ('profile = "full"\nseed = 0', ["parameters"], None),
    ('profile = "smoke"', ["injected-parameters"], None),
    ('claims.add("x", "1", "2", "reproduced")\nclaims.table()', ["remove-cell"], None),
    ("data = fusion.prepare(main_dataset, n_train=n_train)\nprint(data.source)", [], None),
    ('table = scores.groupby("model").iou.mean()\ntable', [], None),
    ('claims.add("x", "1", "2", "reproduced")\nglue("n", 3, display=False)', [], "remove-input"),
    ('glue_number("tau", 0.5)', [], "remove-input"),
    ('claims.save()\nclaims.table()', [], "hide-input"),
    ('glue("n", n, display=False)\nsummary', [], "hide-input"),
    ("fig, axes = plotting.panels(2)\naxes[0].plot([1, 2])\nplt.show()", [], "hide-input"),
    ("plotting.image_grid(images, titles)", [], "hide-input"),
    ("rows = []\nfor x in range(3):\n    rows.append(x)\npd.DataFrame(rows)", [], "hide-input"),
    ("def key(name):\n    return name\nkeys = [key(n) for n in names]", [], "remove-input"),
    ("import numpy as np\nimport pandas as pd\ncache = ArtifactCache(profile)", [], "remove-input"),
    ("from helpers.models import count_parameters\ncounts.to_frame()", [], None),
    ("rows = [f(x) for x in xs]\nplotting.format_table(pd.DataFrame(rows), axis=1)", [], None),
    ("%pip install --quiet helpers\nimport sys", [], None),
])
def test_fold_rule(source, tags, expected):
    assert fold_tag(source, tags) == expected


@pytest.mark.parametrize("notebook", book.chapters(), ids=lambda path: path.stem)
def test_every_chapter_folds_its_cells_by_the_rule(notebook):
    """A code cell carries the fold tag of helpers.pages.fold_tag and no other, so the page shows
    the parameters, the key calls, the figures and the numbers, with the plumbing folded."""
    wrong = []
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        present = [tag for tag in tags if tag in pages.FOLD_TAGS]
        expected = fold_tag(cell.source, tags)
        if present != ([expected] if expected else []):
            wrong.append(f"cell {index} ({cell.source.splitlines()[0][:50]!r}): tags {present}, rule says {expected}")
    assert not wrong, "fold tags differ from helpers.pages.fold_tag:\n" + "\n".join(wrong)


CAPTIONED = ('<div class="cell_output docutils container"><figure class="align-default" id="fig-a">'
             '<img alt="_images/a.png" src="_images/a.png" /><figcaption><p><span class="caption-number">Fig. 1 '
             '</span><span class="caption-text">What to see.</span></p></figcaption></figure></div>')


def test_a_captioned_figure_passes():
    assert uncaptioned_figures(CAPTIONED) == []


def test_figures_without_caption_text_or_figure_are_reported():
    bare = '<div class="cell_output"><div class="output"><img src="_images/b.png"/></div></div>'
    numbered_only = CAPTIONED.replace("What to see.", "").replace("a.png", "c.png")
    outside_output = '<p><img src="_static/logo.png"/></p>'
    assert uncaptioned_figures(CAPTIONED + bare + numbered_only + outside_output) == ["_images/b.png", "_images/c.png"]


def test_figure_sources_are_the_images_of_cell_outputs():
    assert pages.figure_sources(CAPTIONED + '<p><img src="_static/logo.png"/></p>') == ["_images/a.png"]


def test_machine_paths_are_found_in_text():
    text = "MNIST official test set from an offline copy; read /home/me/data/mnist/t10k.gz"
    assert machine_paths(text, ["/home/me/data", "/opt/env", "", "/"]) == ["/home/me/data"]


def test_the_reproducibility_record_names_no_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("TOPOCNN_DATA", str(tmp_path))
    record = book.environment_record()
    assert record["data_variable"] == "set: offline copies"
    assert str(tmp_path) not in str(record)
