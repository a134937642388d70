"""A submission in the course's column convention with the student's own names: forward pass, aliases, renamings."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from symderiv.checking import check_file, grade
from symderiv.checking.latex_parser import parse
from symderiv.checking.prose import declared_convention, renamings, residual_names
from symderiv.checking.quantities import _default_network
from symderiv.checking.student_names import Names
from symderiv.checking.submission import normalize, read_submission
from symderiv.cli import main

HERE = Path(__file__).parent / "answers"

EXPECTED = [  # (line, quantity, status): every derivative of tests/answers/submission_columns_zh.md
    (7, "batchnorm: dy_i/dgamma", "correct"),
    (8, "batchnorm: dy_i/dbeta", "wrong"),         # \hat{x_i} where 1 belongs
    (12, "dropout: dy_j/dx_i", "wrong"),           # the 1/(1-p) is missing
    (13, "dropout: dy_j/dx_i", "correct"),
    (16, "softmax: dg_j/dz_i", "correct"),
    (38, "delta_z_2b", "correct"),                 # \partial z_{FC_{2b}}: the student's name of z_2b
    (41, "dL/dtheta_2b", "correct"),               # \delta^{(FC_{2b})}(a_{BN_{1b}} \oplus \hat y_a)^T: n x m residual
    (42, "dL/db_2b", "correct"),                   # a sum of sample columns \hat y_b^{(i)}
    (43, "dL/db_2b", "wrong"),                     # the 1/m is missing
    (46, "delta_n_1b", "correct"),                 # (\theta^{n}_{2b})^T \delta^{(FC_{2b})}
    (50, "batchnorm: dy_j/dx_i", "correct"),       # under the renaming: y is a_{BN_{1b}}, x is a_{FC_{1b}}
    (51, "batchnorm: dy_j/dx_i", "wrong"),         # diagonal: the Jacobian couples the batch
    (53, "dL/dgamma", "correct"),                  # \sum_i over the columns
    (54, "dL/dbeta", "wrong"),                     # \odot a_{BN_{1b}}: nothing to multiply
    (57, "delta_yhat_a", "wrong"),                 # \delta\theta^{a}: the batch-major product, shapes do not fit
    (58, "delta_yhat_a", "correct"),
    (60, "dL/dtheta_2a", "correct"),               # a_{DP_{1a}}: the dropout node, matched by its arguments
    (62, "delta_z_1a", "correct"),                 # [z_{FC_{1a}} > 0], the alias \delta^{(FC_{2a})}
    (65, "dL/dtheta_1a", "correct"),
    (66, "dL/db_1a", "wrong"),                     # the sum over the batch is missing: shape (n, m)
    (69, "delta_z_1b", "wrong"),                   # the batch norm skipped
    (70, "dL/dtheta_1b", "unreadable"),            # \delta^{(FC_{1b})} was never named
    (71, "", "unreadable"),                        # W_3 is not the network's
    (73, "dL/db_2a", "correct"),                   # index form (sample first) with the alias \delta^{(FC_{2a})}_{ij}
    (74, "dL/db_2a", "wrong"),                     # a 1/m too many
    (78, "relu: da_j/dz_i", "correct"),            # 对于ReLU层: the layer named in Chinese prose
    (79, "relu: da_j/dz_i", "wrong"),              # sgn where the step belongs
]


def test_every_verdict_of_a_column_convention_submission():
    results = check_file(HERE / "submission_columns_zh.md")
    assert [(r.answer.line, r.answer.quantity, r.status) for r in results] == EXPECTED
    by_line = {r.answer.line: r for r in results}
    assert all(r.answer.columns == r.answer.quantity.startswith(("delta_", "dL/d")) for r in results)
    assert "per-sample columns" in by_line[41].message
    assert r"follow-through: \delta^{(FC_{2b})} taken as derived" in by_line[41].message
    assert "follow-through" not in by_line[38].message
    assert "do not fit" in by_line[57].message and "(7, 2) and (7, 6)" in by_line[57].message
    assert by_line[66].counterexample["shapes"] == {"yours": (3, 2), "right": (3,)}
    assert by_line[70].message.startswith(r"at position 0: unknown residual \delta_{FC_{1b}}: no node")
    assert by_line[43].counterexample["values"]["x"].shape == (5, 2)  # shown as the student has it: n_x x m
    assert by_line[69].counterexample["where"] == "row 1, column 1 of yours (a column per sample)"
    assert by_line[69].counterexample["entry"] == {"i": 1, "j": 1}


def test_the_column_submission_as_json_and_in_time(capsys):
    start = time.perf_counter()
    assert main(["check", str(HERE / "submission_columns_zh.md"), "--json"]) == 1
    elapsed = time.perf_counter() - start
    objects = json.loads(capsys.readouterr().out)
    assert [(o["line"], o["quantity"], o["status"]) for o in objects] == EXPECTED
    assert all(o["file"].endswith("submission_columns_zh.md") for o in objects)
    assert elapsed < 5


def test_the_forward_pass_names_the_nodes():
    names = Names(_default_network())
    learn = lambda text: names.forward(*_chain(text))
    assert learn(r"z_{FC_{1a}} = \theta_{1a}x + b_{1a}") == "z_1a"          # by its value, in columns only
    assert names.votes == [True]
    assert learn(r"h_{1a} = x\theta_{1a}^{T} + b_{1a}") == "z_1a"           # by its value, batch-major
    assert names.votes == [True, False]
    assert learn(r"a_{FC_{1a}} = ReLU(z_{FC_{1A}})") == "a_1a"             # by its layer; a case slip
    assert learn(r"a_{DP_{1a}} = M \bigodot a_{FC_{1a}}") == "d_1a"        # by its arguments
    assert learn(r"\hat y_{a} = a_{FC_{2a}} = \theta_{2a}a_{DP_{1a}} + b_{2a}") == "yhat_a"
    assert learn(r"a_{BN_{1b}} = BN_{\gamma,\beta}(\mathrm{ReLU}(z_{1b}))") is None  # an argument that is no name
    assert learn(r"r_{1b} = \operatorname{ReLU}(z_{1b})") == "a_1b"
    assert learn(r"a_{BN_{1b}} = BN_{\gamma,\beta}(r_{1b})") == "n_1b"
    assert learn(r"\mu = \frac{1}{m}\sum_{k=1}^{m} x_k") is None            # not a node of the network
    assert learn(r"x = ReLU(z_{1a})") == "a_1a" and names.meaning(parse("x")) == "x"  # an input keeps its meaning
    assert names.node_quantity(parse("a_{fc_{2A}}")) == "yhat_a"
    assert names.node_quantity(parse("x")) is None
    assert names.node_quantity(parse("q_{1a}")) is None


def _chain(text: str):
    parts = [p.strip() for p in normalize(text).split("=")]
    return parts[:-1], parts[-1]


def test_prose_patterns():
    items = renamings(r"对于BN层，记输出$a_{BN_{1b}}$为$y$，记输入a_{FC_{1b}}为x")
    assert [(role, name.sub if name else None, letter) for role, name, letter in items] == [
        ("output", ("BN_1b",), "y"), ("input", ("FC_1b",), "x")]
    items = renamings("For this layer, call the output $a_{BN_{1b}}$ $u$ and the input $v$.")
    assert [(role, letter) for role, _, letter in items] == [("output", "u"), ("input", "v")]
    assert [(r, n, t) for r, n, t in renamings("denote the input by $t$; write s for the output")] == [
        ("input", None, "t"), ("output", None, "s")]
    assert renamings("the output and the input of the layer") == []
    assert [(s.sub, t) for s, t in residual_names(r"，得到残差$\delta^{(FC_{2b})}$。")] == [
        (("FC_2b",), r"\delta^{(FC_{2b})}")]
    assert [s.sub for s, _ in residual_names(r"denote it $\delta^{(h2)}_{j}$")] == [("h2", "j")]
    assert residual_names(r"denote it $\delta^{(i)}$") == []                  # (i): a sample, not a name
    assert residual_names(r"and then $\delta^{(FC_{2b})}$ again") == []      # no naming word
    assert (declared_convention("每一列是一个样本"), declared_convention("rows are samples"),
            declared_convention("作业")) == (True, False, None)


LAYER_RENAMED = """2.(ii)
$$a_{FC_{1b}} = ReLU(z_{1b}) \\\\ a_{BN_{1b}} = BN_{\\gamma,\\beta}(a_{FC_{1b}})$$
记输出$a_{BN_{1b}}$为$u$，记输入$a_{FC_{1b}}$为$v$：
$$\\frac{\\partial u_j}{\\partial v_i} = \\frac{\\gamma}{m\\sqrt{\\sigma^2+\\epsilon}}\\left(m\\delta_{ij} - 1 - \\frac{(v_i-\\mu)(v_j-\\mu)}{\\sigma^2+\\epsilon}\\right)$$
$$\\frac{\\partial u_j}{\\partial v_i} = \\frac{\\gamma}{m\\sqrt{\\sigma^2+\\epsilon}}\\left(m\\delta_{ij} - 1 - \\frac{(v_i-\\sigma)(v_j-\\mu)}{\\sigma^2+\\epsilon}\\right)$$
For the next layer, call the output $s$ and the input $t$ (softmax).
$$\\frac{\\partial s_j}{\\partial t_i} = s_j(\\delta_{ij} - s_i)$$
2.(iii)
$$\\frac{\\partial u_j}{\\partial v_i} = 1$$
"""


def test_a_local_renaming_decides_the_layer_and_the_letters():
    answers = read_submission(LAYER_RENAMED, "renamed.md")
    assert [a.quantity for a in answers] == ["batchnorm: dy_j/dx_i", "batchnorm: dy_j/dx_i",
                                             "softmax: dg_j/dz_i", ""]  # out of the renaming's scope: unknown
    assert [grade(a).status for a in answers] == ["correct", "wrong", "correct", "unreadable"]
    assert answers[-1].file == "renamed.md" and answers[-1].line == 9


def test_a_declaration_in_the_prose_decides_the_convention():
    body = "$$\\frac{\\partial L}{\\partial \\theta_{1a}} = \\delta_{z_{1a}}x^{T}$$\n"
    forward = "$$z_{1a} = \\theta_{1a}x + b_{1a}$$\n"
    for prose, expected in [("", "wrong"), ("每一列是一个样本。\n", "correct"), (forward, "correct"),
                            ("(batch-major: rows are samples)\n" + forward, "wrong")]:
        (answer,) = read_submission(prose + body)
        assert grade(answer).status == expected, prose


def test_a_mixed_file_is_read_in_the_convention_of_its_forward_pass():
    text = (HERE / "submission_zh.md").read_text(encoding="utf-8")
    mixed = text.replace(r"z_{1a} = x\theta_{1a}^{T} + b_{1a}", r"z_{1a} = \theta_{1a}x + b_{1a}")
    assert mixed != text
    results = {a.line: grade(a) for a in read_submission(mixed, "mixed.md")}
    assert results[42].status == results[48].status == "wrong"  # batch-major answers in a column file
    assert "per-sample columns" in results[42].message
    assert results[41].status == "correct"  # elementwise: the same in both conventions


def test_a_residual_named_in_a_chain_or_in_words_inside_the_block():
    text = ("$$z_{FC_{2b}} = \\theta_{2b}(n_{1b} \\oplus \\hat{y}_a) + b_{2b}$$\n"
            "$$\\frac{\\partial L}{\\partial z_{FC_{2b}}} = \\delta^{(out)} = \\frac{1}{m}(\\hat{y}_b - y_b) \\\\"
            "\\frac{\\partial L}{\\partial b_{2b}} = \\sum_{i=1}^{m} \\delta^{(out)} \\\\"
            "\\frac{\\partial L}{\\partial n_{1b}} = (\\theta^{n}_{2b})^{T}\\delta^{(out)} ，记为\\delta^{(BN)}$$\n"
            "$$\\frac{\\partial L}{\\partial \\beta} = \\sum_{i=1}^{m}\\delta^{(BN)} \\\\ "
            "\\frac{\\partial L}{\\partial b_{2b}} = \\sum_{i=1}^{m}\\delta^{(BN)}$$\n"
            "$$\\delta^{(A)} = \\frac{\\partial L}{\\partial \\hat{y}_a} = \\frac{1}{m}(\\hat{y}_a - y_a) + "
            "(\\theta^{a}_{2b})^{T}\\delta^{(out)} \\\\ \\frac{\\partial L}{\\partial b_{2a}} = \\sum_{i=1}^{m}\\delta^{(A)}$$")
    answers = read_submission(text)
    assert [a.quantity for a in answers] == ["delta_z_2b", "dL/db_2b", "delta_n_1b", "dL/dbeta", "dL/db_2b",
                                             "delta_yhat_a", "dL/db_2a"]
    assert [grade(a).status for a in answers] == ["correct", "correct", "correct", "correct", "wrong", "correct",
                                                  "correct"]


PIECES = ["$$", "\\\\", "=", "z_{FC_{1a}}", "a_{FC_{1A}}", "\\theta_{1a}x + b_{1a}", "ReLU(", "BN_{\\gamma,\\beta}(",
          ")", "\\delta^{(FC_{2b})}", "，得到残差", "记输出", "为", "y", "记输入", "x", "\\frac{\\partial L}{\\partial ",
          "}", "{", "\\hat y_b^{(i)}", "^{(", "\\sum_{i=1}^{m}", "(a_{BN_{1b}} \\oplus \\hat y_{a})^{T}", "\n", "2.(ii)",
          "每一列是一个样本", "call the output", "\\odot", "^{T}", "\\frac{\\partial y_j}{\\partial x_i}"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30).map(" ".join))
def test_reading_and_grading_names_never_raises(text):
    start = time.perf_counter()
    for answer in read_submission(text, "fuzz.md"):
        assert answer.line >= 1 and re.fullmatch(r"[^\n]*", answer.quantity)
        assert grade(answer).status in ("correct", "wrong", "unreadable")
    assert time.perf_counter() - start < 20


def test_a_grader_name_the_student_gives_to_another_node_means_the_student_s():
    text = ("$$r_{1b} = ReLU(z_{1b}) \\\\ a_{1b} = BN_{\\gamma,\\beta}(r_{1b})$$\n"  # their a_{1b} is the BN output
            "$$\\frac{\\partial L}{\\partial a_{1b}} = \\delta_{z_{2b}}\\theta^{n}_{2b} \\\\"
            "\\frac{\\partial L}{\\partial \\beta} = \\sum_{i=1}^{m} \\delta_{a_{1b}}$$")
    answers = read_submission(text)
    assert [a.quantity for a in answers] == ["delta_n_1b", "dL/dbeta"]
    assert [grade(a).status for a in answers] == ["correct", "correct"]


def test_long_lines_are_read_in_bounded_time():
    read_submission("$$\\frac{\\partial L}{\\partial z_{2b}} = 1$$")  # the network, derived once
    for text in ["#" + " " * 20_000 + "x\n", "记输出" + " " * 20_000 + "为 y\n", "call the output " + "a_{1} " * 5_000,
                 "残差 " + "\\delta^{" * 5_000 + "\n", "$$ z_{1} = ReLU(" + "x " * 20_000 + ") $$\n",
                 "$$ \\frac{\\partial L}{\\partial z_{2b}} = " + "(" * 20_000 + "得到 $$\n"]:
        start = time.perf_counter()
        read_submission(text, "long.md")
        assert time.perf_counter() - start < 2, text[:40]
