"""REPL and notebook display: short reprs, forward equations in LaTeX/HTML, net.node(name) gets a node."""
import pytest

import symderiv as sd
from symderiv.graph.spec import Node


@pytest.fixture(scope="module")
def net():
    return sd.networks.multitask()


def test_network_repr_is_short_and_says_what_it_is(net):
    text = repr(net)
    assert len(text) < 200 and text.startswith("<Network multitask: 12 nodes, sizes m, n_x")


def test_network_shows_its_forward_equations(net):
    latex = net._repr_latex_()
    assert latex.startswith("$\\displaystyle \\begin{aligned}") and latex.endswith("\\end{aligned}$")
    assert latex.count("&=") == len(net.forward_equations())
    html = net._repr_html_()
    assert html.count("<tr>") == len(net.nodes) + 1 and "linear(x=c_2b, theta=theta_2b, b=b_2b)" in html
    assert "&amp;=" in html and "\\begin{aligned}" in html


def test_an_invalid_network_still_displays():
    bad = sd.Network("bad")
    bad.sizes("n")
    assert bad._repr_latex_() is None and "<b>Network bad</b>" in bad._repr_html_()
    assert repr(bad) == "<Network bad: 0 nodes, sizes m, n; from <python>>"


def test_node_with_only_a_name_gets_that_node(net):
    node = net.node("z_2b")
    assert isinstance(node, Node) and repr(node) == "<Node z_2b = linear(x=c_2b, theta=theta_2b, b=b_2b)>"
    with pytest.raises(sd.NetworkError, match="no node 'z_9'; nodes: z_1a, a_1a"):
        net.node("z_9")
    fresh = sd.Network("f")
    assert fresh.node("a", "relu", z="x") is None and fresh.node("a").op == "relu"


def test_derivations_and_their_lists_display(net):
    derivations = net.derivations()
    assert repr(derivations).startswith("<derivations of multitask: 12 residuals (L_b, L_a,")
    assert derivations._repr_latex_().count("&=") == len(net.params)
    equations = net.forward_equations()
    assert isinstance(equations, list)
    lines = repr(equations).splitlines()
    assert lines[0] == f"12 nodes and the loss, {len(equations)} equations:" and lines[-1] == "  L = L_a + L_b"
    assert equations._repr_latex_().count("&=") == len(equations)


def test_a_verification_report_reads_as_a_sentence():
    text = repr(sd.Dropout().jacobian("x").verify())
    assert text.startswith("<VerificationReport: verified at m=3, n=2: 36 entries") and text.endswith(">")
