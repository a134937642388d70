"""A layer's derivations as :class:`~symderiv.derivation.derivation.Derivation` objects.

>>> from symderiv.layers import Softmax
>>> J = layer_jacobian(Softmax(), "z")
>>> J.axes
(i, u, j, v)
>>> print(J.latex())
\\frac{\\partial g_{iu}}{\\partial z_{jv}} = \\left(\\delta_{uv} - g_{iv}\\right) \\delta_{ij} g_{iu}
"""
from __future__ import annotations

from symderiv.derivation.derivation import Derivation, EvaluationContext
import sympy as sp

from symderiv.derivation.jacobian import jacobian_expr, upstream_name, vjp_expr
from symderiv.layers.indices import IndexNamer


def _names(built) -> dict:
    names = dict(built.latex_names)
    for local, base in built.bases.items():  # arguments renamed (in a network) keep the layer's LaTeX
        if local in built.latex_names:
            names[str(base.label if hasattr(base, "label") else base)] = built.latex_names[local]
    return names


def layer_jacobian(layer, wrt: str, verify: bool = True) -> Derivation:
    """``∂ output / ∂ wrt`` over all output and ``wrt`` indices; checked before it is returned unless ``verify=False``."""
    built = layer.build()
    expr, out_indices, wrt_indices = jacobian_expr(built, wrt)
    wrt_base = built.bases[wrt]
    derivation = Derivation("jacobian", built.output.element(), wrt_base[wrt_indices] if wrt_indices else wrt_base,
                            expr, (*out_indices, *wrt_indices), EvaluationContext(built), _names(built))
    return _checked(layer, derivation, "jacobian", wrt, verify)


def layer_vjp(layer, wrt: str, verify: bool = True) -> Derivation:
    """``Σ_out g[out] ∂ output[out] / ∂ wrt``: the Jacobian contracted with an upstream gradient ``g`` (checked)."""
    built = layer.build()
    expr, wrt_indices = vjp_expr(built, wrt)
    name = upstream_name(built)
    out = built.output
    shown = IndexNamer(avoid=[str(i.label) for i in wrt_indices]).like(out.indices)  # Σ over other letters
    upstream = sp.IndexedBase(name, shape=out.shape, real=True)[shown] if shown else sp.Symbol(name, real=True)
    wrt_base = built.bases[wrt]
    derivation = Derivation("vjp", out.element(shown), wrt_base[wrt_indices] if wrt_indices else wrt_base,
                            expr, tuple(wrt_indices), EvaluationContext(built), _names(built), upstream=upstream)
    return _checked(layer, derivation, "vjp", wrt, verify)


def _checked(layer, derivation: Derivation, kind: str, wrt: str, verify: bool) -> Derivation:
    """``derivation`` once it passed its check (see :mod:`symderiv.verification.self_check`)."""
    from symderiv.verification import self_check
    if verify and self_check.verification_enabled():
        self_check.check_layer_derivation(layer, derivation, kind, wrt)
    return derivation
