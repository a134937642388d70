"""symderiv check on hostile input: bounded work, bounded output, every file error names the file."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symderiv.checking import Answer, AnswerFileError, check_file, grade, index_form, parse_answers, read_answers
from symderiv.checking.budget import MAX_WORK
from symderiv.checking.report import terminal
from symderiv.cli import main

RELU = "# relu: da/dz\n[z_j > 0]\\delta_{ij}\n"


def test_nested_sums_are_refused_before_any_work_with_the_position(monkeypatch):
    calls = []
    original = index_form.evaluate
    monkeypatch.setattr(index_form, "evaluate", lambda *a, **k: calls.append(1) or original(*a, **k))
    formula = r"z_j + \sum_{a=1}^{100}\sum_{b=1}^{100}\sum_{c=1}^{100}\sum_{d=1}^{100}\sum_{e=1}^{100} z_j"
    result = grade(Answer("relu: da/dz", formula, 1))
    assert result.status == "unreadable"
    assert result.message.startswith("at position 6: unreadable: too much work")
    assert not calls  # refused from the count alone


@pytest.mark.parametrize("limit", ["10^{9}", "m \\cdot 10^{8}", "\\frac{10^{9}}{2}", "m^{m^{m}}"])
def test_limits_that_are_not_plain_numbers_are_bounded_too(limit):
    result = grade(Answer("relu: da/dz", rf"\sum_{{a=1}}^{{{limit}}}\sum_{{b=1}}^{{{limit}}} z_j", 1))
    assert result.status == "unreadable" and "position 0" in result.message


def test_a_legitimate_sum_is_still_graded():
    result = grade(Answer("softmax: dg/dz", r"\frac{e^{z_j}}{\sum_{k=1}^{n} e^{z_k}}\left(\delta_{ij} - "
                                            r"\frac{e^{z_i}}{\sum_{k=1}^{n} e^{z_k}}\right)", 1))
    assert result.status == "correct"


def test_a_huge_file_is_refused_naming_it(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("# relu: da/dz\n" + "z_j + " * 1_000_000)  # 6 MB
    with pytest.raises(AnswerFileError, match="big.txt: larger than"):
        read_answers(big)


def test_a_long_formula_is_unreadable_and_never_echoed_whole(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("# relu: da/dz\n" + "z_j + " * 50_000 + "\n" + RELU)  # 300 kB in one formula
    results = check_file(path)
    assert [r.status for r in results] == ["unreadable", "correct"]
    assert "too long" in results[0].message
    text = terminal(results)
    assert len(text) < 2_000 and "…" in text


def test_a_binary_file_names_the_file(tmp_path, capsys):
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "photo.png" in err and "not a text file" in err
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("# relu: da/dz\n% caf\xe9\n".encode("latin-1"))
    assert main(["check", str(latin)]) == 2
    assert "latin1.txt: not UTF-8 text (byte 0xe9" in capsys.readouterr().err


def test_a_byte_order_mark_does_not_break_the_first_heading(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + RELU.encode())
    (result,) = check_file(path)
    assert result.answer.quantity == "relu: da/dz" and result.status == "correct"


@pytest.mark.parametrize("formula, pos", [("$[z_j > 0]\\delta_{ij}", 0), ("[z_j > 0]\\delta_{ij}$", 20),
                                          ("$[z_j > 0]$ \\delta_{ij} $", 10)])
def test_unclosed_math_is_unreadable_with_the_position(formula, pos):
    result = grade(Answer("relu: da/dz", formula, 1))
    assert result.status == "unreadable"
    assert result.message.startswith(f"at position {pos}: unclosed math")


def test_closed_math_is_still_read():
    for formula in ("$[z_j > 0]\\delta_{ij}$", "$$[z_j > 0]\\delta_{ij}$$", r"\[[z_j > 0]\delta_{ij}\]"):
        assert grade(Answer("relu: da/dz", formula, 1)).status == "correct"


def test_a_formula_before_any_heading_does_not_stop_the_others(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("stray \\alpha\n" + RELU + "#\nx\n")
    results = check_file(path)
    assert [r.status for r in results] == ["unreadable", "correct", "unreadable"]
    assert "before any '# quantity' heading" in results[0].message and results[0].answer.line == 1
    assert "must name the quantity" in results[2].message and results[2].answer.line == 4
    assert all(r.answer.file == str(path) for r in results)


# ---- fuzzing: never a traceback; the work done stays under the budget --------------------------
PIECES = ["x", "z_j", "z_i", "a_j", "^", "_", "{", "}", "(", ")", "[", "]", "+", "-", "=", "<", ">", "&", ",",
          "0", "1", "100", "$", "\\frac", "\\sum_{a=1}^{100}", "\\sum_k", "\\sum_{k=1}^{n}", "\\hat", "\\delta_{ij}",
          "\\sqrt", "\\begin{cases}", "\\end{cases}", "\\\\", "\\mathbb{1}", "\\exp", "\\log", "e^", "\\left(",
          "\\right)", "[z_j > 0]", "n", "m", "p", "^{100}", "\\cdot", "\\odot", "^T", "\\oplus", "\\neq", "#", "%",
          "\n", "\ufeff", "\0", "\\text{if}"]
HEADINGS = ["relu: da/dz", "softmax: dg_j/dz_i", "batchnorm: dy_i/dx_j", "dropout: dy/dx", "frobnicate: da/dz", ""]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(HEADINGS), st.lists(st.sampled_from(PIECES), max_size=14).map(" ".join))
def test_grading_any_formula_never_raises_and_stays_within_the_budget(heading, formula):
    steps = []
    original = index_form.evaluate
    index_form.evaluate = lambda *a, **k: steps.append(1) or original(*a, **k)
    try:
        result = grade(Answer(heading, formula, 1))
    finally:
        index_form.evaluate = original
    assert result.status in ("correct", "wrong", "unreadable")
    assert len(steps) <= MAX_WORK
    if result.status == "unreadable" and heading in HEADINGS[:4] and formula.strip():
        assert "position" in result.message, result.message
    assert len(terminal([result])) < 5_000


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PIECES + ["# relu: da/dz", "# ", "% c"]), max_size=20).map("".join) | st.text())
def test_reading_any_text_never_raises(text):
    for answer in parse_answers(text):
        assert answer.line >= 1 and isinstance(answer.latex, str)


def test_a_step_written_with_geq_is_wrong_in_a_network_answer_too():
    # at random points [z >= 0] and [z > 0] agree: the last network instance puts ReLU inputs at 0
    for formula in (r"\delta_{a_{1a}} \odot [z_{1a} \geq 0]", r"\delta_{a_{1a},ij} [z_{1a,ij} \geq 0]"):
        result = grade(Answer("delta_z_1a", formula, 1))
        assert result.status == "wrong" and result.counterexample["where"].startswith("at a kink")
    assert grade(Answer("delta_z_1a", r"\delta_{a_{1a},ij} [z_{1a,ij} > 0]", 1)).status == "correct"
