"""Importing symderiv and asking the command line for help import neither SymPy nor NumPy (no timing here)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPORT = "import sys; print(sorted(m for m in ('sympy', 'numpy', 'jinja2') if m in sys.modules))"




def cli(*argv: str) -> str:
    return (f"import sys, runpy; sys.argv = ['symderiv', *{list(argv)!r}]\n"
            "try:\n    runpy.run_module('symderiv', run_name='__main__')\nexcept SystemExit:\n    pass")


@pytest.mark.parametrize("code", ["import symderiv", "import symderiv.cli; symderiv.cli.build_parser()",
                                  cli("--help"), cli("grad", "--help")],
                         ids=["import", "parser", "help", "grad-help"])
def test_heavy_libraries_are_not_imported(code):
    done = subprocess.run([sys.executable, "-c", f"{code}\n{REPORT}"], capture_output=True, text=True, cwd=ROOT,
                          check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_names_are_still_there():
    import symderiv as sd
    assert sd.Network.__name__ == "Network" and sd.networks.multitask().name == "multitask"
    assert set(sd.__all__) <= set(dir(sd))
    with pytest.raises(AttributeError):
        sd.no_such_name  # noqa: B018
