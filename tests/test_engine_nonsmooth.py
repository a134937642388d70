"""Non-smooth functions and learned rules that must be identities (issue 11, item 4).

Derivatives are exact away from the kinks and take the value documented in
:mod:`symderiv.simplification.steps` at them (PyTorch's for ReLU, |x| and
sign); a rule learned by solving a definition is kept only where it is an
identity for every input (no ``x = √y`` for ``y = sign(x)·x²``, no division
by an RMS norm's gain).
"""
import numpy as np
import pytest
import sympy as sp

import symderiv as sd
from symderiv.simplification.rules import is_identity
from symderiv.simplification.steps import NonSmoothError


def elementwise(name, formula):
    return type(name, (sd.Layer,), {"op": name.lower(), "signature": "x[m, n] -> y[m, n]",
                                    "forward": lambda self, f, x: (lambda i, u: formula(x[i, u]))})


class RMSNorm(sd.Layer):
    op = "rmsnorm"
    signature = "x[m, n], g[n], eps -> y[m, n]"
    params = ("g",)
    constants = ("eps",)

    def forward(self, f, x, g, eps):
        ms = f.let("ms", "m", lambda i: f.sum(f.n, lambda k: x[i, k] ** 2) / f.n)
        return lambda i, u: g[u] * x[i, u] / sp.sqrt(eps + ms[i])


# (layer, its PyTorch forward); x holds kinks (0, ±1) on purpose
ELEMENTWISE = [
    (elementwise("SignSquare", lambda x: sp.sign(x) * x ** 2), lambda t, x: torch_sign(t, x) * x ** 2),
    (elementwise("Absolute", sp.Abs), lambda t, x: t.abs(x)),
    (elementwise("Sign", sp.sign), lambda t, x: torch_sign(t, x)),
    (elementwise("MaxZero", lambda x: sp.Max(x, 0)), lambda t, x: t.relu(x)),
    (elementwise("MaxZeroTimesX", lambda x: sp.Max(0, x) * x), lambda t, x: t.relu(x) * x),
    (elementwise("StepTimesX", lambda x: sp.Heaviside(x, 0) * x + sp.sign(x)),
     lambda t, x: t.relu(x) + torch_sign(t, x)),
]


def torch_sign(t, x):
    return t.sign(x)


X = np.array([[0.0, -0.7, 1.3], [0.4, -1.1, 0.0], [2.0, 0.0, -0.2], [-0.0, 0.9, -2.5]])


@pytest.mark.parametrize("layer, torch_forward", ELEMENTWISE, ids=[c.__name__ for c, _ in ELEMENTWISE])
def test_non_smooth_layers_match_pytorch_at_and_away_from_kinks(layer, torch_forward):
    import torch
    derivation = layer().vjp("x")
    assert not derivation.expr.has(sp.DiracDelta, sp.sqrt)
    derivation.verify()
    g = np.random.default_rng(0).uniform(0.5, 1.5, X.shape)
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    (torch_forward(torch, x) * torch.tensor(g)).sum().backward()
    got = derivation.evaluate(x=X, g=g)
    np.testing.assert_allclose(got, x.grad.numpy(), rtol=0, atol=1e-12)


def test_clip_is_derived_with_zero_at_both_kinks():
    import torch
    clip = elementwise("Clip", lambda x: sp.Min(sp.Max(x, -1), 1))
    derivation = clip().vjp("x")
    derivation.verify()
    x = np.array([[-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]])
    got = derivation.evaluate(x=x, g=np.ones_like(x))
    t = torch.tensor(x, requires_grad=True)
    t.clamp(-1, 1).sum().backward()
    away = np.abs(np.abs(x) - 1) > 0  # PyTorch's clamp passes the gradient at the bounds; the steps do not
    np.testing.assert_array_equal(got[away], t.grad.numpy()[away])
    np.testing.assert_array_equal(got[~away], 0.0)


def test_rms_norm_gradient_is_finite_with_a_zero_gain():
    import torch
    derivation = RMSNorm().vjp("x")
    rng = np.random.default_rng(1)
    x, h = rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (3, 4))
    gain = np.array([0.0, 1.5, -0.3, 0.0])
    got = derivation.evaluate(x=x, g=gain, h=h, eps=1e-5)
    tx = torch.tensor(x, requires_grad=True)
    y = torch.tensor(gain) * tx / torch.sqrt(1e-5 + (tx ** 2).mean(dim=1, keepdim=True))
    (y * torch.tensor(h)).sum().backward()
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_rules_that_are_not_identities_are_dropped():
    sign_square = elementwise("SignSquare", lambda x: sp.sign(x) * x ** 2)().build()
    x = sign_square.bases["x"][sign_square.output.indices]
    assert not is_identity(sign_square.output, x, sp.sqrt(sign_square.output.element()))
    rms = RMSNorm().build()
    out = rms.output
    x, g, eps = rms.bases["x"][out.indices], rms.bases["g"][out.indices[1]], rms.bases["eps"]
    ms = rms.intermediates[0].element((out.indices[0],))
    assert not is_identity(out, x, sp.sqrt(eps + ms) * out.element() / g)  # g may be 0
    assert is_identity(out, out.expr, out.element())  # the definition itself


def test_a_function_without_a_derivative_is_refused_clearly():
    opaque = elementwise("Opaque", lambda x: sp.Function("phi")(x))
    with pytest.raises(NonSmoothError, match="cannot differentiate"):
        opaque().vjp("x")
