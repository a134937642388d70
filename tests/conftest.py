"""Shared test set-up: the tests' own modules on the path, and one derivation cache per test session.

The session gets a fresh, empty derivation cache folder (``SYMDERIV_CACHE_DIR``),
inherited by the command-line runs in subprocesses: each network is derived
once per session (in-process memo, then that folder), never read from the
user's own cache, and the folder is removed at the end. A run with
``SYMDERIV_NO_CACHE=1`` derives everything each time, as before.
"""
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

_SESSION_CACHE = None


def pytest_configure(config):
    global _SESSION_CACHE
    if os.environ.get("PYTEST_XDIST_WORKER"):  # a worker of ``-n N``: the controller's folder, shared
        return
    if _SESSION_CACHE is None:
        _SESSION_CACHE = tempfile.mkdtemp(prefix="symderiv-test-cache-")
        os.environ["SYMDERIV_CACHE_DIR"] = _SESSION_CACHE


def pytest_unconfigure(config):
    if _SESSION_CACHE is not None:
        shutil.rmtree(_SESSION_CACHE, ignore_errors=True)



@pytest.fixture(autouse=True)
def _layer_table_restored():
    """Each test sees the shipped layer table: layers a test registers are removed after it."""
    from symderiv.layers import LAYERS
    before = dict(LAYERS)
    yield
    LAYERS.clear()
    LAYERS.update(before)
