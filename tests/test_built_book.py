"""Checks of a built HTML book: `make test` runs them on the smoke book it has just built
(``pytest tests/test_built_book.py --built-book _build/html``); without the option they are skipped.

Published pages must not carry the paths of the machine that built them, every figure of a
chapter has a caption and is drawn for the book's column (so that its labels read at 100% zoom),
and the interactive Mapper graphs load nothing from another host (so that they draw offline).
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

from helpers import mapper, pages, plotting
from helpers.paths import cache_root, offline_data_dir, project_root

# A figure drawn BOOK_WIDTH wide at the style's DPI, plus what a legend or colour bar beside it adds.
MAX_FIGURE_PIXELS = round(1.25 * plotting.BOOK_WIDTH * plotting.DPI)


@pytest.fixture(scope="module")
def html_root(request) -> Path:
    folder = request.config.getoption("--built-book")
    if folder is None:
        pytest.skip("no --built-book folder given (make test passes the smoke book it builds)")
    if not (folder / "index.html").exists():
        pytest.fail(f"{folder} holds no built book (no index.html)")
    return folder.resolve()


def chapter_pages(html_root: Path) -> list[Path]:
    found = sorted((html_root / "notebooks").glob("[0-9][0-9]_*.html"))
    assert found, f"no chapter pages in {html_root / 'notebooks'}"
    return found


def machine_folders() -> set[str]:
    """Absolute paths of this machine that a page could leak: the repository, the Python
    environment, the offline data, the artifact cache, the home folder."""
    folders = {project_root(), Path(sys.prefix), cache_root(), Path.home()}
    if offline_data_dir() is not None:
        folders.add(offline_data_dir())
    return {str(path) for folder in folders for path in (folder, folder.resolve())}


def png_width(path: Path) -> int:
    """Width in pixels, from the PNG header."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">I", header[16:20])[0]


def test_no_page_names_a_folder_of_the_build_machine(html_root):
    leaks = {str(page.relative_to(html_root)): found for page in sorted(html_root.glob("**/*.html"))
             if "_static" not in page.parts
             and (found := pages.machine_paths(page.read_text(errors="replace"), machine_folders()))}
    assert not leaks, f"pages print paths of the build machine: {leaks}"


def test_every_figure_of_a_chapter_has_a_caption(html_root):
    missing = {page.name: found for page in chapter_pages(html_root)
               if (found := pages.uncaptioned_figures(page.read_text()))}
    assert not missing, f"figures without a caption (add mystnb.figure.caption to the cell): {missing}"


def test_every_figure_is_drawn_for_the_book_column(html_root):
    too_wide = {}
    for page in chapter_pages(html_root):
        for source in pages.figure_sources(page.read_text()):
            width = png_width(page.parent / source)
            if width > MAX_FIGURE_PIXELS:
                too_wide[f"{page.name}: {source}"] = width
    assert not too_wide, (f"figures wider than {MAX_FIGURE_PIXELS} px shrink their labels below reading size "
                          f"(draw them with helpers.plotting.panels): {too_wide}")


def test_interactive_mapper_graphs_load_nothing_from_another_host(html_root):
    graphs = {page.name: pages.embedded_pages(page.read_text()) for page in chapter_pages(html_root)}
    assert any(graphs.values()), "no chapter page embeds an interactive Mapper graph"
    remote = {f"{name} graph {index}": found for name, embedded in graphs.items()
              for index, graph in enumerate(embedded) if (found := pages.external_resources(graph))}
    assert not remote, f"interactive graphs load from other hosts (they stay blank offline): {remote}"
    missing = [name for name, embedded in graphs.items() for graph in embedded
               if "https://d3js.org v6.1.1" not in graph or "saveAs" not in graph]
    assert not missing, f"interactive graphs without their inlined d3 6.1.1 and FileSaver: {missing}"
