"""The answer sheet's reasoning: no false vector equation, Block One from the network's own layers."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

import symderiv as sd
from symderiv.checking.submission_text import top_level_split
from symderiv.emitting.compile_latex import compile_pdf
from symderiv.emitting.sheet import render_sheet, sheet_data

sys.path.insert(0, str(Path(__file__).parent))
import network_zoo
from test_sheet import require_latexmk

NETWORKS = {"multitask": network_zoo.multitask, "skip": network_zoo.skip, "custom": network_zoo.custom,
            "two_losses": network_zoo.two_losses}


@pytest.fixture(scope="module", params=sorted(NETWORKS))
def data(request):
    return request.param, sheet_data(NETWORKS[request.param]())


def test_no_vector_equation_equates_arrays_of_different_lengths(data):
    """Every array a vector-form row shows has the length its place in the row needs (e.g. δ_{c,1:n})."""
    name, sheet = data
    assert sheet["vector_checks"], name
    for row in sheet["vector_checks"]:
        for tex, shown, needed in row["operands"]:
            if shown is not None:
                assert sp.simplify(shown - needed) == 0, f"{name}: {row['lhs']} = ... {tex}: {shown} vs {needed}"


def test_the_concatenation_split_is_written_with_slices():
    sheet = sheet_data(sd.networks.multitask())
    vector = {str(r["node"]): "\n".join(r["vector"]) for r in sheet["residuals"]}
    assert r"\delta_{c_{2b},1:n_{1b}}" in vector[r"n_{1b}"]
    assert r"\delta_{c_{2b},n_{1b} + 1:n_{1b} + n_{ya}}" in vector[r"\hat{y}_{a}"]


def test_block_one_has_one_section_per_layer_kind_of_the_network():
    titles = [s["title"] for s in sheet_data(network_zoo.custom())["block_one"]]
    assert "Batch normalization (training mode)" not in titles and "Softmax" not in titles
    assert any("Layer Norm" in t for t in titles) and any("Tanh" in t for t in titles)


def test_batch_norm_is_derived_through_its_intermediates():
    section = next(s for s in sheet_data(sd.networks.multitask())["block_one"] if s["title"].startswith("Batch"))
    rows = "\n".join(next(i for i in section["results"] if str(i["wrt"]) == "x")["rows"])
    for piece in [r"\frac{\partial \mu_{u}}{\partial x_{jv}}", r"\frac{\partial \sigma_{u}^{2}}{\partial x_{jv}}",
                  r"\frac{\partial \hat{x}_{iu}}{\partial x_{jv}}", r"\text{chain rule}"]:
        assert piece in rows, piece


def test_softmax_cross_entropy_states_the_one_hot_step():
    tex = render_sheet(sd.networks.multitask())
    assert r"\text{since $\sum_{k=1}^{n_{yb}} y_{b,ik} = 1$}" in tex
    assert r"\text{quotient rule" in tex
    for machine_made in [r"\text{for}\:", r"\texttt{yhat}", r"\texttt{x1}", "Jacobian with respect to",
                         r"- \mu_{w} + x_{kw}"]:
        assert machine_made not in tex, machine_made


@pytest.mark.parametrize("name", ["custom", "skip"])
def test_other_networks_sheets_compile(name, tmp_path):
    require_latexmk()
    tex = tmp_path / "answer_sheet.tex"
    tex.write_text(render_sheet(NETWORKS[name]()))
    assert compile_pdf(tex).read_bytes()[:5] == b"%PDF-"


class Soft_Plus(sd.Layer):  # a user's class name with an underscore, a LaTeX special
    op = "soft_plus"
    signature = "x[m, n] -> y[m, n]"

    def forward(self, f, x):
        return lambda i, u: sp.log(1 + sp.exp(x[i, u]))


def softplus_network() -> sd.Network:
    """A small network through the user layer :class:`Soft_Plus` (registered here)."""
    sd.register_layer(Soft_Plus)
    net = sd.Network("softplus")
    net.sizes("n_x", "n_y")
    net.input("x", "m, n_x")
    net.input("y", "m, n_y")
    net.param("W", "n_y, n_x")
    net.param("c", "n_y")
    net.node("z", "linear", x="x", theta="W", b="c")
    net.node("a", "soft_plus", x="z")
    net.node("loss", "mse", yhat="a", y="y")
    net.loss("loss")
    return net


def test_a_users_layer_name_is_escaped_everywhere():
    tex = render_sheet(softplus_network())
    assert "Soft_Plus" not in tex and r"Soft\_Plus" in tex


@pytest.mark.parametrize("name", [n for n in sd.networks.shipped() if n != "multitask"])
def test_example_networks_sheets_compile_with_their_own_layers(name, tmp_path):
    """Each example network's sheet compiles, and Block One has a section for each kind of layer it uses."""
    require_latexmk()
    net = sd.networks.load(network=name)
    tex = tmp_path / "answer_sheet.tex"
    tex.write_text(render_sheet(net))
    assert compile_pdf(tex).read_bytes()[:5] == b"%PDF-"
    for layer in {type(layer) for layer in net.validate().layers.values()}:
        assert rf"\subsection*{{{layer.title}}}" in tex.read_text(), layer.op


@pytest.mark.parametrize("name", ["cnn", "transformer"])
def test_the_chain_rule_sums_over_distinct_letters_none_of_them_the_differentiated_elements(name):
    """A consumer with several feature axes gets one letter per axis (``j, w_1, w_2, w_3``), none of them a letter
    of the element the residual is taken at (a 4-D ``a_{conv,iuvw}`` against a 4-D pooled consumer)."""
    tex = render_sheet(sd.networks.load(network=name))
    chains = [line for line in tex.splitlines() if line.startswith(r" &= \sum_{") and r"\text{chain rule" in line]
    assert len(chains) >= 5, chains
    for line in chains:
        summed = re.match(r" &= \\sum_\{((?:[^{}]|\{[^{}]*\})*)\}", line).group(1)
        letters = [piece for piece, _ in top_level_split(summed, ",")]
        assert len(letters) == len(set(letters)), line
        denominator = re.search(r"\}\{\\partial (.*?\})\}", line).group(1)  # the element differentiated against
        own = re.search(r"_\{(?:[^{},]*,)?([a-z]+)\}$", denominator).group(1)
        assert not set(letters) & set(own), (letters, denominator)


@pytest.mark.parametrize("name", ["multitask", "mlp", "cnn"])
def test_no_formula_runs_into_the_margin(name, tmp_path):
    require_latexmk()
    tex = tmp_path / "answer_sheet.tex"
    tex.write_text(render_sheet(sd.networks.load(network=name)))
    subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                   capture_output=True, check=True, timeout=300)
    log = (tmp_path / "answer_sheet.log").read_text(errors="replace")
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull \\hbox.*", log)[:5]
