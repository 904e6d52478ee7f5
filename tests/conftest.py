"""Command-line options of the test suite."""

from pathlib import Path


def pytest_addoption(parser):
    parser.addoption("--built-book", type=Path, default=None,
                     help="folder of a built HTML book for tests/test_built_book.py (make test: _build/html)")
