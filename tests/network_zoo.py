"""Networks for the tests, each with a PyTorch reference written by hand (the oracle).

Every entry: a builder for the symderiv ``Network``, the concrete sizes to
test at, and ``torch_loss(params, inputs)`` computing the same loss with
textbook PyTorch operations (autograd gives the reference gradients).
"""
from __future__ import annotations

import functools

import numpy as np

import symderiv as sd
from custom_layers import LayerNorm, Tanh

for _cls in (LayerNorm, Tanh):
    sd.register_layer(_cls)


def multitask():
    return sd.networks.multitask()


def torch_multitask(P, I, p, eps):
    import torch
    z_1a = I["x"] @ P["theta_1a"].T + P["b_1a"]
    a_1a = torch.relu(z_1a)
    d_1a = I["M"] * a_1a / (1 - p)
    yhat_a = d_1a @ P["theta_2a"].T + P["b_2a"]
    z_1b = I["x"] @ P["theta_1b"].T + P["b_1b"]
    a_1b = torch.relu(z_1b)
    mu = a_1b.mean(0)
    var = ((a_1b - mu) ** 2).mean(0)
    n_1b = P["gamma"] * (a_1b - mu) / torch.sqrt(var + eps) + P["beta"]
    z_2b = torch.cat([n_1b, yhat_a], 1) @ P["theta_2b"].T + P["b_2b"]
    log_yhat_b = torch.log_softmax(z_2b, 1)
    m = I["x"].shape[0]
    loss_a = 0.5 * ((yhat_a - I["y_a"]) ** 2).sum() / m
    loss_b = -(I["y_b"] * log_yhat_b).sum() / m
    return loss_a + loss_b


def skip():
    """``h`` feeds two consumers: the next layer, and (skipping it) a concatenation."""
    net = sd.Network("skip")
    net.sizes("n_x", "n_h", "n_g", "n_y")
    net.input("x", "m, n_x")
    net.input("y", "m, n_y")
    net.param("W1", "n_h, n_x"); net.param("c1", "n_h")
    net.param("W2", "n_g, n_h"); net.param("c2", "n_g")
    net.param("W3", "n_y, n_g + n_h"); net.param("c3", "n_y")
    net.node("z1", "linear", x="x", theta="W1", b="c1")
    net.node("h", "relu", z="z1")
    net.node("z2", "linear", x="h", theta="W2", b="c2")
    net.node("g2", "relu", z="z2")
    net.node("cat", "concat", x1="g2", x2="h")
    net.node("out", "linear", x="cat", theta="W3", b="c3")
    net.node("loss", "mse", yhat="out", y="y")
    net.loss("loss")
    return net


def torch_skip(P, I, p, eps):
    import torch
    h = torch.relu(I["x"] @ P["W1"].T + P["c1"])
    g2 = torch.relu(h @ P["W2"].T + P["c2"])
    out = torch.cat([g2, h], 1) @ P["W3"].T + P["c3"]
    return 0.5 * ((out - I["y"]) ** 2).sum() / I["x"].shape[0]


def two_losses():
    """A shared trunk with a regression head and a classification head, losses weighted 0.3 and 0.7."""
    net = sd.Network("two_losses")
    net.sizes("n_x", "n_t", "n_r", "n_c")
    net.input("x", "m, n_x")
    net.input("y_r", "m, n_r")
    net.input("y_c", "m, n_c")
    net.param("W", "n_t, n_x"); net.param("c", "n_t")
    net.param("R", "n_r, n_t"); net.param("r", "n_r")
    net.param("C", "n_c, n_t"); net.param("k", "n_c")
    net.node("zt", "linear", x="x", theta="W", b="c")
    net.node("t", "relu", z="zt")
    net.node("yr", "linear", x="t", theta="R", b="r")
    net.node("zc", "linear", x="t", theta="C", b="k")
    net.node("yc", "softmax", z="zc")
    net.node("loss_r", "mse", yhat="yr", y="y_r")
    net.node("loss_c", "cross_entropy", yhat="yc", y="y_c")
    net.loss("loss_r", 0.3)
    net.loss("loss_c", 0.7)
    return net


def torch_two_losses(P, I, p, eps):
    import torch
    t = torch.relu(I["x"] @ P["W"].T + P["c"])
    yr = t @ P["R"].T + P["r"]
    log_yc = torch.log_softmax(t @ P["C"].T + P["k"], 1)
    m = I["x"].shape[0]
    return 0.3 * 0.5 * ((yr - I["y_r"]) ** 2).sum() / m - 0.7 * (I["y_c"] * log_yc).sum() / m


def custom():
    """Layers the library does not ship: layer normalization and tanh, declared in custom_layers.py."""
    net = sd.Network("custom")
    net.sizes("n_x", "n_h", "n_y")
    net.constant("eps")
    net.input("x", "m, n_x")
    net.input("y", "m, n_y")
    net.param("W1", "n_h, n_x"); net.param("c1", "n_h")
    net.param("gain", "n_h")
    net.param("bias", "n_h")
    net.param("W2", "n_y, n_h"); net.param("c2", "n_y")
    net.node("z1", "linear", x="x", theta="W1", b="c1")
    net.node("ln", "user_layernorm", x="z1", gamma="gain", beta="bias", eps="eps")
    net.node("act", "user_tanh", x="ln")
    net.node("out", "linear", x="act", theta="W2", b="c2")
    net.node("loss", "mse", yhat="out", y="y")
    net.loss("loss")
    return net


def torch_custom(P, I, p, eps):
    import torch
    z1 = I["x"] @ P["W1"].T + P["c1"]
    mu = z1.mean(1, keepdim=True)
    var = ((z1 - mu) ** 2).mean(1, keepdim=True)
    ln = P["gain"] * (z1 - mu) / torch.sqrt(var + eps) + P["bias"]
    out = torch.tanh(ln) @ P["W2"].T + P["c2"]
    return 0.5 * ((out - I["y"]) ** 2).sum() / I["x"].shape[0]


ZOO = {
    "multitask": (multitask, torch_multitask, dict(m=5, n_x=4, n_1a=3, n_1b=3, n_ya=2, n_yb=3)),
    "skip": (skip, torch_skip, dict(m=4, n_x=3, n_h=3, n_g=2, n_y=2)),
    "two_losses": (two_losses, torch_two_losses, dict(m=4, n_x=3, n_t=3, n_r=2, n_c=3)),
    "custom": (custom, torch_custom, dict(m=3, n_x=3, n_h=4, n_y=2)),
}


@functools.cache
def network(name: str):
    """The zoo's network ``name``, built and derived once per test session (tests do not modify it)."""
    net = ZOO[name][0]()
    net.derivations()
    return net


def random_problem(net, sizes: dict, seed: int = 0):
    """Random float64 parameters and inputs for ``net`` at ``sizes`` (one-hot targets, 0/1 masks)."""
    rng = np.random.default_rng(seed)
    checked = net.validate()
    import sympy as sp
    concrete = {sp.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()}
    params, inputs = {}, {}
    built = net.derivations().built
    for name, shape in checked.shapes.items():
        dims = tuple(int(s.xreplace(concrete)) for s in shape)
        spec = built.args[name]
        if spec.role == "constant":
            continue
        if spec.distribution:
            value = np.eye(dims[-1])[rng.integers(0, dims[-1], dims[:-1])]
        elif name == "M":
            value = (rng.random(dims) >= 0.3).astype(float)
        else:
            value = rng.normal(size=dims)
        (params if spec.role == "param" else inputs)[name] = value
    return params, inputs
