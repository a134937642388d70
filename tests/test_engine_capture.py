"""Index capture: layers whose intermediates share index names across nested sums (issue 11, item 1).

Each layer couples the batch with itself (a Gram matrix, attention over the
batch as a sequence of tokens), so that renaming a summation index with a
plain ``xreplace`` captures a free index and gives a wrong closed form.
Each VJP is checked against brute force and finite differences
(``.verify()``) and against PyTorch autograd; the renaming primitives are
tested directly.
"""
import numpy as np
import pytest
import sympy as sp

import symderiv as sd
from symderiv.layers.indices import free_index_labels, make_index, rename_bound, substitute
from symderiv.simplification.pipeline import canonical_bound, tidy_indices


class Gram(sd.Layer):
    """``y = (x xᵀ)(x Wᵀ)``: the reproducer of issue 11."""

    op = "gram"
    signature = "x[m, n], W[e, n] -> y[m, e]"
    params = ("W",)

    def forward(self, f, x, W):
        s = f.let("s", ("m", "m"), lambda i, j: f.sum(f.n, lambda k: x[i, k] * x[j, k]))
        v = f.let("v", ("m", "e"), lambda j, a: f.sum(f.n, lambda k: W[a, k] * x[j, k]))
        return lambda i, u: f.sum(f.m, lambda j: s[i, j] * v[j, u])


class Attention(sd.Layer):
    """Single-head self-attention over the batch (the rows of ``x`` are the tokens)."""

    op = "attention"
    signature = "x[m, n], Wq[e, n], Wk[e, n], Wv[d, n] -> y[m, d]"
    params = ("Wq", "Wk", "Wv")

    def forward(self, f, x, Wq, Wk, Wv):
        q = f.let("q", ("m", "e"), lambda i, a: f.sum(f.n, lambda k: Wq[a, k] * x[i, k]))
        k = f.let("k", ("m", "e"), lambda i, a: f.sum(f.n, lambda t: Wk[a, t] * x[i, t]))
        v = f.let("v", ("m", "d"), lambda i, a: f.sum(f.n, lambda t: Wv[a, t] * x[i, t]))
        s = f.let("s", ("m", "m"), lambda i, j: f.sum(f.e, lambda a: q[i, a] * k[j, a]))
        z = f.let("Z", "m", lambda i: f.sum(f.m, lambda j: sp.exp(s[i, j])))
        p = f.let("p", ("m", "m"), lambda i, j: sp.exp(s[i, j]) / z[i])
        return lambda i, u: f.sum(f.m, lambda j: p[i, j] * v[j, u])


class Bilinear(sd.Layer):
    """``y = x A xᵀ``: a batch-by-batch output through a double sum."""

    op = "bilinear"
    signature = "x[m, n], A[n, n] -> y[m, m]"
    params = ("A",)

    def forward(self, f, x, A):
        ax = f.let("ax", ("m", "n"), lambda j, u: f.sum(f.n, lambda w: A[u, w] * x[j, w]))
        return lambda i, j: f.sum(f.n, lambda u: x[i, u] * ax[j, u])


def torch_forward(layer, t):
    import torch
    if isinstance(layer, Gram):
        return (t["x"] @ t["x"].T) @ (t["x"] @ t["W"].T)
    if isinstance(layer, Attention):
        q, k, v = t["x"] @ t["Wq"].T, t["x"] @ t["Wk"].T, t["x"] @ t["Wv"].T
        return torch.softmax(q @ k.T, dim=1) @ v
    return t["x"] @ t["A"] @ t["x"].T


LAYERS = [Gram, Attention, Bilinear]
CASES = [(cls, arg) for cls in LAYERS for arg in cls().arg_specs]
SIZES = {"m": 4, "n": 3, "e": 2, "d": 5}


@pytest.mark.parametrize("cls, arg", CASES, ids=[f"{c.op}-{a}" for c, a in CASES])
def test_vjp_is_verified(cls, arg):
    report = cls().vjp(arg).verify(max_entries=6)
    assert report.entries_checked > 0 and report.max_fd_error < 1e-6


@pytest.mark.parametrize("cls, arg", CASES, ids=[f"{c.op}-{a}" for c, a in CASES])
def test_vjp_matches_pytorch(cls, arg):
    import torch
    layer = cls()
    derivation = layer.vjp(arg)
    rng = np.random.default_rng(3)
    built = derivation.context.built
    sizes = {sp.Symbol(k, integer=True, positive=True): v for k, v in SIZES.items()}
    arrays = {name: rng.uniform(-1, 1, [int(s.xreplace(sizes)) for s in shape]) * 0.7
              for name, shape in built.shapes.items()}
    upstream = str(derivation.upstream.base)
    arrays[upstream] = rng.uniform(-1, 1, [int(s.xreplace(sizes)) for s in built.output.shape])
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in arrays.items()}
    (torch_forward(layer, tensors) * tensors[upstream]).sum().backward()
    want = tensors[arg].grad.numpy()
    got = derivation.evaluate(**arrays)
    assert np.max(np.abs(got - want)) <= 1e-10 * max(1.0, np.max(np.abs(want)))


m = sp.Symbol("m", integer=True, positive=True)
i, j, k, b0 = (make_index(name, m) for name in ("i", "j", "k", "_b0"))
x = sp.IndexedBase("x")


def test_canonical_renaming_does_not_capture_a_bound_index():
    # the outer sum's index becomes _b0, which the inner sum already binds
    expr = sp.Sum(x[i, i] * sp.Sum(x[i, b0], (b0, 0, m - 1)), (i, 0, m - 1))
    canonical = canonical_bound(expr)
    inner = next(s for s in canonical.atoms(sp.Sum) if s != canonical)
    outer_index = canonical.limits[-1][0]
    assert inner.function.has(outer_index), f"the outer index was captured: {canonical}"
    assert canonical == canonical_bound(sp.Sum(x[j, j] * sp.Sum(x[j, k], (k, 0, m - 1)), (j, 0, m - 1)))


def test_substitution_renames_a_binder_that_would_capture():
    expr = sp.Sum(x[i, j], (i, 0, m - 1))  # j free, i bound
    result = substitute(expr, {j: i})
    assert free_index_labels(result) == {"i"}
    assert substitute(expr, {i: k}) == expr  # the bound i is not a free occurrence


def unroll(expr, size=3):
    """``expr`` with every sum written out at ``m = size`` (innermost first, so no binder is left)."""
    if isinstance(expr, sp.Sum):
        body = unroll(expr.function, size)
        for index, _, _ in expr.limits:
            body = sp.Add(*[body.xreplace({index: value}) for value in range(size)])
        return body
    if not expr.args or isinstance(expr, sp.Idx):
        return expr
    return expr.func(*[unroll(a, size) for a in expr.args])


def test_tidy_and_rename_keep_free_indices_free():
    expr = sp.Sum(x[i, k] * sp.Sum(x[k, j], (j, 0, m - 1)), (k, 0, m - 1)) * x[j, j]
    for renamed in (tidy_indices(expr), rename_bound(expr, lambda idx, taken: "j")):
        assert free_index_labels(renamed) == {"i", "j"}
        assert sp.expand(unroll(renamed) - unroll(expr)) == 0
