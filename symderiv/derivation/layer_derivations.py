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


def layer_jacobian(layer, wrt: str) -> Derivation:
    """``∂ output / ∂ wrt`` over all output and ``wrt`` indices."""
    built = layer.build()
    expr, out_indices, wrt_indices = jacobian_expr(built, wrt)
    wrt_base = built.bases[wrt]
    return Derivation("jacobian", built.output.element(), wrt_base[wrt_indices] if wrt_indices else wrt_base,
                      expr, (*out_indices, *wrt_indices), EvaluationContext(built), _names(built))


def layer_vjp(layer, wrt: str) -> Derivation:
    """``Σ_out g[out] ∂ output[out] / ∂ wrt``: the Jacobian contracted with an upstream gradient ``g``."""
    built = layer.build()
    expr, wrt_indices = vjp_expr(built, wrt)
    name = upstream_name(built)
    out = built.output
    shown = IndexNamer(avoid=[str(i.label) for i in wrt_indices]).like(out.indices)  # Σ over other letters
    upstream = sp.IndexedBase(name, shape=out.shape, real=True)[shown] if shown else sp.Symbol(name, real=True)
    wrt_base = built.bases[wrt]
    return Derivation("vjp", out.element(shown), wrt_base[wrt_indices] if wrt_indices else wrt_base,
                      expr, tuple(wrt_indices), EvaluationContext(built), _names(built), upstream=upstream)
