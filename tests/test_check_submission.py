"""Reading a submission as students write it: Markdown, $$ blocks, prose, labels; every verdict asserted."""
from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from symderiv.checking import Answer, check_file, grade
from symderiv.checking.submission import normalize, read_submission
from symderiv.cli import main

HERE = Path(__file__).parent / "answers"

EXPECTED = [  # (line, quantity, status): every equation of tests/answers/submission_zh.md that is a derivative
    (13, "batchnorm: dy_i/dgamma", "correct"),   # \hat{x_{i}}, \tag, two equations in one block
    (14, "batchnorm: dy_i/dbeta", "correct"),
    (18, "batchnorm: dy_j/dx_i", "correct"),     # \sigma_B, \delta_{i,j}, after <u>HTML</u> prose
    (22, "dropout: dy_j/dx_i", "correct"),       # commas and \land / \lor in the cases rows
    (26, "softmax: dg_j/dz_i", "correct"),       # g(z)_j, \Sigma_{k=1}^{n}
    (29, "softmax: dg_j/dz_i", "wrong"),         # g_i(1 - g_j): the diagonal only
    (41, "delta_z_2b", "correct"),
    (42, "dL/dtheta_2b", "correct"),
    (43, "dL/db_2b", "wrong"),                   # the 1/m is missing
    (48, "delta_yhat_a", "correct"),             # aligned, '&=' continues: the last right-hand side
    (54, "dL/dbeta", "correct"),                 # a chain of '=': the last one is graded
    (56, "delta_z_1a", "wrong"),                 # \delta^{(z_{1a})}, \bigodot, bare sgn: the step is [z > 0]
    (58, "", "unreadable"),                      # a name that is not the network's
    (60, "dL/dtheta_1a", "unreadable"),          # the formula ends with '+'
]


def test_every_verdict_of_a_chinese_submission():
    results = check_file(HERE / "submission_zh.md")
    assert [(r.answer.line, r.answer.quantity, r.status) for r in results] == EXPECTED
    unmatched, cut = results[-2:]
    assert "cannot tell which quantity" in unmatched.message and "z_{FC_{2b}}" in unmatched.message
    assert cut.message.startswith("at position 21:")
    assert all(r.answer.file.endswith("submission_zh.md") for r in results)


def test_the_submission_as_json(capsys):
    assert main(["check", str(HERE / "submission_zh.md"), "--json"]) == 1
    objects = json.loads(capsys.readouterr().out)
    assert [(o["line"], o["status"]) for o in objects] == [(line, status) for line, _, status in EXPECTED]
    assert objects[0]["source"] == r"\hat{x}_{i}"


def test_forward_equations_and_prose_are_not_answers():
    text = "前向：\n$$z_{1a} = \\theta_{1a}x + b_{1a} \\\\ \\mu = \\frac{1}{m}\\sum_i x_i$$\n得到残差。\n"
    assert read_submission(text) == []


def test_the_question_label_or_the_prose_names_the_layer():
    eq = "$$\\frac{\\partial y_j}{\\partial x_i} = \\delta_{ij}[z_j > 0]$$"
    assert read_submission("1.2.(ii)\n" + eq)[0].quantity == "dropout: dy_j/dx_i"
    relu = "$$\\frac{\\partial a_j}{\\partial z_i} = \\delta_{ij}[z_j > 0]$$"
    (answer,) = read_submission("For the ReLU layer:\n" + relu)
    assert answer.quantity == "relu: da_j/dz_i" and grade(answer).status == "correct"
    (answer,) = read_submission("Some layer\n" + eq)
    assert answer.quantity == "" and "cannot tell" in grade(answer).message


def test_notation_variants():
    cases = {
        r"\hat{x_{i}}": r"\hat{x}_{i}",
        r"\Sigma^{m}_{i=1} x_i": r"\sum_{i=1}^{m} x_i",
        r"a \bigodot b": r"a \odot b",
        r"\delta_{i,j}": r"\delta_{ij}",
        r"log(z) + \log(z)": r"\log(z) + \log(z)",
        r"sgn(z_j)": r"\operatorname{sgn}(z_j)",
        r"\mu_B + \sigma_{B}": r"\mu + \sigma",
        r"||y_{a}||^2_2": r"\sum_{k} (y_{a,k})^2",
        r"x \tag{3}": "x",
        r"<u>x</u>": "x",
    }
    for written, read in cases.items():
        assert normalize(written) == read, written
    assert grade(Answer("relu: da/dz", normalize(r"sgn(z_j)\delta_{i,j}"), 1)).status == "wrong"


