"""Functions the kernels print that SymPy has no NumPy form for: stable lowerings and SciPy's special functions.

* :class:`LogAddExp` ``(a, b) = log(e^a + e^b)``, printed as ``np.logaddexp`` (softplus, log-sigmoid:
  no overflow).
* :class:`Sigmoid` ``(w) = 1/(1 + e^{-w})``, printed as ``np.exp(-np.logaddexp(0, -w))``: no overflow,
  accurate in both tails.
* :class:`XLogY` ``(a, b) = a log b`` with the value 0 where ``a = 0`` (``y log ŷ`` when a probability
  underflows on a class with ``y = 0``), printed as ``a*np.log(np.where(a == 0, 1, b))``: no NaN, no warning.

Functions without a NumPy ufunc are taken from ``scipy.special`` (:data:`SCIPY_SPECIAL`): a module that
uses one imports ``scipy.special`` (and says so); one that does not imports only NumPy. No function is
ever printed from ``math`` (it does not vectorize).
"""
from __future__ import annotations

import sympy as sp


class LogAddExp(sp.Function):
    """``log(exp(a) + exp(b))``, computed without overflow."""

    nargs = 2

    def _eval_is_real(self):
        return all(a.is_real for a in self.args) or None


class Sigmoid(sp.Function):
    """The logistic function ``1/(1 + exp(-w))``, computed without overflow."""

    nargs = 1

    def _eval_is_real(self):
        return self.args[0].is_real or None

    def _eval_is_positive(self):
        return self.args[0].is_real or None


class XLogY(sp.Function):
    """``a log b``, 0 where ``a`` is 0 (whatever ``b``)."""

    nargs = 2


# SymPy function -> the name of its ufunc in scipy.special
SCIPY_SPECIAL = {sp.erf: "erf", sp.erfc: "erfc", sp.erfinv: "erfinv", sp.erfcinv: "erfcinv", sp.gamma: "gamma",
                 sp.digamma: "psi"}
