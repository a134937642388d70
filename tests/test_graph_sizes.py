"""Sizes are data, never code: the size grammar, its bounds, and size arithmetic through the size checker."""
from __future__ import annotations

import datetime

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symderiv as sd
from symderiv.graph.toml_loader import network_from_toml_text
from symderiv.layers.base import parse_size, size_symbol
from symderiv.layers.sizes import MAX_LENGTH, SizeError, parse_size_text

a, b, h, k = (size_symbol(n) for n in ("a", "b", "h", "k"))

GOOD = [
    ("n", size_symbol("n")),
    ("3", sp.Integer(3)),
    ("a + b", a + b),
    ("2*h - k + 1", 2 * h - k + 1),
    ("-(a - b)", b - a),
    ("(a + 1)*(b - 1)", (a + 1) * (b - 1)),
    ("a*b*h", a * b * h),
    ("  a\t+ 0 ", a),
    ("a - -b", a + b),
]


@pytest.mark.parametrize("text, expected", GOOD)
def test_sizes_in_the_grammar(text, expected):
    assert sp.expand(parse_size(text, {}) - expected) == 0


BAD = [
    ("n_y + 0*m.diff.__globals__['__builtins__']['__import__']('os').system('touch F')", "unexpected '.'"),
    ("9**9**9**9", "unexpected '*'"),
    ("n/2", "unexpected '/'"),
    ("a**2", "unexpected '*'"),
    ("", "is empty"),
    ("a b", "unexpected 'b'"),
    ("(a", "')' is expected"),
    ("a)", "unexpected ')'"),
    ("_a", "unexpected '_'"),
    ("1e3", "unexpected 'e3'"),
    ("nä", "unexpected 'ä'"),
    ("n\n", "unexpected '\\n'"),
    ("0x10", "unexpected 'x10'"),
    ("1000000", "too large"),
    ("999999*999999*999999", "too large"),
    ("a*a*a*a*a*a*a*a*a", "too large"),
    ("(a+b+1)*(a+b+1)*(a+b+1)*(a+b+1)*(a+b+1)*(a+b+1)", "too large"),
    ("(" * 30 + "a" + ")" * 30, "nested more than"),
    ("-" * 30 + "a", "nested more than"),
    ("a+" * 150 + "a", f"at most {MAX_LENGTH}"),
]


@pytest.mark.parametrize("text, words", BAD)
def test_sizes_outside_the_grammar_are_refused(text, words):
    with pytest.raises(SizeError) as caught:
        parse_size(text, {})
    assert words in str(caught.value)
    assert "whole numbers, + - * and parentheses" in str(caught.value) or "at most" in str(caught.value)


NETWORK = """
name = "tiny"
sizes = ["n_x", "n_y"]
[inputs]
x = "m, n_x"
y = "m, n_y"
[params]
W = "n_y, n_x"
c = "SIZE"
[[nodes]]
name = "z"
op = "linear"
args = {{ x = "x", theta = "W", b = "c" }}
[[nodes]]
name = "loss"
op = "mse"
args = {{ yhat = "z", y = "y" }}
[[losses]]
node = "loss"
"""


def tiny(size: str) -> str:
    return NETWORK.replace("SIZE", size.replace("\\", "\\\\").replace('"', '\\"')).replace("{{", "{").replace("}}", "}")


def test_a_size_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    target = tmp_path / "F"
    payload = f"n_y + 0*m.diff.__globals__['__builtins__']['__import__']('os').system('touch {target}')"
    spec = tmp_path / "net.toml"
    spec.write_text(tiny(payload))
    with pytest.raises(sd.NetworkError) as caught:
        sd.Network.from_toml(spec)
    message = str(caught.value)
    assert message.startswith(f"{spec}: parameter 'c', field 'shape': size ")
    assert "unexpected '.'" in message
    assert not target.exists()


def test_a_size_that_would_hang_is_refused():
    with pytest.raises(sd.NetworkError, match="parameter 'c', field 'shape'.*unexpected '\\*'"):
        network_from_toml_text(tiny("9**9**9**9"), source="net.toml")


@pytest.mark.parametrize("size, words", [("0", "must be at least 1"), ("n_y - n_y", "must be at least 1"),
                                          ("n_q", "unknown size(s) ['n_q']")])
def test_network_sizes_must_be_declared_and_positive(size, words):
    with pytest.raises(sd.NetworkError) as caught:
        network_from_toml_text(tiny(size), source="net.toml")
    assert words in str(caught.value) and "parameter 'c'" in str(caught.value)


