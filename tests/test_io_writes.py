"""Safe writes (issue 11 item 8): whose PDF it is, full disks, unwritable targets, signals during LaTeX.

Each test would have failed before the fix: a user's PDF next to a generated .tex was replaced, a file size limit
gave a truncated PDF and exit 0, system errors were tracebacks, SIGINT left latexmk running and SIGTERM left the
temporary folder.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from symderiv import cli
from symderiv.emitting import codegen, compile_latex, files, sheet
from symderiv.emitting.compile_latex import LatexError, compile_pdf
from symderiv.emitting.files import GENERATED_MARK, PDF_MARK, WriteError, pdf_is_generated, write_generated

ROOT = Path(__file__).resolve().parents[1]
MARK = f"% {GENERATED_MARK}; do not edit\n"
SMALL_DOC = MARK + "\\documentclass{article}\n\\begin{document}\nHello\n\\end{document}\n"
BIG_TEX = ROOT / "output" / "answer_sheet.tex"  # compiles to a PDF of about 180 kB
LIMIT = 40 * 1024  # what `ulimit -f 40` sets


def run_python(code: str, tmp: Path, *, fsize: int | None = None) -> subprocess.Popen:
    """Start a Python child in the worktree, temporary files under *tmp*, optionally with a file size limit
    (the child sets it first thing, as `ulimit -f` would; TeX inherits it)."""
    if fsize is not None:
        code = f"import resource\nresource.setrlimit(resource.RLIMIT_FSIZE, ({fsize}, resource.RLIM_INFINITY))\n" \
            + textwrap.dedent(code)
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def good_pdf(path: Path) -> bytes:
    """A PDF compiled by symderiv at *path*; its bytes."""
    tex = path.parent / "good.tex"
    write_generated(tex, SMALL_DOC)
    data = compile_pdf(tex, out_pdf=path).read_bytes()
    tex.unlink()
    assert pdf_is_generated(path)
    return data


# ---- whose PDF it is ----------------------------------------------------------------------------
def test_a_users_pdf_next_to_a_generated_tex_is_refused_before_tex_runs(tmp_path, monkeypatch):
    tex, pdf = tmp_path / "answer_sheet.tex", tmp_path / "answer_sheet.pdf"
    write_generated(tex, SMALL_DOC)
    theirs = tmp_path / "theirs.tex"
    theirs.write_text(SMALL_DOC.replace(GENERATED_MARK, "my own notes"))
    subprocess.run(["pdflatex", "-interaction=nonstopmode", theirs.name], cwd=tmp_path, check=True,
                   capture_output=True)
    (tmp_path / "theirs.pdf").rename(pdf)  # a real PDF, compiled by the user, under the generated name
    before = pdf.read_bytes()

    def no_tex(*args, **kw):
        raise AssertionError("TeX ran although the target may not be replaced")
    monkeypatch.setattr(compile_latex, "_run", no_tex)
    with pytest.raises(FileExistsError, match=r"refusing to overwrite .*answer_sheet\.pdf.*--force"):
        compile_pdf(tex)
    assert pdf.read_bytes() == before and not pdf_is_generated(pdf)


def test_the_compiled_pdf_carries_the_mark_and_replaces_its_own_kind(tmp_path):
    pdf = tmp_path / "a.pdf"
    first = good_pdf(pdf)
    assert PDF_MARK in first and first.rstrip().endswith(b"%%EOF")
    tex = tmp_path / "b.tex"
    write_generated(tex, SMALL_DOC.replace("Hello", "Goodbye"))
    assert compile_pdf(tex, out_pdf=pdf).read_bytes() != first  # no --force needed


# ---- full disk / file size limit ----------------------------------------------------------------
def test_a_write_past_the_file_size_limit_is_a_write_error_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "kernels.py"
    target.write_text(f"# {GENERATED_MARK}\nold = 1\n")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, hard))  # Python ignores SIGXFSZ: write() fails with EFBIG
    try:
        with pytest.raises(WriteError) as caught:
            write_generated(target, f"# {GENERATED_MARK}\n" + "x = 1\n" * 20000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert str(caught.value) == f"cannot write {target}: File too large"
    assert target.read_text() == f"# {GENERATED_MARK}\nold = 1\n" and os.listdir(tmp_path) == ["kernels.py"]


def test_sheet_pdf_under_a_file_size_limit_fails_and_keeps_the_good_pdf(tmp_path):
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    before = good_pdf(out / "answer_sheet.pdf")
    code = f"""
        import sys
        from pathlib import Path
        from symderiv import cli
        from symderiv.emitting import sheet
        sheet.render_sheet = lambda network: Path({str(BIG_TEX)!r}).read_text()  # no derivation: just the write
        sys.exit(cli.main(["sheet", "-o", {str(out)!r}, "--pdf"]))
    """
    proc = run_python(code, tmp, fsize=LIMIT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1, stderr
    assert "symderiv: error: LaTeX" in stderr and "Traceback" not in stderr, stderr
    assert "wrote" not in stderr.replace("wrote " + str(out / "answer_sheet.tex"), "") and stdout == ""
    assert (out / "answer_sheet.pdf").read_bytes() == before
    assert sorted(os.listdir(out)) == ["answer_sheet.pdf", "answer_sheet.tex"] and os.listdir(tmp) == []


def test_a_truncated_pdf_is_never_accepted(tmp_path, monkeypatch):
    pdf = tmp_path / "a.pdf"
    before = good_pdf(pdf)
    tex = tmp_path / "b.tex"
    write_generated(tex, SMALL_DOC.replace("Hello", "Goodbye"))
    compile_ = compile_latex._compile
    monkeypatch.setattr(compile_latex, "_compile", lambda *a: compile_(*a)[:-200])  # what a killed TeX leaves
    with pytest.raises(LatexError, match="incomplete PDF"):
        compile_pdf(tex, out_pdf=pdf)
    assert pdf.read_bytes() == before


# ---- system errors are one-line errors, found before any work ------------------------------------
def fail_on_temp_files(monkeypatch, error: OSError):
    real_open = files.os.open

    def open_(path, *args, **kw):
        if str(path).endswith(".tmp"):
            raise error
        return real_open(path, *args, **kw)
    monkeypatch.setattr(files.os, "open", open_)


def no_work(*args, **kw):
    raise AssertionError("derived although the target cannot be written")


@pytest.mark.parametrize("command", ["codegen", "sheet"])
@pytest.mark.parametrize("errno_, reason", [(13, "Permission denied"), (30, "Read-only file system"),
                                            (28, "No space left on device")])
def test_unwritable_targets_are_one_line_errors_before_any_work(tmp_path, monkeypatch, capsys, command, errno_,
                                                                reason):
    monkeypatch.setattr(codegen, "render_kernels", no_work)
    monkeypatch.setattr(sheet, "render_sheet", no_work)
    fail_on_temp_files(monkeypatch, OSError(errno_, reason))
    target = tmp_path / "k.py" if command == "codegen" else tmp_path
    assert cli.main([command, "-o", str(target)]) == 2
    shown = target if command == "codegen" else tmp_path / "answer_sheet.tex"
    assert capsys.readouterr().err == f"symderiv: error: cannot write {shown}: {reason}\n"


@pytest.mark.parametrize("argv, words", [
    (["codegen", "-o", "{tmp}/" + "a" * 300 + ".py"], ["cannot write {tmp}/aaa", "File name too long"]),
    (["codegen", "-o", "{tmp}/file/k.py"], ["cannot write {tmp}/file/k.py", "{tmp}/file is a file"]),
    (["codegen", "-o", "{tmp}"], ["cannot write {tmp}: it is a directory"]),
    (["codegen", "-o", "{tmp}/notes.py"], ["refusing to overwrite {tmp}/notes.py", "--force"]),
    (["sheet", "-o", "{tmp}/" + "d" * 300], ["cannot write {tmp}/ddd", "File name too long"]),
    (["sheet", "-o", "{tmp}/file"], ["cannot write {tmp}/file/answer_sheet.tex", "{tmp}/file is a file"]),
    (["sheet", "-o", "{tmp}/pdf", "--pdf"], ["refusing to overwrite {tmp}/pdf/answer_sheet.pdf", "--force"]),
])
def test_bad_targets_are_refused_before_any_work(tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.setattr(codegen, "render_kernels", no_work)
    monkeypatch.setattr(sheet, "render_sheet", no_work)
    (tmp_path / "file").write_text("x")
    (tmp_path / "notes.py").write_text("my notes\n")
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "answer_sheet.pdf").write_bytes(b"%PDF-1.5 my own\n%%EOF\n")
    assert cli.main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symderiv: error: ") and err.count("\n") == 1, err
    for word in words:
        assert word.format(tmp=tmp_path) in err, (word, err)
    assert (tmp_path / "notes.py").read_text() == "my notes\n"


# ---- signals during the compile -------------------------------------------------------------------
def tex_processes(folder: Path) -> dict[int, str]:
    """pid -> command name of every live process whose working directory is inside *folder*."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "cwd").startswith(str(folder)) and alive(int(entry.name)):
                found[int(entry.name)] = (entry / "comm").read_text().strip()
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM),
                                            (signal.SIGHUP, -signal.SIGHUP)])
