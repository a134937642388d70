"""Packaging (issue 16 items 2 and 7): the wheel carries the templates; one version source; every package listed.

The wheel test builds the wheel from a copy of this checkout, installs it into a fresh venv and runs `codegen`
and `sheet` from another folder: the files must be byte-identical to the committed ones (about a minute).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from setuptools import find_packages

import symderiv
from symderiv.resources import templates_path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_is_listed_and_the_templates_are_one():
    listed = PYPROJECT["tool"]["setuptools"]["packages"]
    found = find_packages(str(ROOT), include=["symderiv*"])
    assert sorted(listed) == sorted([*found, "symderiv.templates"])
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"symderiv.templates": "templates"}
    assert templates_path() == ROOT / "templates"  # in a checkout: the top-level folder


def test_one_version_source_and_a_license():
    assert "version" not in PYPROJECT["project"] and PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "symderiv.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", symderiv.__version__)
    done = subprocess.run([sys.executable, "-m", "symderiv", "--version"], check=False, capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert (done.returncode, done.stdout) == (0, f"symderiv {symderiv.__version__}\n")
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License\n") and "Copyright (c) 2026 the symderiv developers" in license_text


def copy_checkout(dest: Path) -> Path:
    """The working tree's files (uncommitted changes included), without build products."""
    ignore = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".venv*", "output")
    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def run(cmd, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600, **kw)
    assert done.returncode == 0, f"{cmd}:\n{done.stdout}\n{done.stderr}"
    return done


def test_the_wheel_installed_in_a_fresh_venv_writes_the_committed_files(tmp_path):
    source, wheels, venv, work = copy_checkout(tmp_path / "src"), tmp_path / "wheels", tmp_path / "venv", tmp_path / "w"
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
         str(source)], cwd=tmp_path)
    wheel, = wheels.glob("symderiv-*.whl")
    assert wheel.name.startswith(f"symderiv-{symderiv.__version__}-")
    shutil.rmtree(source)  # the installed package must not lean on the checkout
    run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)])
    run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--no-build-isolation", str(wheel)])
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    where = run([str(venv / "bin" / "python"), "-c", "import symderiv.resources as r; print(r.templates_path())"],
                cwd=work, env=env).stdout.strip()
    assert where.startswith(str(venv)) and where.endswith(os.path.join("symderiv", "templates")), where
    symderiv_cli = str(venv / "bin" / "symderiv")
    assert run([symderiv_cli, "--version"], cwd=work, env=env).stdout == f"symderiv {symderiv.__version__}\n"
    run([symderiv_cli, "codegen", "-o", "kernels.py"], cwd=work, env=env)
    run([symderiv_cli, "codegen", "--backend", "array-api", "-o", "kernels_xp.py"], cwd=work, env=env)
    run([symderiv_cli, "sheet", "-o", "sheet"], cwd=work, env=env)
    assert (work / "kernels.py").read_bytes() == (ROOT / "output" / "multitask_kernels.py").read_bytes()
    assert (work / "kernels_xp.py").read_bytes() == (ROOT / "output" / "multitask_kernels_array_api.py").read_bytes()
    assert (work / "sheet" / "answer_sheet.tex").read_bytes() == (ROOT / "output" / "answer_sheet.tex").read_bytes()
