"""Tests for symderiv.emitting: escaping, templates, names, safe writes, PDFs.

The LaTeX tests never skip: without latexmk, pdflatex or pdftotext they fail.
"""

import doctest
import os
import pathlib
import re
import subprocess
import threading
import time
import unicodedata

import jinja2
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from symderiv.emitting import compile_latex, files, latex_env
from symderiv.emitting.compile_latex import REPRODUCIBLE_PREAMBLE, LatexError, LatexNotFound, compile_pdf
from symderiv.emitting.files import GENERATED_MARK, pdf_is_generated, write_generated
from symderiv.emitting.latex_env import Latex, escape_latex, latex_environment, validate_identifier

NASTY = r"\input{/etc/passwd} \write18{ls} $x^2$ _ # % & ~ ^{} <a|b> ^^5c \catcode`\@=11 \def\x{}"
# The only sequences allowed to contain a LaTeX special character, and what they print.
TOKENS = {r"\textbackslash{}": "\\", r"\{": "{", r"\}": "}", r"{\upshape\char36}": "$", r"\&": "&",
          r"\#": "#", r"\textasciicircum{}": "^", r"\_": "_", r"\%": "%", r"\textasciitilde{}": "~",
          r"\textless{}": "<", r"\textgreater{}": ">", r"\textbar{}": "|"}
TOKEN_RE = re.compile("|".join(map(re.escape, sorted(TOKENS, key=len, reverse=True))))
MARK = f"% {GENERATED_MARK}; do not edit\n"
DOC = MARK + "\\documentclass{article}\n\\begin{document}\n\\section{A}\\label{a}\nSee \\ref{a}, $x^2$.\n\\end{document}\n"


@given(st.text())
@example("\u00a0x\ny\u2028e\u0301")
def test_escape_leaves_no_unescaped_special(text):
    out = escape_latex(text)
    rest = TOKEN_RE.sub("", out)
    assert not set(rest) & set("\\{}$&#^_%~"), (text, out)
    assert all(" " <= c <= "~" or c in latex_env._SAFE_NON_ASCII for c in rest)


def test_escape_fallbacks():
    assert escape_latex("\u00a0x\ny\u2028e\u0301 ﬁ α") == " x y?e fi ?"


@given(st.text(), st.text(st.characters(min_codepoint=32, max_codepoint=126)))
def test_escape_is_per_character_and_lossless_on_printable_ascii(a, b):
    assert escape_latex(a + b) == escape_latex(a) + escape_latex(b)
    assert TOKEN_RE.sub(lambda m: TOKENS[m.group()], escape_latex(b)) == b


def pdftotext(pdf):
    out = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], check=True, capture_output=True, text=True)
    text = unicodedata.normalize("NFC", out.stdout)  # pdftotext gives A + U+0300 for À
    return " ".join(text.replace("ˆ", "^").replace("˜", "~").replace("‘", "`").split())


def test_nasty_text_compiles_and_prints_literally(tmp_path):
    odd = escape_latex("Müller ﬁ α ≤ \u0301 \U0001f600 " + " ".join(map(chr, range(0x250))))
    esc = escape_latex(NASTY)
    body = "\n".join(rf"\noindent BEGIN {s} END\par" for s in
                     (esc, rf"\textbf{{{esc}}}", rf"\emph{{{esc}}}", rf"\texttt{{{esc}}}"))
    tex = tmp_path / "nasty.tex"
    write_generated(tex, MARK + f"\\documentclass{{article}}\n\\title{{{odd}}}\\begin{{document}}\\maketitle\n"
                    f"\\section{{{esc}}}\n{body}\n{odd}\n\\end{{document}}\n")
    text = pdftotext(compile_pdf(tex))
    expected = " ".join(NASTY.replace("_", "").split())  # \_ is drawn as a rule, not a glyph
    assert text.count(f"BEGIN {expected} END") == 4, text
    assert "Müller fi ? ? ?" in text and "À Á Â Ã Ä Å Æ Ç" in text and "£" not in text
    fonts = subprocess.run(["pdffonts", str(tex.with_suffix(".pdf"))], check=True, capture_output=True, text=True)
    assert "Type 3" not in fonts.stdout, fonts.stdout  # no bitmap fonts made on the fly by mktexpk