def test_a_file_without_any_derivative_is_named(tmp_path, capsys):
    path = tmp_path / "empty.md"
    path.write_text("# 作业\n$$ z = \\theta x $$\n")
    assert main(["check", str(path)]) == 2
    assert "empty.md: no derivative found" in capsys.readouterr().err


PIECES = ["$$", "\\[", "\\]", "\\\\", "&", "=", "\\frac{\\partial L}{\\partial \\theta_{2b}}", "\\delta_{z_{2b}}",
          "\\frac{\\partial y_i}{\\partial x_j}", "1.1.(i)", "1.3", "softmax", "\n", "<u>", "</u>", "\\tag{1}",
          "\\begin{aligned}", "\\end{aligned}", "\\begin{cases}", "\\end{cases}", "x", "g_j", "\\hat{x_{i}}", "{",
          "}", "(", ")", "||", "^2_2", "\\Sigma", "sgn", "log", "得到残差", "\\delta^{(", "z_{1a}", ")}"]


@settings(max_examples=120, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=25).map(" ".join) | st.text(max_size=200))
def test_reading_and_grading_any_submission_never_raises(text):
    for answer in read_submission(text, "fuzz.md"):
        assert answer.line >= 1
        if answer.quantity.startswith(("batchnorm", "dropout", "softmax", "relu")) or not answer.quantity:
            result = grade(answer)  # layer answers only: the network is derived elsewhere
            assert result.status in ("correct", "wrong", "unreadable")


def test_every_verdict_of_a_batch_major_submission():
    results = check_file(HERE / "submission_en.md")
    assert [(r.answer.line, r.answer.quantity, r.status) for r in results] == [
        (4, "dropout: dy_j/dx_i", "correct"),       # \[ \] blocks, bold labels, inline math in the prose
        (7, "softmax: dg_j/dz_i", "correct"),
        (10, "batchnorm: dy_i/dx_j", "wrong"),      # x_i - \sigma where x_i - \mu belongs
        (14, "delta_z_2b", "correct"),
        (16, "dL/dtheta_2b", "wrong"),              # c^T delta: the transpose
        (18, "dL/dgamma", "correct"),
        (20, "delta_yhat_a", "wrong"),              # theta_2b not split at the concatenation
        (22, "dL/db_1a", "correct"),
        (24, "dL/dtheta_1a", "correct"),
        (26, "", "unreadable"),                     # W is not a parameter of the network
    ]
    assert results[4].counterexample["shapes"] == {"yours": (10, 7), "right": (7, 10)}
    assert "do not fit" in results[6].message
    bn = results[2].counterexample
    assert bn["where"].startswith("feature") and {"mu", "var", "xhat"} <= set(bn["values"])


def test_an_answer_using_a_residual_by_name_says_it_is_marked_follow_through():
    uses = grade(Answer("dL/dtheta_2a", r"\delta_{\hat{y}_{a}}^T d_{1a}", 1))
    plain = grade(Answer("delta_z_2b", r"\frac{1}{m}(\hat{y}_b - y_b)", 1))
    assert uses.status == "correct" and r"follow-through: \delta_{\hat{y}_{a}} taken as derived" in uses.message
    assert "follow-through" not in plain.message


