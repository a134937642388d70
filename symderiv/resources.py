"""Where symderiv's data files are, installed or in a source checkout.

The Jinja2 templates live in the top-level ``templates/`` folder of the
repository (fixed by the design). A wheel or ``pip install .`` installs that
folder as ``symderiv/templates/`` (``package-dir`` in ``pyproject.toml``);
an editable install or a checkout uses it where it is. Every module that
loads a template asks :func:`templates_path`, so all find the same files.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["templates_path"]

_PACKAGE = Path(__file__).resolve().parent


def templates_path() -> Path:
    """The folder holding ``kernels.py.j2`` and ``answer_sheet.tex.j2``.

    >>> sorted(p.name for p in templates_path().glob("*.j2"))
    ['answer_sheet.tex.j2', 'kernel_functions.py.j2', 'kernels.py.j2', 'kernels_array_api.py.j2']
    """
    installed = _PACKAGE / "templates"
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / "templates"
