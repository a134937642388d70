"""Sandboxed, reproducible compilation of a generated ``.tex`` file to PDF.

This module owns running TeX. :func:`compile_pdf` copies the ``.tex`` alone
into a private temporary directory (as ``document.tex``, so the output does
not depend on the file's name or location; the document must be
self-contained) and runs ``latexmk -norc`` (no user or project rc file can
change the commands) or, failing that, ``pdflatex`` with:

* ``-no-shell-escape`` (``\\write18`` never runs anything), also
  ``shell_escape=f`` in the environment;
* ``openin_any=p`` / ``openout_any=p``: TeX may read only the TeX tree and the
  temporary directory and write only there (``\\input{/etc/passwd}`` fails);
* ``SOURCE_DATE_EPOCH=0`` and ``FORCE_SOURCE_DATE=1``: pdfTeX's dates and the
  trailer ``/ID`` (a hash of date and job name) are fixed, so the same source
  gives a byte-identical PDF -- checked with TeX Live 2022, where nothing in
  the document is needed. Side effect: ``\\today`` prints January 1, 1970.

:data:`REPRODUCIBLE_PREAMBLE` is optional; templates may include it so that a
PDF built by hand, without this module's environment, is reproducible too.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from symderiv.emitting.files import pdf_is_generated, write_generated_bytes

__all__ = [
    "REPRODUCIBLE_PREAMBLE",
    "LatexError",
    "LatexNotFound",
    "compile_pdf",
    "find_latex_engine",
]

#: Drops the PDF ``/ID`` and the creation/modification dates (pdfTeX only;
#: a no-op elsewhere). Not needed by :func:`compile_pdf` itself.
REPRODUCIBLE_PREAMBLE = r"\ifdefined\pdftrailerid\pdftrailerid{}\pdfinfoomitdate=1\relax\fi"

TIMEOUT_SECONDS = 120
_JOB = "document"
_MAX_PDFLATEX_RUNS = 4


class LatexError(RuntimeError):
    """LaTeX failed; the message quotes the first ``!`` error lines.

    ``errors`` holds those lines, ``log`` the full TeX log (may be empty).
    """

    def __init__(self, message: str, errors: list[str] | None = None, log: str = ""):
        super().__init__(message)
        self.errors = errors or []
        self.log = log


class LatexNotFound(LatexError):
    """Neither latexmk nor pdflatex is installed."""


def find_latex_engine() -> str | None:
    """Path of ``latexmk`` (preferred, if ``pdflatex`` exists too) or
    ``pdflatex``; None if there is no usable engine.

    >>> find_latex_engine() is None or find_latex_engine().endswith(("latexmk", "pdflatex"))
    True
    """
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        return None
    return shutil.which("latexmk") or pdflatex


def _tex_env(tmp: str) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("TEXINPUTS", "TEXMFOUTPUT"):  # only the TeX tree, not the user's
        env.pop(var, None)
    env.update(
        SOURCE_DATE_EPOCH="0",
        FORCE_SOURCE_DATE="1",
        shell_escape="f",
        openin_any="p",
        openout_any="p",
        max_print_line="10000",  # unwrapped log lines: whole error messages
        TMPDIR=tmp,
    )
    return env


def _run(cmd: list[str], cwd: str, deadline: float, tex_path: Path) -> str:
    """Run *cmd* in its own process group (a timeout kills TeX as well as
    latexmk) until the ``time.monotonic()`` *deadline*; return its output."""
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=_tex_env(cwd), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # pragma: no cover - exited meanwhile
            pass
        proc.communicate()
        raise LatexError(f"LaTeX on {tex_path} did not finish in time; killed") from None
    return out.decode("utf-8", "replace")


def _first_errors(log: str, limit: int = 3) -> list[str]:
    """``! message`` lines of *log*, each with its ``l.N`` context line."""
    lines = log.splitlines()
    errors = []
    for i, line in enumerate(lines):
        if not line.startswith("!") or "==> Fatal error" in line or line == "! Emergency stop.":
            continue
        context = next((c for c in lines[i + 1 : i + 30] if re.match(r"l\.\d+ ", c)), None)
        errors.append(line if context is None else f"{line}\n{context}")
        if len(errors) == limit:
            break
    return errors


def compile_pdf(
    tex_path: Path, *, out_pdf: Path | None = None, force: bool = False,
    timeout: float = TIMEOUT_SECONDS,
) -> Path:
    """Compile *tex_path* to a PDF and return the PDF's path.

    The PDF goes to *out_pdf* (default: next to the ``.tex``), written with
    :func:`~symderiv.emitting.files.write_generated_bytes` under the
    :func:`~symderiv.emitting.files.pdf_is_generated` rule (an existing PDF is
    replaced only if its sibling ``.tex`` carries the generated mark, or with
    *force*). Raises :class:`LatexNotFound` without an engine and
    :class:`LatexError` if LaTeX fails or exceeds *timeout* seconds in total
    (all runs; TeX is killed); then no
    PDF is written.

    >>> import tempfile
    >>> from symderiv.emitting.files import GENERATED_MARK, write_generated
    >>> with tempfile.TemporaryDirectory() as d:
    ...     tex = Path(d) / "hello.tex"
    ...     _ = write_generated(tex, f"% {GENERATED_MARK}\\n" + r"\\documentclass{article}"
    ...                         r"\\begin{document}Hello\\end{document}")
    ...     compile_pdf(tex).name, tex.with_suffix(".pdf").read_bytes()[:5]
    ('hello.pdf', b'%PDF-')
    """
    tex_path = Path(tex_path)
    out_pdf = tex_path.with_suffix(".pdf") if out_pdf is None else Path(out_pdf)
    engine = find_latex_engine()
    if engine is None:
        raise LatexNotFound(
            "no LaTeX engine found (need latexmk or pdflatex on PATH); install "
            "them with: sudo apt-get install texlive-latex-base "
            "texlive-latex-recommended latexmk"
        )
    pdflatex = shutil.which("pdflatex") or "pdflatex"
    flags = ["-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error"]
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="symderiv-latex-") as tmp:
        shutil.copyfile(tex_path, os.path.join(tmp, _JOB + ".tex"))
        log_path = Path(tmp, _JOB + ".log")
        if Path(engine).name == "latexmk":
            inner = " ".join([shlex.quote(pdflatex), *flags, "%O", "%S"])
            output = _run([engine, "-norc", "-pdf", f"-pdflatex={inner}", _JOB + ".tex"],
                          tmp, deadline, tex_path)
        else:
            for _ in range(_MAX_PDFLATEX_RUNS):
                output = _run([engine, *flags, _JOB + ".tex"], tmp, deadline, tex_path)
                log = log_path.read_text("utf-8", "replace") if log_path.exists() else ""
                if "Rerun to get" not in log and "Label(s) may have changed" not in log:
                    break
        log = log_path.read_text("utf-8", "replace") if log_path.exists() else ""
        errors = _first_errors(log)
        pdf = Path(tmp, _JOB + ".pdf")
        if errors or not pdf.exists():
            detail = "\n".join(errors) or "\n".join(output.splitlines()[-20:])
            raise LatexError(f"LaTeX failed on {tex_path}:\n{detail}", errors, log)
        data = pdf.read_bytes()
    write_generated_bytes(out_pdf, data, force=force, is_generated=pdf_is_generated)
    return out_pdf
