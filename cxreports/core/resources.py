"""Where the kit's own files live: templates, notebooks, example parameters.

In an installed wheel they are package data inside ``cxreports/``; in a
source checkout (an editable install, ``make demo``) they are the top-level
``templates/``, ``notebooks/`` and ``params/`` folders that developers edit.
An environment variable overrides each, for a site that keeps its own.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["kit_folder", "notebook_dir", "params_dir", "template_dir"]

_PACKAGE = Path(__file__).resolve().parents[1]


def kit_folder(name: str, *, env: str | None = None) -> Path:
    """The kit's folder ``name``: ``$env`` if set, the package's copy, else the checkout's.

    Examples
    --------
    >>> kit_folder("templates").joinpath("coaching_pack.html").is_file()
    True
    """
    configured = os.environ.get(env) if env else None
    if configured:
        return Path(configured)
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


def template_dir() -> Path:
    """The kit's templates (``$CXREPORTS_TEMPLATES`` overrides)."""
    return kit_folder("templates", env="CXREPORTS_TEMPLATES")


def notebook_dir() -> Path:
    """The kit's notebooks (``$CXREPORTS_NOTEBOOKS`` overrides)."""
    return kit_folder("notebooks", env="CXREPORTS_NOTEBOOKS")


def params_dir() -> Path:
    """The kit's example parameter files (``demo.yaml``, ``monthly.yaml``, ...)."""
    return kit_folder("params")