def test_template_environment(tmp_path):
    (tmp_path / "t.tex").write_text(
        "\\#{ a comment }\n\\section{\\VAR{title}}\n\\BLOCK{for n in names}\n"
        "$\\VAR{exprs[n]}$ {{ raw }} {% raw %}\n\\BLOCK{endfor}\n"
        "\\BLOCK{macro m(x)}\\textbf{\\VAR{x}}\\BLOCK{endmacro}"
        "\\VAR{m('a&b')|latex} \\VAR{m('c')} \\VAR{3.5}\n")
    env = latex_environment(tmp_path)
    out = env.get_template("t.tex").render(
        title="50% of a_b", names=["u", "v"], exprs={"u": Latex(r"\frac{1}{2}"), "v": "x^2"})
    assert out == ("\\section{50\\% of a\\_b}\n$\\frac{1}{2}$ {{ raw }} {% raw %}\n"
                   "$x\\textasciicircum{}2$ {{ raw }} {% raw %}\n"
                   "\\textbf{a\\&b} \\textbackslash{}textbf\\{c\\} 3.5\n")
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("t.tex").render(names=[])


@given(st.text())
def test_template_escapes_every_plain_value(value):
    tmpl = latex_environment(pathlib.Path(".")).from_string(r"\VAR{v}|\VAR{w}")
    assert tmpl.render(v=value, w=Latex(value)) == escape_latex(value) + "|" + value


@pytest.mark.parametrize("name", ["", "1a", "_a", "a-b", "a b", "a\n", "é", "aé", "a١", "ǅ", None])
def test_invalid_identifiers(name):
    msg = f"layer name: {name!r} is not a valid name; use letters, digits and underscores, starting with a letter"
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        validate_identifier(name, "layer name")


@given(st.one_of(st.text(), st.from_regex(r"[A-Za-z][A-Za-z0-9_]*", fullmatch=True)))
@example("dense_1")
@example("Z9")
def test_identifier_oracle(name):
    ok = bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name, re.ASCII))
    try:
        assert validate_identifier(name, "x") == name and ok
    except ValueError:
        assert not ok


def test_write_generated_creates_and_is_idempotent(tmp_path):
    p = tmp_path / "a" / "b" / "grad.py"
    text = f"# {GENERATED_MARK}\r\nx = 'é'\n"
    assert write_generated(p, text) is True
    assert p.read_bytes() == f"# {GENERATED_MARK}\nx = 'é'\n".encode()
    os.utime(p, (1, 1))
    assert write_generated(p, text) is False and p.stat().st_mtime == 1
    os.chmod(p, 0o640)
    assert write_generated(p, text + "y = 2\n") is True
    assert p.read_text().endswith("y = 2\n") and p.stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(p.parent)) == ["grad.py"]


@pytest.mark.parametrize("old", ["user notes\n", "1\n2\n3\n4\n5\n% " + GENERATED_MARK, "1\n2\n3\n4\n% " + GENERATED_MARK])
def test_overwrite_needs_mark_in_first_five_lines_or_force(tmp_path, old):
    p = tmp_path / "notes.tex"
    p.write_text(old)
    if old.count("\n") == 4:
        assert write_generated(p, MARK) is True and p.read_text() == MARK
        return
    with pytest.raises(FileExistsError, match=re.escape(str(p)) + ".*--force"):
        write_generated(p, MARK)
    assert p.read_text() == old
    assert write_generated(p, MARK, force=True) is True and p.read_text() == MARK


@pytest.mark.parametrize("fail_in", ["replace", "fsync"])
def test_failed_write_leaves_original_and_no_temp_file(tmp_path, monkeypatch, fail_in):
    p = tmp_path / "out.tex"
    p.write_text(MARK + "old\n")

    def boom(*args):
        raise OSError("disk on fire")
    monkeypatch.setattr(files.os, fail_in, boom)
    with pytest.raises(OSError, match="disk on fire"):
        write_generated(p, MARK + "new\n")
    monkeypatch.undo()
    assert p.read_text() == MARK + "old\n" and os.listdir(tmp_path) == ["out.tex"]


def test_latexmk_is_installed():
    engine = compile_latex.find_latex_engine()
    assert engine and engine.endswith("latexmk"), "apt-get install texlive-latex-recommended latexmk poppler-utils"


