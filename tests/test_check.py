"""symderiv check: correct forms pass, each kind of mistake is caught with a real counterexample."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from symderiv.checking import check_file, parse
from symderiv.checking.latex_parser import ParseError
from symderiv.cli import main

HERE = Path(__file__).parent / "answers"


def test_correct_answers_all_pass():
    results = check_file(HERE / "correct.txt")
    bad = [(r.answer.line, r.answer.quantity, r.message) for r in results if r.status != "correct"]
    assert not bad
    assert len(results) == 25


def test_each_mistake_is_flagged_with_a_differing_counterexample():
    results = check_file(HERE / "wrong.txt")
    assert [r.status for r in results] == ["wrong"] * 9
    for r in results:
        ce = r.counterexample
        assert not math.isclose(ce["student"], ce["expected"], rel_tol=1e-6, abs_tol=1e-9)
        assert r.closed_form


def test_wrong_constant_shows_at_m_3():
    # 1/2 equals 1/m at m = 2: the smallest counterexample has m = 3
    first = check_file(HERE / "wrong.txt")[0]
    assert first.counterexample["sizes"] == {"m": 3}


def test_unreadable_gives_a_position():
    results = check_file(HERE / "unreadable.txt")
    assert [r.status for r in results] == ["unreadable", "unreadable"]
    assert "position" in results[0].message


def test_cli_exit_status_and_reports(tmp_path, capsys):
    assert main(["check", str(HERE / "correct.txt")]) == 0
    assert main(["check", str(HERE / "wrong.txt"), "--report", str(tmp_path / "r.md")]) == 1
    text = (tmp_path / "r.md").read_text()
    assert "WRONG" in text and "yours" in text
    assert main(["check", str(tmp_path / "missing.txt")]) == 2
    bad = tmp_path / "bad.txt"
    bad.write_text("# frobnicate: dq/dw\nx\n")
    assert main(["check", str(bad)]) == 2
    assert "symderiv: error:" in capsys.readouterr().err


def test_latex_report_compiles(tmp_path):
    from symderiv.emitting.compile_latex import compile_pdf
    assert main(["check", str(HERE / "wrong.txt"), "--report", str(tmp_path / "r.tex")]) == 1
    pdf = compile_pdf(tmp_path / "r.tex")
    assert Path(pdf).exists()


ALPHABET = list("xyzijk^_{}()[]+-=<>&,01 ") + [r"\frac", r"\sum", r"\hat", r"\delta", r"\sqrt", r"\begin{cases}",
                                            r"\end{cases}", r"\\", r"\mathbb{1}", r"\exp", r"\left(", r"\right)"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=20).map("".join) | st.text(max_size=30))
def test_parser_never_crashes(text):
    try:
        parse(text)
    except ParseError as exc:
        assert 0 <= exc.pos <= len(text)


FORMULA_ALPHABET = ALPHABET + ["z_j", "z_i", "a_j", r"\delta_{ij}", "[z_j > 0]", "n", "p", "^2", "/", r"\cdot",
                               r"\operatorname{sgn}", r"\log", "e^", r"\sum_k", "z_k", r"\neq", r"\geq"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(FORMULA_ALPHABET), min_size=1, max_size=12).map(" ".join))
def test_grading_random_formulas_never_raises(text):
    from symderiv.checking import Answer, grade
    result = grade(Answer("relu: da/dz", text, 1))
    assert result.status in ("correct", "wrong", "unreadable")
    if result.status == "unreadable":
        assert "position" in result.message