def test_another_assignment_from_a_toml_file(tmp_path, capsys, monkeypatch):
    import custom_layers

    from symderiv.layers import LAYERS
    for cls in custom_layers.CUSTOM_LAYERS:
        monkeypatch.setitem(LAYERS, cls.op, cls)
    assignment = tmp_path / "hw2.toml"
    assignment.write_text('[questions]\n"3" = "tanh"\n"3.2" = "layernorm"\n')
    sub = tmp_path / "hw2.md"
    sub.write_text("3.1\n$$\\frac{\\partial y_j}{\\partial x_i} = (1 - y_j^2)\\delta_{ij}$$\n"
                   "3.2.(i)\n$$\\frac{\\partial y_i}{\\partial \\beta} = 2$$\n")
    assert main(["check", str(sub), "--assignment", str(assignment), "--json"]) == 1
    objects = json.loads(capsys.readouterr().out)
    assert [(o["quantity"], o["status"]) for o in objects] == [("tanh: dy_j/dx_i", "correct"),
                                                              ("layernorm: dy_i/dbeta", "wrong")]
    assignment.write_text('[questions]\n"3" = "frobnicate"\n')
    assert main(["check", str(sub), "--assignment", str(assignment)]) == 2
    assert "hw2.toml: [questions] '3' = 'frobnicate'" in capsys.readouterr().err


SIDE_BY_SIDE = r"""**1.1 Batch norm**

$$\frac{\partial y_i}{\partial \gamma} = \hat{x}_i, \qquad \frac{\partial y_i}{\partial \beta} = \hat{x}_i$$
$$\frac{\partial y_i}{\partial \gamma} = \hat{x}_i \quad \text{and} \quad \frac{\partial y_i}{\partial \beta} = 1$$

**1.2 Dropout**

$$\frac{\partial y_j}{\partial x_i} = \begin{cases} \frac{1}{1-p} & i=j, r_j \ge p \\ 0 & \text{otherwise}\end{cases}$$
$$\frac{\partial y_j}{\partial x_i} = \begin{cases} \frac{1}{1-p} & i=j, r_j < p \\ 0 & \text{otherwise}\end{cases}$$

Forward pass (one column per sample):

$$z_{1a} = \theta_{1a} x + b_{1a}, \quad a_{1a} = \mathrm{ReLU}(z_{1a})$$

$$\delta_{z_{2b}} = \frac{1}{m}(\hat y_b - y_b); \quad \frac{\partial L}{\partial \theta_{2b}} = \delta_{z_{2b}} c_{2b}^T$$

$$\frac{\partial L}{\partial \theta_{2b}} = c_{2b}^T \delta_{z_{2b}} \quad \text{for every sample}$$
"""


def test_equations_side_by_side_and_conditions_joined_by_commas(tmp_path):
    """``A = a, \\qquad B = b`` is two answers (the first was graded by the second's right-hand side); a comma
    between two conditions of a cases row means both hold (it was refused as unreadable); the forward pass written
    side by side still tells the column convention."""
    path = tmp_path / "side.md"
    path.write_text(SIDE_BY_SIDE)
    results = check_file(path)
    assert [(r.answer.line, r.answer.quantity, r.status) for r in results] == [
        (3, "batchnorm: dy_i/dgamma", "correct"),
        (3, "batchnorm: dy_i/dbeta", "wrong"),
        (4, "batchnorm: dy_i/dgamma", "correct"),     # \quad \text{and} \quad between the two
        (4, "batchnorm: dy_i/dbeta", "correct"),
        (8, "dropout: dy_j/dx_i", "correct"),
        (9, "dropout: dy_j/dx_i", "wrong"),           # r_j < p: the dropped units
        (15, "delta_z_2b", "correct"),
        (15, "dL/dtheta_2b", "correct"),              # columns: delta c^T
        (17, "dL/dtheta_2b", "wrong"),                # c^T delta: the shapes do not fit
    ], [(r.answer.line, r.answer.quantity, r.status, r.message[:60]) for r in results]


def test_a_derivative_written_with_a_slash_nabla_or_bold_symbols_is_an_answer():
    """``\\partial L / \\partial z``, ``\\nabla_{\\theta} L``, ``\\boldsymbol{\\theta}``, ``\\mathcal{L}``: each was
    unreadable or (nabla) silently taken for the forward pass."""
    text = "\n\n".join([
        r"$$\partial L / \partial z_{2b} = \frac{1}{m}(\hat{y}_b - y_b)$$",
        r"$$\nabla_{\theta_{2b}} L = \delta_{z_{2b}}^\top c_{2b}$$",
        r"$$\nabla_{\theta_{2b}} \mathcal{L} = c_{2b}^\top \delta_{z_{2b}}$$",
        r"$$\frac{\partial L}{\partial \boldsymbol{\theta}_{1a}} = \delta_{z_{1a}}^{T} \mathbf{x}$$",
    ])
    graded = [(a.quantity, grade(a).status) for a in read_submission(text, "forms.md")]
    assert graded == [("delta_z_2b", "correct"), ("dL/dtheta_2b", "correct"), ("dL/dtheta_2b", "wrong"),
                      ("dL/dtheta_1a", "correct")], graded


