"""Where things live: the project root, downloads, caches and the offline data copies.

Every location can be moved with an environment variable so that a notebook run on Colab, a
laptop or CI finds the same things:

``TOPOCNN_ROOT``
    the project root (default: the first parent of the working directory holding ``_toc.yml``,
    else the working directory itself).
``TOPOCNN_DATA``
    a folder with offline copies of the real data sets, in the layout described in
    ``data/README.md``. Unset means: download on first use.
``TOPOCNN_CACHE``
    where trained models and other expensive results are kept (default ``<root>/data/cache``).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "TOPOCNN_DATA"
ROOT_ENV = "TOPOCNN_ROOT"
CACHE_ENV = "TOPOCNN_CACHE"


def project_root() -> Path:
    """The project root: ``$TOPOCNN_ROOT``, else the nearest parent holding ``_toc.yml``."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").exists():
            return folder
    return here


def data_dir() -> Path:
    """``<root>/data``: downloads and prepared arrays land here (gitignored)."""
    return project_root() / "data"


def download_dir() -> Path:
    """Where data sets fetched from the internet are stored."""
    return data_dir() / "downloads"


def offline_data_dir() -> Path | None:
    """The folder named by ``$TOPOCNN_DATA``, or ``None`` when the variable is unset.

    Raises ``FileNotFoundError`` when the variable names a folder that does not exist, so that
    a typo never silently turns into a download.
    """
    value = os.environ.get(DATA_ENV)
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(
            f"{DATA_ENV}={value!r} does not name a folder; unset it to download the data "
            f"sets, or point it at a folder laid out as described in data/README.md"
        )
    return path


def cache_root() -> Path:
    """Root of the artifact cache: ``$TOPOCNN_CACHE`` or ``<root>/data/cache``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser().resolve()
    return data_dir() / "cache"