def test_whole_number_shapes_in_a_list_are_bounded():
    net = sd.Network("n")
    net.input("x", ["m", 10**7])
    net.input("y", "m, 1")
    net.node("loss", "mse", yhat="x", y="y")
    net.loss("loss")
    with pytest.raises(sd.NetworkError, match="input 'x', field 'shape'.*out of range"):
        net.validate()


# ---- fuzzing: never a traceback, never a hang (every step is bounded by the grammar's limits) ----
SIZE_TEXT = st.text(alphabet=st.sampled_from(list("ab_n1 09+-*()/.'[]eé\t\n")), max_size=60)


@settings(max_examples=400, deadline=datetime.timedelta(seconds=5))
@given(SIZE_TEXT)
def test_fuzzed_size_text_parses_or_is_refused(text):
    try:
        expr = parse_size_text(text, {})
    except SizeError as exc:
        assert repr(text)[:20] in str(exc) or "characters long" in str(exc)
        return
    assert isinstance(expr, sp.Expr)
    assert all(s.is_integer and s.is_positive for s in expr.free_symbols)


def _tree():
    leaves = st.one_of(st.integers(0, 50).map(lambda n: (str(n), sp.Integer(n))),
                       st.sampled_from(["a", "b", "h"]).map(lambda n: (n, size_symbol(n))))

    def extend(children):
        return st.one_of(
            st.tuples(children, st.sampled_from("+-*"), children).map(
                lambda t: (f"({t[0][0]}) {t[1]} ({t[2][0]})",
                           t[0][1] + t[2][1] if t[1] == "+" else t[0][1] - t[2][1] if t[1] == "-"
                           else t[0][1] * t[2][1])),
            children.map(lambda c: (f"-({c[0]})", -c[1])))
    return st.recursive(leaves, extend, max_leaves=6)


@settings(max_examples=200, deadline=datetime.timedelta(seconds=5))
@given(_tree())
def test_the_parser_builds_what_the_text_says(pair):
    text, expected = pair
    try:
        got = parse_size_text(text, {})
    except SizeError as exc:  # only the documented bounds may refuse a well-formed size
        assert "too large" in str(exc) or "nested more than" in str(exc) or "characters long" in str(exc)
        return
    assert sp.expand(got - expected) == 0


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(SIZE_TEXT, st.sampled_from(["n_y", "n_x + n_y - n_x", "2*n_y - n_y", "(n_y)", "n_y*1"])))
def test_fuzzed_sizes_in_a_network_file_end_in_a_network_error_or_a_network(size):
    try:
        net = network_from_toml_text(tiny(size), source="fuzz.toml")
    except sd.NetworkError as exc:
        assert str(exc).startswith("fuzz.toml: ")
        return
    assert sp.expand(net.validate().shapes["c"][0] - size_symbol("n_y")) == 0


# ---- size arithmetic through the size checker -----------------------------------------------
class Halve(sd.Layer):
    """The first half of the features: sizes written with arithmetic in the signature."""

    op = "test_halve"
    signature = "x[m, 2*h] -> y[m, h]"

    def forward(self, f, x):
        return lambda i, u: x[i, u]


class Flatten(sd.Layer):
    op = "test_flatten"
    signature = "x[m, a, b] -> y[m, a*b]"

    def forward(self, f, x):
        return lambda i, u: x[i, 0, u]  # the shapes are what is tested here, not the formula


def arithmetic_net(x_shape: str, theta_shape: str) -> sd.Network:
    net = sd.Network("arith")
    net.sizes("c", "p", "q", "ph", "kh", "n_y")
    net.input("x", x_shape)
    net.input("y", "m, n_y")
    net.param("W", theta_shape)
    net.param("w0", "n_y")
    net.node("half", Halve, x="x")
    net.node("z", "linear", x="half", theta="W", b="w0")
    net.node("loss", "mse", yhat="z", y="y")
    net.loss("loss")
    return net


@pytest.mark.parametrize("x_shape, theta_shape, half", [
    ("m, 2*ph + kh - 1 - kh + 1", "n_y, ph", "ph"),
    ("m, 2*(p + q)", "n_y, q + p", "p + q"),
    ("m, 4*c", "n_y, 2*c", "2*c"),
])
def test_layer_sizes_are_solved_from_arithmetic(x_shape, theta_shape, half):
    checked = arithmetic_net(x_shape, theta_shape).validate()
    assert sp.expand(checked.node_shapes["half"][1] - parse_size(half, {})) == 0


@pytest.mark.parametrize("x_shape, theta_shape, words", [
    ("m, 2*ph + 1", "n_y, ph", "not a whole-number size"),
    ("m, 3", "n_y, ph", "not a whole-number size"),
    ("m, 4*c", "n_y, c", "sizes do not fit: 'W' has c along axis 1"),
])
def test_layer_sizes_that_cannot_be_solved_are_explained(x_shape, theta_shape, words):
    with pytest.raises(sd.NetworkError) as caught:
        arithmetic_net(x_shape, theta_shape).validate()
    assert words in str(caught.value)