def test_a_network_answer_uses_the_index_letters_its_left_hand_side_gives():
    """``\\frac{\\partial L}{\\partial b_{2b,u}} = \\sum_i \\delta_{z_{2b},iu}`` is right: its free index is u, as the
    left-hand side says (it was graded with the default letter j, u taken as 1: a right answer marked wrong); a tag
    such as the a of \\hat{y}_a is not a letter."""
    text = "\n\n".join([
        r"$$\frac{\partial L}{\partial b_{2b,u}} = \sum_{i=1}^{m} \delta_{z_{2b},iu}$$",
        r"$$\frac{\partial L}{\partial \gamma_u} = \sum_i \delta_{n_{1b},iu} \hat{x}_{iu}$$",
        r"$$\frac{\partial L}{\partial \theta_{2b,uv}} = \sum_i \delta_{z_{2b},iv} c_{2b,iu}$$",
        r"$$\delta_{z_{2b},iu} = \frac{1}{m}(\hat y_{b,iu} - y_{b,iu})$$",
        r"$$\frac{\partial L}{\partial \hat{y}_a} = \frac{1}{m}(\hat y_a - y_a)$$",
    ])
    answers = read_submission(text, "letters.md")
    assert [a.letters for a in answers] == ["u", "u", "uv", "iu", ""]
    assert [grade(a).status for a in answers] == ["correct", "correct", "wrong", "correct", "wrong"]


def test_mu_b_before_a_closing_brace_and_a_sample_as_a_column_vector():
    """``\\frac{x_i - \\mu_B}{...}``: the closing brace after ``\\mu_B`` was taken as part of its subscript (the
    formula became unreadable); ``\\sum_i \\delta^{(i)} x^{(i)T}`` in a batch-major file is a sum of outer products
    of column vectors, as mathematics writes a sample (it was read with rows: "shapes do not fit")."""
    text = "\n\n".join([
        "1.1.(i)",
        r"$$\frac{\partial y_i}{\partial \gamma} = \frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}$$",
        r"$$\frac{\partial L}{\partial \theta_{1b}} = \sum_{i=1}^{m} \delta_{z_{1b}}^{(i)} x^{(i)T}$$",
        r"$$\frac{\partial L}{\partial \theta_{1b}} = \sum_{i=1}^{m} x^{(i)} \delta_{z_{1b}}^{(i)T}$$",
    ])
    assert normalize(r"\frac{x - \mu_B}{s} + \mu_{B}") == r"\frac{x - \mu}{s} + \mu"
    assert [grade(a).status for a in read_submission(text, "samples.md")] == ["correct", "correct", "wrong"]


def test_a_sentences_full_stop_or_comma_at_the_end_of_a_row_is_not_math():
    """``... & \\text{if } i \\neq j. \\end{cases}`` was unreadable ('expected a term, found .')."""
    softmax = (r"\begin{cases} g_j \cdot (1 - g_j) & \text{if } i = j, \\ -\, g_i \, g_j & \text{if } i \neq j. "
               r"\end{cases}")
    assert normalize(softmax).endswith(r"\text{if } i \neq j \end{cases}") and normalize("x_i.") == "x_i"
    assert normalize(r"0,i \neq j \lor r_{j}<p") == r"0,i \neq j \lor r_{j}<p"  # a comma inside a row stays
    (answer,) = read_submission("1.3.(ii)\n$$\\frac{\\partial g_j}{\\partial z_i} = " + softmax + "$$", "stop.md")
    assert grade(answer).status == "correct"


