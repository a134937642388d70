"""symderiv check: correct forms pass, each kind of mistake is caught with a real counterexample."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symderiv.checking import check_file, parse
from symderiv.checking.latex_parser import ParseError
from symderiv.cli import main

HERE = Path(__file__).parent / "answers"


def test_correct_answers_all_pass():
    results = check_file(HERE / "correct.txt")
    bad = [(r.answer.line, r.answer.quantity, r.message) for r in results if r.status != "correct"]
    assert not bad
    assert len(results) == 32
    assert sum("matrix form" in r.message for r in results) == 9  # the 7 matrix forms and the 2 with \odot


def test_each_mistake_is_flagged_with_a_differing_counterexample():
    results = check_file(HERE / "wrong.txt")
    assert [r.status for r in results] == ["wrong"] * 13
    for r in results:
        ce = r.counterexample
        if "student" in ce:
            assert not math.isclose(ce["student"], ce["expected"], rel_tol=1e-6, abs_tol=1e-9)
        else:  # a matrix form of the wrong shape, or whose shapes do not fit: said so, with the sizes
            assert "shape" in r.message and ce["sizes"]["m"] == 2
            if "shapes" in ce:
                assert ce["shapes"]["yours"] != ce["shapes"]["right"]
        assert r.closed_form


def test_matrix_form_mistakes_are_explained():
    swapped, no_split, outer, no_mean = check_file(HERE / "wrong.txt")[-4:]
    # theta_2b is (n_yb, n_1b + n_ya) = (7, 4 + 6) at m = 2: c^T delta is its transpose
    assert swapped.counterexample["shapes"] == {"yours": (10, 7), "right": (7, 10)}
    assert "do not fit" in no_split.message and "(2, 6) added to one of shape (2, 10)" in no_split.message
    assert outer.counterexample["shapes"] == {"yours": (4, 4), "right": (4,)}
    assert no_mean.counterexample["student"] == pytest.approx(2 * no_mean.counterexample["expected"])


def test_matrix_notation_in_a_layer_answer_is_unreadable_with_a_position():
    from symderiv.checking import Answer, grade
    result = grade(Answer("softmax: dg/dz", r"g_j - g^T z", 1))
    assert result.status == "unreadable" and result.message.startswith("at position 6:")


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
    assert "symderiv: error:" in capsys.readouterr().err
    bad = tmp_path / "bad.txt"  # an unknown heading is that answer's verdict, the others are graded
    bad.write_text("# frobnicate: dq/dw\nx\n# relu: da/dz\n[z_j > 0]\\delta_{ij}\n")
    assert main(["check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "UNREADABLE line 1" in out and "unknown layer 'frobnicate'" in out and "1/2 correct" in out


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


def test_report_does_not_overwrite_a_user_file_and_escapes_foreign_latex(tmp_path, capsys):
    mine = tmp_path / "notes.md"
    mine.write_text("my notes\n")
    assert main(["check", str(HERE / "wrong.txt"), "--report", str(mine)]) == 2
    assert mine.read_text() == "my notes\n" and "--force" in capsys.readouterr().err
    assert main(["check", str(HERE / "wrong.txt"), "--report", str(mine), "--force"]) == 1
    assert main(["check", str(HERE / "wrong.txt"), "--report", str(mine)]) == 1  # now ours: rewritten
    from symderiv.checking import Answer, grade
    from symderiv.checking.report import latex
    sneaky = grade(Answer("relu: da/dz", r"[z_j > 0]\delta_{ij} + 0\input{/etc/hostname}\end{verbatim}", 1))
    text = latex([sneaky])
    assert r"Yours (unreadable): \texttt{[z\_j \textgreater{} 0]\textbackslash{}delta" in text
    before, _, verbatim = text.partition(r"\begin{verbatim}")
    assert r"\input{" not in before and verbatim.count(r"\end{verbatim}") == 1


def test_readme_example_answers_are_all_correct(tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = readme.split("% answers.txt\n", 1)[1].split("```", 1)[0]
    (tmp_path / "answers.txt").write_text(block)
    results = check_file(tmp_path / "answers.txt")
    assert len(results) == 6 and all(r.status == "correct" for r in results), [r.message for r in results]


def test_layer_answers_are_also_confirmed_as_formulas():
    results = check_file(HERE / "correct.txt")
    confirmed = [r for r in results if "equal as a formula at size 3" in r.message]
    assert len(confirmed) == 14  # every layer answer but the two dropout ones written with r_j >= p
    from symderiv.checking.grader import resolve_quantity
    from symderiv.checking.symbolic import confirm
    quantity = resolve_quantity("softmax: dg_j/dz_i")
    assert "equal as a formula" in confirm(parse(r"g_j(\delta_{ij} - g_i)"), quantity)
    assert "could not show" in confirm(parse(r"g_j(\delta_{ij} - g_j)"), quantity)
