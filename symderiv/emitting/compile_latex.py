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

Safety of the result:

* the target PDF is checked *before* TeX runs: it must be absent or carry
  :data:`~symderiv.emitting.files.PDF_MARK` (every PDF compiled here gets it,
  from :data:`~symderiv.emitting.files.PDF_MARK_TEX` put on the first line of
  the private copy, so line numbers in errors are unchanged), else ``--force``;
* the compiled PDF is validated (TeX exited with status 0; the file starts
  with ``%PDF-``, ends with ``%%EOF``, is not tiny and carries the mark)
  before it atomically replaces the old one: a full disk or a file size limit
  (``ulimit -f``) gives :class:`LatexError`, and the old PDF stays;
* signals leave nothing behind: while TeX runs, SIGINT (as
  ``KeyboardInterrupt``), SIGTERM and SIGHUP (when their action is the
  default) first kill TeX's whole process group and remove the temporary
  folder; then the previous handlers are back and SIGTERM/SIGHUP are
  delivered again, so the process ends as it would have.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from symderiv.emitting.files import PDF_MARK, PDF_MARK_TEX, check_target, pdf_is_generated, write_generated_bytes

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
_MIN_PDF_BYTES = 1024


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


class _Signalled(BaseException):
    """SIGTERM or SIGHUP arrived while TeX ran (a BaseException, so that only cleanup code sees it)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _SignalScope:
    """While TeX runs: a signal that would end the process unwinds it instead, then ends it.

    SIGINT is handled only if Python's own ``KeyboardInterrupt`` handler is
    installed, SIGTERM and SIGHUP only if their action is the default
    (terminate without cleanup); a host's own handler, or an ignored signal,
    is left alone. Inside :meth:`deferred` (starting TeX, killing it,
    removing the folder) a signal is only recorded, and raised at the end of
    the block; so is one that arrives in this class's own methods, which
    therefore always restore the previous handlers. On exit, a recorded
    SIGTERM/SIGHUP is delivered again under the restored handler.
    """

    def __init__(self):
        self.previous: dict[int, object] = {}
        self.pending: int | None = None
        self.deferring = 0

    def _on_signal(self, signum, frame):
        if self.deferring or (frame is not None and frame.f_code in _SCOPE_CODES):
            self.pending = self.pending or signum
            return
        self._raise(signum)

    @staticmethod
    def _raise(signum):
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise _Signalled(signum)

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        wanted = {signal.SIGINT: signal.default_int_handler}
        for name in ("SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                wanted[getattr(signal, name)] = signal.SIG_DFL
        for signum, default in wanted.items():
            if signal.getsignal(signum) is default:
                self.previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def deferred(self):
        return _Deferred(self)

    def __exit__(self, exc_type, exc, tb):
        self.deferring += 1  # from here on a signal is only recorded
        if self.previous:
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, set(self.previous))  # runs pending handlers
            for signum, handler in self.previous.items():
                signal.signal(signum, handler)
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # a blocked one now meets the old handler
        signum = exc.signum if isinstance(exc, _Signalled) else self.pending
        if signum is None or (signum == signal.SIGINT and isinstance(exc, KeyboardInterrupt)):
            return False
        if signum != signal.SIGINT:
            signal.raise_signal(signum)  # the default action: the process ends here
            raise SystemExit(128 + signum)  # pragma: no cover - only if someone else handled it
        raise KeyboardInterrupt


class _Deferred:
    """``with scope.deferred():`` signals are recorded and raised at the end of the block."""

    def __init__(self, scope: _SignalScope):
        self.scope = scope

    def __enter__(self):
        self.scope.deferring += 1

    def __exit__(self, exc_type, exc, tb):
        scope = self.scope
        scope.deferring -= 1
        if not scope.deferring and scope.pending is not None and exc is None:
            signum, scope.pending = scope.pending, None
            scope._raise(signum)
        return False


_SCOPE_CODES = frozenset(f.__code__ for f in (
    _SignalScope.__enter__, _SignalScope.__exit__, _SignalScope._on_signal, _SignalScope.deferred,
    _Deferred.__init__, _Deferred.__enter__, _Deferred.__exit__))


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # pragma: no cover - exited meanwhile
        pass
    proc.communicate()


def _run(cmd: list[str], cwd: str, deadline: float, tex_path: Path, scope: _SignalScope) -> str:
    """Run *cmd* in its own process group until the ``time.monotonic()`` *deadline*; return its output.

    On a timeout, an error or a signal, the whole group (latexmk and TeX) is
    killed and reaped before the exception goes on. A non-zero exit status is
    a :class:`LatexError` quoting the end of the output.
    """
    proc = None
    try:
        with scope.deferred():
            proc = subprocess.Popen(
                cmd, cwd=cwd, env=_tex_env(cwd), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            )
        out, _ = proc.communicate(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        with scope.deferred():
            _kill_group(proc)
        raise LatexError(f"LaTeX on {tex_path} did not finish in time; killed") from None
    except BaseException:
        if proc is not None:
            with scope.deferred():
                _kill_group(proc)
        raise
    output = out.decode("utf-8", "replace")
    if proc.returncode:
        how = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
               else f"exited with status {proc.returncode}")
        tail = "\n".join(output.splitlines()[-20:])
        raise LatexError(f"LaTeX failed on {tex_path}: {Path(cmd[0]).name} {how}:\n{tail}", [], output)
    return output


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
    :func:`~symderiv.emitting.files.pdf_is_generated` rule: an existing PDF is
    replaced only if it carries symderiv's mark itself, or with *force*; this
    is checked before TeX runs (:class:`~symderiv.emitting.files.OverwriteRefused`).
    Raises :class:`LatexNotFound` without an engine, :class:`LatexError` if
    LaTeX fails, exceeds *timeout* seconds in total (all runs; TeX is killed)
    or gives an incomplete PDF; then no PDF is written, and
    :class:`~symderiv.emitting.files.WriteError` if the PDF cannot be written.

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
    check_target(out_pdf, force=force, is_generated=pdf_is_generated)
    source = tex_path.read_bytes()
    with _SignalScope() as scope:
        tmp = None
        try:
            with scope.deferred():
                tmp = tempfile.mkdtemp(prefix="symderiv-latex-")
            data = _compile(engine, source, tmp, time.monotonic() + timeout, tex_path, scope)
        finally:
            if tmp is not None:
                with scope.deferred():
                    shutil.rmtree(tmp, ignore_errors=True)
    _validate_pdf(data, tex_path)
    write_generated_bytes(out_pdf, data, force=force, is_generated=pdf_is_generated)
    return out_pdf


def _compile(engine: str, source: bytes, tmp: str, deadline: float, tex_path: Path, scope) -> bytes:
    """Run the engine on *source* in *tmp*; the PDF's bytes, or :class:`LatexError`."""
    pdflatex = shutil.which("pdflatex") or "pdflatex"
    flags = ["-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error"]
    Path(tmp, _JOB + ".tex").write_bytes(PDF_MARK_TEX.encode() + source)  # on line 1: line numbers kept
    log_path = Path(tmp, _JOB + ".log")

    def read_log() -> str:
        return log_path.read_text("utf-8", "replace") if log_path.exists() else ""

    try:
        if Path(engine).name == "latexmk":
            inner = " ".join([shlex.quote(pdflatex), *flags, "%O", "%S"])
            output = _run([engine, "-norc", "-pdf", f"-pdflatex={inner}", _JOB + ".tex"],
                          tmp, deadline, tex_path, scope)
        else:
            for _ in range(_MAX_PDFLATEX_RUNS):
                output = _run([engine, *flags, _JOB + ".tex"], tmp, deadline, tex_path, scope)
                log = read_log()
                if "Rerun to get" not in log and "Label(s) may have changed" not in log:
                    break
    except LatexError:
        errors = _first_errors(read_log())
        if errors:  # TeX's own words say more than the exit status
            raise LatexError(f"LaTeX failed on {tex_path}:\n" + "\n".join(errors), errors, read_log()) from None
        raise
    log = read_log()
    errors = _first_errors(log)
    pdf = Path(tmp, _JOB + ".pdf")
    if errors or not pdf.exists():
        detail = "\n".join(errors) or "\n".join(output.splitlines()[-20:])
        raise LatexError(f"LaTeX failed on {tex_path}:\n{detail}", errors, log)
    return pdf.read_bytes()


def _validate_pdf(data: bytes, tex_path: Path) -> None:
    """Raise :class:`LatexError` unless *data* is a whole PDF compiled here.

    >>> _validate_pdf(b"%PDF-1.5\\n" + b" " * 2000 + PDF_MARK + b"\\n%%EOF\\n", Path("a.tex"))
    >>> try:
    ...     _validate_pdf(b"%PDF-1.5\\n" + b" " * 2000 + PDF_MARK, Path("a.tex"))
    ... except LatexError as exc:
    ...     print(str(exc)[:46])
    LaTeX on a.tex gave an incomplete PDF (2042 by
    """
    if (not data.startswith(b"%PDF-") or not data.rstrip().endswith(b"%%EOF")
            or len(data) < _MIN_PDF_BYTES or PDF_MARK not in data):
        raise LatexError(f"LaTeX on {tex_path} gave an incomplete PDF ({len(data)} bytes, no %%EOF trailer "
                         "or no symderiv mark); is the disk full, or a file size limit (ulimit -f) set? "
                         "The old PDF, if any, is unchanged")