def test_a_product_of_sizes_must_match_the_next_layer():
    net = sd.Network("flat")
    net.sizes("c", "ph", "pw", "n_y")
    net.input("x", "m, c, ph")
    net.input("y", "m, n_y")
    net.param("W", "n_y, ph*c")
    net.param("w0", "n_y")
    net.node("f", Flatten, x="x")
    net.node("z", "linear", x="f", theta="W", b="w0")
    net.node("loss", "mse", yhat="z", y="y")
    net.loss("loss")
    assert net.validate().node_shapes["f"][1] == size_symbol("c") * size_symbol("ph")
    net.param("W", "n_y, ph*pw")
    with pytest.raises(sd.NetworkError, match="node 'z'.*sizes do not fit: 'W' has ph\\*pw along axis 1"):
        net.validate()


def test_a_network_with_size_arithmetic_derives_the_torch_gradient():
    import numpy as np
    import torch
    net = arithmetic_net("m, 2*p + kh - 1 - kh + 1", "n_y, p")
    rng = np.random.default_rng(0)
    arrays = {"x": rng.normal(size=(3, 6)), "y": rng.normal(size=(3, 2)), "W": rng.normal(size=(2, 3)),
              "w0": rng.normal(size=2)}
    tensors = {n: torch.tensor(v, requires_grad=True) for n, v in arrays.items()}
    z = tensors["x"][:, :3] @ tensors["W"].T + tensors["w0"]
    (0.5 * ((z - tensors["y"]) ** 2).sum() / 3).backward()
    for name in ("W", "w0"):
        np.testing.assert_allclose(net.gradient(name).evaluate(**arrays), tensors[name].grad.numpy(), atol=1e-12)


def test_a_user_layer_with_a_size_outside_the_grammar_is_named():
    class Square(sd.Layer):
        op = "test_square_size"
        signature = "x[m, n**2] -> y[m, n]"

        def forward(self, f, x):
            return lambda i, u: x[i, u]

    net = sd.Network("sq")
    net.sizes("n")
    net.input("x", "m, n")
    net.input("y", "m, n")
    net.node("s", Square, x="x")
    net.node("loss", "mse", yhat="s", y="y")
    net.loss("loss")
    with pytest.raises(sd.NetworkError, match="node 's', field 'op': layer 'test_square_size' has an unusable "
                                              "signature: size 'n\\*\\*2': unexpected '\\*'"):
        net.validate()


class Unflatten(sd.Layer):
    op = "test_unflatten"
    signature = "x[m, a*b], s[a] -> y[m, b]"

    def forward(self, f, x, s):
        return lambda i, u: x[i, u] * s[0]  # the shapes are what is tested here


@pytest.mark.parametrize("x_shape, s_shape, out, words", [
    ("m, n*k", "n", "k", None),
    ("m, 2*n*k + 2*n", "2*n", "k + 1", None),
    ("m, n*k + 1", "n", None, "not a whole-number size"),
    ("m, k", "n", None, "not a whole-number size"),
])
def test_a_size_is_solved_through_a_product_with_a_known_size(x_shape, s_shape, out, words):
    net = sd.Network("unflat")
    net.sizes("n", "k")
    net.input("x", x_shape)
    net.param("s", s_shape)
    net.input("y", f"m, {out or 'k'}")
    net.node("u", Unflatten, x="x", s="s")
    net.node("loss", "mse", yhat="u", y="y")
    net.loss("loss")
    if words is None:
        assert sp.expand(net.validate().node_shapes["u"][1] - parse_size(out, {})) == 0
    else:
        with pytest.raises(sd.NetworkError, match=f"node 'u', field 'x'.*{words}"):
            net.validate()


class Scale(sd.Layer):
    op = "test_scale_sizes"
    signature = "x[m, a], s[m, a*h] -> y[m, h]"

    def forward(self, f, x, s):
        return lambda i, u: s[i, u]


def test_a_layer_size_is_solved_even_when_the_network_has_a_size_of_the_same_name():
    net = sd.Network("capture")
    net.sizes("h", "k")
    net.input("x", "m, h")  # the layer's a is the network's h
    net.input("s", "m, h*k")  # so the layer's h is the network's k
    net.input("y", "m, k")
    net.node("z", Scale, x="x", s="s")
    net.node("loss", "mse", yhat="z", y="y")
    net.loss("loss")
    assert net.validate().node_shapes["z"] == (size_symbol("m"), size_symbol("k"))