def test_a_weight_block_written_after_the_subscript():
    """``\\theta_{2b}^{a}`` is the block ``\\theta^{a}_{2b}`` (it was read as a power of an unknown array a)."""
    assert normalize(r"\left(\theta_{2b}^{a}\right)^T") == r"\left(\theta^{a}_{2b}\right)^T"
    assert normalize(r"\theta_{2b}^{T} x") == r"\theta_{2b}^{T} x"  # a transpose stays one
    (answer,) = read_submission(r"$$\frac{\partial L}{\partial \hat{y}_a} = \frac{1}{m}(\hat{y}_a - y_a) + "
                                r"\delta_{z_{2b}} \theta_{2b}^{a}$$", "block.md")
    assert grade(answer).status == "correct"


def test_a_capital_letter_in_matrix_form_is_the_batch_matrix_of_that_array():
    """``\\hat{Y}_b - Y_b``: the batch matrices of \\hat{y}_b and y_b (they were unknown arrays); a capital that is
    an array of its own (the mask M) keeps its meaning."""
    right = r"$$\delta_{z_{2b}} = \frac{1}{m}\left(\hat{Y}_b - Y_b\right)$$"
    mask = r"$$\frac{\partial L}{\partial a_{1a}} = \frac{M \odot \delta_{d_{1a}}}{1-p}$$"
    graded = [grade(a).status for a in read_submission(right + "\n\n" + mask, "capitals.md")]
    assert graded == ["correct", "correct"]


def test_an_indicator_with_set_braces():
    """``\\mathbb{1}\\{r_j \\geq p\\}`` (it was unreadable: only [..], {..} and (..) were read)."""
    (answer,) = read_submission("1.2.(i)\n$$\\frac{\\partial y_j}{\\partial x_i} = \\delta_{ij} "
                                "\\frac{\\mathbb{1}\\{r_j \\ge p\\}}{1-p}$$", "braces.md")
    assert grade(answer).status == "correct"


def test_a_label_after_a_word_and_cases_written_as_an_array():
    """``## 问题 1.1`` (or "Question 1.1") is the question label 1.1 (its answers were unreadable: no layer), and
    ``\\left\\{\\begin{array}{ll} ... \\end{array}\\right.`` is a cases environment (unreadable before; its final
    ``\\right.`` is not a sentence's full stop)."""
    text = ("## 问题 1.1\n$$\\frac{\\partial y_i}{\\partial\\gamma}=\\hat{x}_i$$\n"
            "### Question 1.3\n$$\\frac{\\partial g_j}{\\partial z_i}=\\left\\{\\begin{array}{ll} g_i(1-g_i) & i=j \\\\ "
            "-g_ig_j & i\\neq j\\end{array}\\right.$$\n")
    answers = read_submission(text, "labels.md")
    assert [(a.quantity, grade(a).status) for a in answers] == [("batchnorm: dy_i/dgamma", "correct"),
                                                                ("softmax: dg_j/dz_i", "correct")]


def test_a_shape_said_beside_the_formula_is_not_part_of_it():
    """``\\delta_{z_{1b}}^T x \\in \\mathbb{R}^{n_{1b} \\times n_x}`` (unreadable before: 'expected a term, found \\in')."""
    assert normalize(r"\delta^T x \in \mathbb{R}^{n_{1b} \times n_x}") == r"\delta^T x"
    (answer,) = read_submission(r"$$\frac{\partial L}{\partial \theta_{1b}} = \delta_{z_{1b}}^T x \in "
                                r"\mathbb{R}^{n_{1b} \times n_x}$$", "shape.md")
    assert grade(answer).status == "correct"


def test_a_spaced_block_row_of_arrays_is_their_concatenation():
    """``\\delta^T [n_{1b} \\;\\; \\hat{y}_a]`` is read as ``n_{1b} \\oplus \\hat{y}_a`` (it was read as a product and a
    right answer marked wrong: 'shapes do not fit'); an Iverson bracket or a bracketed sum is not a block row."""
    assert normalize(r"\left[ n_{1b} \;\; \hat{y}_a \right]") == r"(n_{1b} \oplus \hat{y}_a)"
    for kept in (r"[z_{1a} > 0]", r"[i = j]", r"\left[ m \delta_{ij} - 1 \right]"):
        assert normalize(kept) == kept
    (answer,) = read_submission(r"$$\frac{\partial L}{\partial \theta_{2b}} = \delta_{z_{2b}}^{\top} "
                                r"\left[ n_{1b} \;\; \hat{y}_a \right]$$", "block_row.md")
    assert grade(answer).status == "correct"
