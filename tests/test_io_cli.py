"""The command line's conventions (issue 16 item 4): --version, broken pipes, streams, exclusive options.

Results go to stdout, messages to stderr; a closed stdout ends the command quietly; refusals come before work.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import symderiv
from symderiv import cli
from symderiv.emitting import codegen, sheet
from symderiv.emitting.files import GENERATED_MARK

ROOT = Path(__file__).resolve().parents[1]


def test_version():
    done = subprocess.run([sys.executable, "-m", "symderiv", "--version"], check=False, capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"symderiv {symderiv.__version__}\n", "")


def test_a_closed_stdout_ends_quietly():
    """`symderiv derive --list | head -0`: the reader is gone before anything is written."""
    proc = subprocess.Popen([sys.executable, "-m", "symderiv", "derive", "--list"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert proc.returncode == cli.BROKEN_PIPE_STATUS
    assert stderr == "", stderr  # no BrokenPipeError traceback, no "Exception ignored"


def test_latex_and_numpy_are_exclusive(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["grad", "--latex", "--numpy"])
    assert caught.value.code == 2
    assert "argument --numpy: not allowed with argument --latex" in capsys.readouterr().err


def test_sheet_and_codegen_report_on_stderr_only(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sheet, "render_sheet", lambda network: f"% {GENERATED_MARK}\nsheet\n")
    monkeypatch.setattr(codegen, "render_kernels", lambda network: f"# {GENERATED_MARK}\nx = 1\n")
    assert cli.main(["sheet", "-o", str(tmp_path)]) == 0
    assert cli.main(["codegen", "-o", str(tmp_path / "k.py")]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"wrote {tmp_path / 'answer_sheet.tex'}\nwrote {tmp_path / 'k.py'}\n"


@pytest.mark.parametrize("command", ["codegen", "sheet"])
def test_a_foreign_target_is_refused_before_deriving(tmp_path, monkeypatch, capsys, command):
    def no_work(network):
        raise AssertionError("derived before finding that the target may not be overwritten")
    monkeypatch.setattr(sheet, "render_sheet", no_work)
    monkeypatch.setattr(codegen, "render_kernels", no_work)
    target = tmp_path / ("k.py" if command == "codegen" else "answer_sheet.tex")
    target.write_text("my own file\n")
    assert cli.main([command, "-o", str(target if command == "codegen" else tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"symderiv: error: refusing to overwrite {target}") and "--force" in err
    assert target.read_text() == "my own file\n"


def test_permission_errors_reading_are_one_line_errors(tmp_path, capsys):
    folder = tmp_path / "net.toml"
    folder.mkdir()  # reading a folder as the network file fails with a system error
    assert cli.main(["grad", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symderiv: error: ") and err.count("\n") == 1 and str(folder) in err, err


def test_a_terminal_sees_progress_and_a_pipe_does_not(monkeypatch, capsys):
    import io

    from symderiv import progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("SYMDERIV_NO_CACHE", "1")  # derived now, not read back
    assert cli.main(["grad", "--network", "mlp", "--no-verify"]) == 0
    assert "deriving" not in capsys.readouterr().err  # captured: not a terminal, nothing but messages
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    enable = progress.enable
    monkeypatch.setattr(progress, "enable", lambda stream, after=1.0: enable(stream, after=0))
    assert cli.main(["grad", "--network", "mlp", "--no-verify"]) == 0
    shown = terminal.getvalue()
    assert "\rsymderiv: deriving the residual of" in shown and "(1 of " in shown, shown
    assert shown.endswith("\r") and shown.rstrip("\r ").count("\r") == shown.rstrip("\r ").count("\rsymderiv: ")


def test_no_verify_holds_for_one_command_only(monkeypatch):
    from symderiv.verification.self_check import verification_enabled
    monkeypatch.setenv("SYMDERIV_NO_CACHE", "1")
    assert cli.main(["grad", "--network", "mlp", "--no-verify"]) == 0
    assert verification_enabled()  # the next derivation in this process is checked again