def test_compile_is_byte_reproducible_with_either_engine(tmp_path, monkeypatch):
    a, b, c = tmp_path / "a" / "one.tex", tmp_path / "elsewhere" / "two.tex", tmp_path / "three.tex"
    for tex in (a, b, c):
        write_generated(tex, DOC)
    first = compile_pdf(a).read_bytes()
    time.sleep(1.1)  # a clock-dependent /ID or date would now differ
    assert compile_pdf(b).read_bytes() == first
    assert b"/CreationDate (D:19700101000000Z)" in first
    assert pdftotext(a.with_suffix(".pdf")) == "1 A See 1, x2 . 1"  # \ref resolved by a second run
    which = compile_latex.shutil.which
    monkeypatch.setattr(compile_latex.shutil, "which", lambda n: None if n == "latexmk" else which(n))
    assert compile_latex.find_latex_engine().endswith("pdflatex")
    assert compile_pdf(c, out_pdf=tmp_path / "out" / "c.pdf").read_bytes() == first


def test_reproducible_preamble_for_hand_builds(tmp_path):
    pdfs = {}
    for preamble in ("", REPRODUCIBLE_PREAMBLE):
        for epoch in ("1", "100000"):
            (d := tmp_path / f"{bool(preamble)}{epoch}").mkdir()
            (d / "d.tex").write_text(DOC.replace("\\begin{document}", preamble + "\\begin{document}"))
            subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "d.tex"], cwd=d,
                           check=True, capture_output=True, env={**os.environ, "SOURCE_DATE_EPOCH": epoch})
            pdfs[bool(preamble), epoch] = (d / "d.pdf").read_bytes()
    assert pdfs[False, "1"] != pdfs[False, "100000"]  # the test can see a difference
    assert pdfs[True, "1"] == pdfs[True, "100000"]


def test_latex_error_names_the_problem(tmp_path):
    tex = tmp_path / "bad.tex"
    write_generated(tex, MARK + "\\documentclass{article}\n\\begin{document}\nok\n\\undefinedmacro\n\\end{document}\n")
    with pytest.raises(LatexError, match=r"(?s)bad\.tex.*! Undefined control sequence\.\nl\.5 \\undefinedmacro"):
        compile_pdf(tex)
    assert not tex.with_suffix(".pdf").exists()


def test_no_shell_escape_no_reading_outside_no_rc_files(tmp_path, monkeypatch):
    pwned, secret, tex = tmp_path / "pwned", tmp_path / "secret.txt", tmp_path / "w.tex"
    secret.write_text("SECRET")
    (tmp_path / ".latexmkrc").write_text(f'system("touch {pwned}.rc");\n')  # latexmk rc files are Perl
    monkeypatch.setenv("HOME", str(tmp_path))
    head = MARK + "\\documentclass{article}\\begin{document}"
    write_generated(tex, head + f"\\immediate\\write18{{touch {pwned}}}x\\end{{document}}\n")
    assert compile_pdf(tex).exists() and not pwned.exists() and not pwned.with_suffix(".rc").exists()
    # Piped input works under TeX Live's default *restricted* shell escape (kpsewhich is whitelisted).
    for body in ['\\input|"kpsewhich -var-value=openin_any" ', f"\\input{{{secret}}}"]:
        write_generated(tex, head + body + "\\end{document}\n")
        with pytest.raises(LatexError, match="can't find file|secret.txt' not found"):
            compile_pdf(tex)


def test_pdf_is_replaced_only_if_it_carries_the_mark_itself(tmp_path):
    tex, pdf = tmp_path / "r.tex", tmp_path / "r.pdf"
    write_generated(tex, DOC)
    pdf.write_bytes(b"%PDF-1.4 precious")  # the user's own PDF, next to a generated .tex
    with pytest.raises(FileExistsError, match="--force"):
        compile_pdf(tex)
    assert pdf.read_bytes() == b"%PDF-1.4 precious"
    assert pdf_is_generated(compile_pdf(tex, force=True))
    assert compile_pdf(tex).read_bytes().startswith(b"%PDF-")  # its own PDF is replaced without --force
    pdf.write_bytes(b"not a pdf " + files.PDF_MARK)
    assert not pdf_is_generated(pdf)


def test_timeout_kills_tex(tmp_path):
    tex, outcome = tmp_path / "loop.tex", []
    write_generated(tex, MARK + "\\def\\a{\\a}\\a\n")

    def run():  # in a thread: a pdflatex left alive would keep the pipe open forever
        with pytest.raises(LatexError, match="loop.tex did not finish in time"):
            compile_pdf(tex, timeout=2)
        outcome.append("raised")
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert outcome == ["raised"]


def test_missing_engine(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_latex, "find_latex_engine", lambda: None)
    with pytest.raises(LatexNotFound, match="apt.*texlive-latex-base texlive-latex-recommended latexmk"):
        compile_pdf(tmp_path / "x.tex")


@pytest.mark.parametrize("module", [latex_env, files, compile_latex])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
