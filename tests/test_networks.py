"""Networks: gradients against PyTorch autograd, symbolic forms against brute force, the textbook shapes.

Four networks (tests/network_zoo.py): the homework's multi-task network, a
skip connection (one node feeds two consumers), two weighted losses on a
shared trunk, and a network built from custom layers (layer norm, tanh).
"""
import numpy as np
import pytest
import sympy as sp

from network_zoo import ZOO, network, random_problem

P_DROP, EPS = 0.3, 1e-5


def torch_gradients(torch_loss, params, inputs):
    import torch
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    I = {k: torch.tensor(v, dtype=torch.float64) for k, v in inputs.items()}
    loss = torch_loss(P, I, P_DROP, EPS)
    loss.backward()
    return float(loss.detach()), {k: v.grad.numpy() for k, v in P.items()}


def constants(net):
    values = {"p": P_DROP, "eps": EPS}
    return {c: values[c] for c in net.constants}


@pytest.mark.parametrize("name", list(ZOO))
def test_every_gradient_matches_pytorch(name):
    _, torch_loss, sizes = ZOO[name]
    net = network(name)
    for seed in (0, 1):
        params, inputs = random_problem(net, sizes, seed)
        _, expected = torch_gradients(torch_loss, params, inputs)
        for param, want in expected.items():
            got = net.gradient(param).evaluate(**params, **inputs, **constants(net))
            assert got.shape == want.shape, (param, got.shape, want.shape)
            scale = max(np.max(np.abs(want)), 1e-12)
            assert np.max(np.abs(got - want)) / scale <= 1e-9, f"{name}: {param} differs from autograd"


@pytest.mark.parametrize("name", list(ZOO))
def test_forward_loss_matches_pytorch(name):
    _, torch_loss, sizes = ZOO[name]
    net = network(name)
    params, inputs = random_problem(net, sizes, 2)
    loss, _ = torch_gradients(torch_loss, params, inputs)
    from symderiv.verification.forward import bind_arrays, forward_values
    built = net.derivations().built
    values, bound = bind_arrays(built, {**params, **inputs, **constants(net)})
    assert float(forward_values(built, values, bound)[built.output.base]) == pytest.approx(loss, rel=1e-12)


TINY = {
    "multitask": dict(m=2, n_x=1, n_1a=1, n_1b=1, n_ya=1, n_yb=2),
    "skip": dict(m=2, n_x=1, n_h=1, n_g=1, n_y=1),
    "two_losses": dict(m=2, n_x=1, n_t=1, n_r=1, n_c=2),
    "custom": dict(m=1, n_x=1, n_h=2, n_y=1),
}
CASES = [(name, kind, item) for name, (build, _, _) in ZOO.items()
         for kind, items in (("gradient", build().params), ("residual", [n.name for n in build().nodes]))
         for item in items]


@pytest.mark.parametrize("name, kind, item", CASES, ids=[f"{n}-{k}-{i}" for n, k, i in CASES])
def test_symbolic_form_against_brute_force_and_finite_differences(name, kind, item):
    _, _, sizes = ZOO[name]
    net = network(name)
    derivation = net.gradient(item) if kind == "gradient" else net.residual(item)
    report = derivation.verify(sizes=TINY[name], max_entries=2, seconds=2, fd_sizes=sizes)
    assert report.entries_checked >= 1


def test_softmax_cross_entropy_residual_is_found_by_the_simplifier():
    delta = network("multitask").residual("z_2b")
    i, u = delta.axes
    by_name = {str(b.label): b for b in delta.expr.atoms(sp.IndexedBase)}
    yhat, y = by_name["yhat_b"], by_name["y_b"]
    m = sp.Symbol("m", integer=True, positive=True)
    assert sp.expand(delta.expr - (yhat[i, u] - y[i, u]) / m) == 0
    assert sp.count_ops(delta.expr) <= 6  # nothing more than (ŷ − y)/m


def test_task_a_residual_sums_two_paths_and_splits_the_concatenation():
    net = network("multitask")
    paths = net.derivations().contributions("yhat_a")
    assert sorted(c.node for c in paths) == ["L_a", "c_2b"]
    expr = net.residual("yhat_a").expr
    shifted = [e for e in expr.atoms(sp.Indexed) if str(e.base.label) == "delta_c_2b"]
    assert shifted and all(e.indices[1] != e.indices[1].atoms(sp.Idx).pop() for e in shifted), \
        "task A's part of the concatenation residual is the slice after n_1b"
    own = [e for e in net.residual("n_1b").expr.atoms(sp.Indexed) if str(e.base.label) == "delta_c_2b"]
    assert own and all(isinstance(e.indices[1], sp.Idx) for e in own), "n_1b's part is the first slice"


def test_batchnorm_residual_couples_the_batch_and_uses_xhat():
    expr = network("multitask").residual("a_1b").expr
    assert expr.has(sp.Sum), "the batch-norm Jacobian is not diagonal over the batch"
    names = {str(b.label) for b in expr.atoms(sp.IndexedBase)}
    assert "xhat_n_1b" in names and "var_n_1b" in names


def test_relu_residual_is_a_step_with_zero_at_zero():
    expr = network("multitask").residual("z_1a").expr
    steps = expr.atoms(sp.Heaviside)
    assert steps and all(s.args[1] == 0 for s in steps) and not expr.has(sp.sign)


def test_batch_sums_for_gamma_and_beta():
    net = network("multitask")
    for param in ("gamma", "beta"):
        expr = net.gradient(param).expr
        assert isinstance(expr, sp.Sum) and expr.limits[0][2] == sp.Symbol("m", integer=True, positive=True) - 1
