"""Self-verification by default (issue 11, "what to build" 1): a wrong derivation is refused when it is made.

The checks are exercised by tampering with correct derivations (a wrong
closed form must be refused with the quantity, the sizes and the entry),
and every shipped network and layer passes them.
"""
import pytest
import sympy as sp

import symderiv as sd
from network_zoo import ZOO, network
from symderiv.derivation.network_derivations import NetworkDerivations
from symderiv.verification import self_check
from symderiv.verification.check import default_sizes
from symderiv.verification.self_check import DerivationError, check_layer_derivation, check_network


@pytest.fixture(autouse=True)
def _no_cache(monkeypatch):
    """These tests plant wrong derivations: nothing may come from the derivation cache (memo or files)."""
    from symderiv.derivation import cache
    monkeypatch.setenv("SYMDERIV_NO_CACHE", "1")
    cache.clear_memo()
    yield
    cache.clear_memo()


@pytest.mark.parametrize("cls", list(sd.LAYERS.values()), ids=list(sd.LAYERS))
def test_default_sizes_are_all_different(cls):
    sizes = default_sizes(cls().build())
    assert len(set(sizes.values())) == len(sizes), sizes


@pytest.mark.parametrize("name", list(ZOO))
def test_every_zoo_network_passes_its_own_check(name):
    derivations = NetworkDerivations(network(name), verify=False)
    assert check_network(derivations) == 2 * (len(derivations.backprop.gradients) + len(derivations.backprop.residuals))


def test_a_wrong_gradient_is_refused_with_quantity_sizes_and_entry():
    derivations = NetworkDerivations(network("skip"), verify=False)
    param = next(iter(derivations.backprop.gradients))
    adjoint = derivations.backprop.gradients[param]
    first = adjoint.indices[0] if adjoint.indices else None
    adjoint.expr = adjoint.expr * (1 + (sp.KroneckerDelta(first, 0) if first is not None else 0))
    with pytest.raises(DerivationError, match=rf"gradient of {param} is wrong at sizes .*=.*, entry \(0"):
        check_network(derivations)


def test_a_wrong_residual_is_refused():
    derivations = NetworkDerivations(network("two_losses"), verify=False)
    for adjoint in derivations.backprop.residuals.values():  # every residual off by a little
        adjoint.expr = adjoint.expr * sp.Rational(1001, 1000)
    with pytest.raises(DerivationError, match=r"(gradient|residual) of \w+ is wrong"):
        check_network(derivations)


def test_a_wrong_layer_derivation_is_refused(monkeypatch):
    monkeypatch.setattr(self_check, "_LAYER_CHECKS", {})  # not the cached verdict on the right one
    layer = sd.LAYERS["linear"]()
    derivation = layer.vjp("x", verify=False)
    derivation.expr = derivation.expr + 1
    with pytest.raises(DerivationError, match=r"Linear: the VJP with respect to 'x' is wrong .*at i=0, u=0 "
                                              r"\(sizes \{m: 3, n_in: 4, n_out: 2\}\)"):
        check_layer_derivation(layer, derivation, "vjp", "x")


class Scaled(sd.Layer):
    """``y = α x``, with α a setting of the layer object (a user's own attribute)."""

    signature = "x[m, n] -> y[m, n]"

    def __init__(self, alpha, **sizes):
        super().__init__(**sizes)
        self.alpha = alpha

    def forward(self, f, x):
        return lambda i, u: self.alpha * x[i, u]


def test_a_check_is_reused_only_for_the_same_layer(monkeypatch):
    monkeypatch.setattr(self_check, "_LAYER_CHECKS", {})
    checked = []
    original = self_check.verify_derivation
    monkeypatch.setattr(self_check, "verify_derivation", lambda d, **kw: checked.append(d) or original(d, **kw))
    assert str(Scaled(2).vjp("x").expr) != str(Scaled(3).vjp("x").expr)
    Scaled(3).vjp("x")  # the same layer again: its verdict is kept
    assert len(checked) == 2  # one check for α = 2, one for α = 3


@pytest.mark.parametrize("function", [lambda x: sp.besselj(0, x)], ids=["besselj"])  # erf prints through scipy.special
def test_a_derivation_that_cannot_be_checked_is_refused(function):
    class Special(sd.Layer):
        op = "special"
        signature = "x[m, n] -> y[m, n]"

        def forward(self, f, x):
            return lambda i, u: function(x[i, u])

    with pytest.raises(DerivationError, match="cannot be checked"):
        Special().vjp("x")
    assert Special().vjp("x", verify=False).expr.has(sp.Indexed)


def test_no_verify_turns_the_network_check_off(monkeypatch):
    def refuse(derivations):
        raise DerivationError("checked")

    monkeypatch.setattr(self_check, "check_network", refuse)
    build_skip = ZOO["skip"][0]
    net = build_skip()
    net.derivations(verify=False)  # not checked
    with pytest.raises(DerivationError, match="checked"):
        NetworkDerivations(build_skip())
    with pytest.raises(DerivationError, match="checked"):
        net.derivations(verify=True)  # checked once asked


@pytest.mark.parametrize("command", [["grad"], ["derive", "relu"]])
def test_cli_refuses_a_wrong_derivation_with_exit_2_and_prints_nothing(command, monkeypatch, capsys):
    from symderiv.cli import main

    def refuse(*args, **kwargs):
        raise DerivationError("the gradient of W is wrong at sizes m=2, entry (0, 1)")

    monkeypatch.setattr(self_check, "check_network", refuse)
    monkeypatch.setattr(self_check, "check_layer_derivation", refuse)
    assert main(command) == 2
    out, err = capsys.readouterr()
    assert out == "" and "symderiv: error: the gradient of W is wrong" in err
    previous = self_check.set_verification(True)
    try:
        assert main([*command, "--no-verify"]) == 0
    finally:
        self_check.set_verification(previous)
    assert capsys.readouterr().out