def test_a_signal_during_latex_leaves_no_process_and_no_temporary_folder(tmp_path, signum, status):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    tex = tmp_path / "loop.tex"
    write_generated(tex, MARK + "\\def\\a{\\a}\\a\n")  # TeX loops until killed
    code = f"""
        import sys
        from symderiv.emitting.compile_latex import compile_pdf
        try:
            compile_pdf({str(tex)!r}, timeout=600)
        except KeyboardInterrupt:
            sys.exit(130)
    """
    proc = run_python(code, tmp)
    try:
        deadline = time.monotonic() + 120
        while "pdflatex" not in (children := tex_processes(tmp)).values():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == status, stderr
    assert "Traceback" not in stderr, stderr
    assert os.listdir(tmp) == [], "the temporary folder is left"
    assert not [pid for pid in children if alive(pid)], f"left running: {children}"
    assert not (tmp_path / "loop.pdf").exists()


def test_handlers_are_restored_after_the_compile(tmp_path):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    tex = tmp_path / "a.tex"
    write_generated(tex, SMALL_DOC)
    compile_pdf(tex)
    with pytest.raises(LatexError):
        write_generated(tex, MARK + "\\undefined\n")
        compile_pdf(tex)
    assert {s: signal.getsignal(s) for s in before} == before
