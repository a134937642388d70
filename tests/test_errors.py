"""Bad input: every user mistake gets a clear error naming the place and what is accepted, never a traceback."""
import json
import subprocess
import sys
import tomllib

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symderiv as sd
from symderiv.graph.toml_loader import network_from_toml_text
from symderiv.networks import DEFAULT_NETWORK_FILE

DEFAULT = tomllib.loads(DEFAULT_NETWORK_FILE.read_text())


def dump_toml(data: dict) -> str:
    """A small TOML writer for the network format (strings, numbers, lists, inline tables)."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + "}"
        raise TypeError(v)
    def table_array(v):
        return isinstance(v, list) and v and all(isinstance(x, dict) for x in v)

    lines = [f"{json.dumps(k)} = {value(v)}" for k, v in data.items() if not isinstance(v, dict) and not table_array(v)]
    for key, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{json.dumps(key)}]")
            lines += [f"{json.dumps(k)} = {value(v)}" for k, v in table.items()]
    for key, items in data.items():
        if table_array(items):
            for item in items:
                lines.append(f"[[{json.dumps(key)}]]")
                lines += [f"{json.dumps(k)} = {value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def load(data) -> sd.Network:
    return network_from_toml_text(dump_toml(data), source="net.toml")


def test_the_dumper_round_trips_the_default_network():
    assert tomllib.loads(dump_toml(DEFAULT)) == DEFAULT
    assert load(DEFAULT).validate().order[-1] == "L_b"


def mutated(**changes):
    data = json.loads(json.dumps(DEFAULT))
    for path, new in changes.items():
        target = data
        *parts, last = path.split("/")
        for part in parts:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if new is None:
            del target[int(last) if isinstance(target, list) else last]
        else:
            target[int(last) if isinstance(target, list) else last] = new
    return data


@pytest.mark.parametrize("changes, words", [
    ({"nodes/0/op": "lineer"}, ["node 'z_1a'", "'op'", "unknown layer 'lineer'", "known layers"]),
    ({"nodes/0/args": {"x": "x", "theta": "theta_1a"}}, ["node 'z_1a'", "field 'b' is missing"]),
    ({"nodes/0/args": {"x": "x", "theta": "theta_1a", "b": "b_1a", "w": "x"}}, ["field 'w'", "it takes x, theta, b"]),
    ({"nodes/0/args/x": "nowhere"}, ["node 'z_1a'", "field 'x'", "'nowhere' is not an input"]),
    ({"nodes/0/args/x": "a_1a"}, ["node 'z_1a'", "used before it is computed", "cycles"]),
    ({"nodes/1/name": "z_1a"}, ["'z_1a' is already used"]),
    ({"nodes/1/name": "a-1a"}, ["'a-1a' is not a valid name"]),
    ({"params/theta_1a": "n_1a, n_1b"}, ["sizes do not fit", "node 'z_1a'"]),
    ({"params/theta_2b": "n_yb, n_1b"}, ["sizes do not fit", "node 'z_2b'"]),
    ({"params/unused": "n_x"}, ["parameter 'unused'", "no node uses it"]),
    ({"params/theta_1a": "n_1a, n_q"}, ["parameter 'theta_1a'", "unknown size(s) ['n_q']"]),
    ({"losses": []}, ["no loss"]),
    ({"losses/0/node": "z_1a"}, ["loss 1", "not a scalar"]),
    ({"losses/0/weight": "heavy"}, ["losses[0]", "not a number"]),
    ({"nodes/0/name": "m"}, ["'m' is reserved"]),
])
def test_network_errors_name_the_place(changes, words):
    with pytest.raises(sd.NetworkError) as caught:
        load(mutated(**changes))
    message = str(caught.value)
    assert message.startswith("net.toml: ")
    for word in words:
        assert word in message, (word, message)


def test_not_toml_and_unknown_fields():
    with pytest.raises(sd.NetworkError, match="not valid TOML"):
        network_from_toml_text("name = ", source="x.toml")
    with pytest.raises(sd.NetworkError, match="unknown top-level field"):
        network_from_toml_text('nme = "x"', source="x.toml")
    with pytest.raises(sd.NetworkError, match="no such file"):
        sd.Network.from_toml("/nonexistent/net.toml")


NAMES = st.sampled_from(["x", "y_a", "theta_1a", "z_1a", "a_1a", "zz", "", "1x", "L", "M", "n_x", "p", "b_1a",
                         "yhat_a", "c_2b", "\\input", "gamma"])
VALUES = st.one_of(NAMES, st.integers(-3, 3), st.lists(NAMES, max_size=3), st.none(),
                   st.sampled_from(["m, n_x", "n_x, m", "n_1a + n_1b", "m,", "", "n_q", "m n_x", "2*n_x"]),
                   st.dictionaries(NAMES, NAMES, max_size=3))


def paths(data, prefix=""):
    if isinstance(data, dict):
        for k, v in data.items():
            yield f"{prefix}{k}"
            yield from paths(v, f"{prefix}{k}/")
    elif isinstance(data, list):
        for n, v in enumerate(data):
            yield f"{prefix}{n}"
            yield from paths(v, f"{prefix}{n}/")


ALL_PATHS = sorted(paths(DEFAULT))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), VALUES), min_size=1, max_size=3))
def test_malformed_specs_end_in_a_network_error(edits):
    data = json.loads(json.dumps(DEFAULT))
    for path, new in edits:
        try:
            data = mutated_from(data, path, new)
        except (KeyError, IndexError, TypeError, ValueError):
            continue  # the path no longer exists after an earlier edit
    try:
        text = dump_toml(data)
    except TypeError:
        return
    try:
        net = network_from_toml_text(text, source="fuzz.toml")
    except sd.NetworkError as exc:
        assert str(exc).startswith("fuzz.toml")
        return
    assert net.validate().order  # a mutation that stays valid must give a usable network


def mutated_from(data, path, new):
    target = data
    *parts, last = path.split("/")
    for part in parts:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key = int(last) if isinstance(target, list) else last
    if new is None:
        del target[key]
    else:
        target[key] = new
    return data


# ---- layers ------------------------------------------------------------------------------------
def test_unknown_wrt_names_the_arguments():
    with pytest.raises(ValueError, match="has no argument 'q'.*x, gamma, beta, eps"):
        sd.BatchNorm().jacobian("q")


def test_wrong_array_shape_names_the_array():
    J = sd.BatchNorm().jacobian("x")
    x = np.ones((3, 2))
    with pytest.raises(ValueError, match="argument 'gamma' has 3 along axis 0, but n is 2"):
        J.evaluate(x=x, gamma=np.ones(3), beta=np.ones(2), eps=1e-5)
    with pytest.raises(ValueError, match="missing argument\\(s\\) \\['beta'\\]"):
        J.evaluate(x=x, gamma=np.ones(2), eps=1e-5)


def test_unusable_custom_forward_is_explained():
    class Stray(sd.Layer):
        op = "stray"
        signature = "x[m, n] -> y[m, n]"

        def forward(self, f, x):
            k = f.index("n")
            return lambda i, u: x[i, k]

    with pytest.raises(ValueError, match="Stray.forward: 'y' uses the index .* outside a sum"):
        Stray().jacobian("x")

    class Arity(sd.Layer):
        op = "arity"
        signature = "x[m, n] -> y[m, n]"

        def forward(self, f, x):
            return lambda i: x[i, i]

    with pytest.raises(ValueError, match="Arity.forward: .*2 output indices"):
        Arity().jacobian("x")


def test_layer_with_unknown_size():
    with pytest.raises(ValueError, match="unknown size\\(s\\) \\['q'\\]"):
        sd.Linear(q=3)


# ---- command line ------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["derive", "nope"], ["unknown layer 'nope'"]),
    (["derive", "relu", "--wrt", "q"], ["has no argument 'q'"]),
    (["derive", "relu", "--frobnicate"], ["unrecognized arguments"]),
    (["grad", "/nonexistent.toml"], ["no such file"]),
    (["grad", "--param", "nope"], ["no parameter 'nope'"]),
])
def test_cli_usage_errors_exit_2_without_traceback(argv, words):
    result = subprocess.run([sys.executable, "-m", "symderiv", *argv], capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


def test_sizes_are_checked_symbolically():
    net = sd.Network("bad")
    net.sizes("a", "b")
    net.input("x", "m, a")
    net.param("W", "b, a + 1")
    net.param("c", "b")
    net.input("y", "m, b")
    net.node("z", "linear", x="x", theta="W", b="c")
    net.node("loss", "mse", yhat="z", y="y")
    net.loss("loss")
    with pytest.raises(sd.NetworkError, match="sizes do not fit: 'W' has a \\+ 1 along axis 1"):
        net.validate()
    assert sp.Symbol("a")  # keep sympy imported for the match above
