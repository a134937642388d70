"""Layer answers are graded from the layer's own forward definition: any registered layer, no checker edit."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from custom_layers import CUSTOM_LAYERS

import symderiv as sd
from symderiv.checking import Answer, grade
from symderiv.checking.evaluation import evaluate


@pytest.fixture(autouse=True)
def _custom_layers_registered(monkeypatch):
    """The custom layers in the layer table for these tests only (other tests enumerate the table)."""
    from symderiv.layers import LAYERS
    for cls in CUSTOM_LAYERS:
        monkeypatch.setitem(LAYERS, cls.op, cls)

LAYER_ANSWERS = [  # (heading, formula, verdict)
    ("tanh: dy_j/dx_i", r"(1 - y_j^2)\delta_{ij}", "correct"),
    ("tanh: dy_j/dx_i", r"(1 - y_j)\delta_{ij}", "wrong"),
    ("tanh: dy/dx", r"\begin{cases} 1 - y_j^2 & i = j \\ 0 & \text{otherwise} \end{cases}", "correct"),
    ("sigmoid: dy/dx", r"\sigma_j(1 - \sigma_j)\delta_{ij}", "correct"),
    ("sigmoid: dy/dx", r"\sigma_j(1 - \sigma_i)", "wrong"),
    ("leaky_relu: dy/dx", r"\left([x_j > 0] + \alpha [x_j \leq 0]\right)\delta_{ij}", "correct"),
    ("leaky_relu: dy/dx", r"\left([x_j \geq 0] + \alpha [x_j < 0]\right)\delta_{ij}", "wrong"),  # at the kink
    ("layernorm: dy_j/dx_i", (r"\frac{\gamma_j}{n\sqrt{\sigma^2+\epsilon}}\left(n\delta_{ij} - 1 - \hat{x}_i\hat{x}_j"
                             r"\right)"), "correct"),
    ("layernorm: dy_j/dx_i", (r"\frac{\gamma_i}{n\sqrt{\sigma^2+\epsilon}}\left(n\delta_{ij} - 1 - \hat{x}_i\hat{x}_j"
                             r"\right)"), "wrong"),
    ("layernorm: dy_j/dx_i", (r"\frac{\gamma_j}{\sqrt{\sigma^2+\epsilon}}\left(\delta_{ij} - \frac{1}{n} - "
                             r"\frac{(x_i-\mu)(x_j-\mu)}{n(\sigma^2+\epsilon)}\right)"), "correct"),
    ("layernorm: dy/dgamma", r"\hat{x}_i", "correct"),
    ("layernorm: dy/dbeta", "1", "correct"),
    ("user_l2norm: dy_j/dx_i", r"\frac{\delta_{ij}}{\sqrt{\sum_k x_k^2}} - \frac{x_i x_j}{\left(\sum_k x_k^2\right)^{3/2}}",
     "correct"),
    ("user_l2norm: dy_j/dx_i", r"\frac{\delta_{ij}}{\sqrt{\sum_k x_k^2}}", "wrong"),
    ("linear: dz_j/dx_i", r"\theta_{ji}", "correct"),
    ("linear: dz_j/dx_i", r"\theta_{ij}", "wrong"),  # the transpose
    ("linear: dz/db", "1", "correct"),
    ("tanh: dq/dx", "1", "unreadable"),  # not the layer's output
    ("tanh: dy/dw", "1", "unreadable"),  # not an argument
]


@pytest.mark.parametrize("heading, formula, verdict", LAYER_ANSWERS)
def test_any_registered_layer_is_gradable(heading, formula, verdict):
    result = grade(Answer(heading, formula, 1))
    assert result.status == verdict, result.message
    if verdict == "wrong":
        ce = result.counterexample
        assert not np.isclose(ce["student"], ce["expected"])
        assert ce["values"]  # the arguments and intermediates at the counterexample


def test_custom_layer_answers_are_confirmed_as_formulas():
    for heading, formula in [("tanh: dy_j/dx_i", r"(1 - y_j^2)\delta_{ij}"),
                             ("layernorm: dy_j/dx_i", (r"\frac{\gamma_j}{n\sqrt{\sigma^2+\epsilon}}\left(n\delta_{ij}"
                                                      r" - 1 - \hat{x}_i\hat{x}_j\right)"))]:
        assert "equal as a formula at size 3" in grade(Answer(heading, formula, 1)).message


def test_layer_norm_is_graded_per_sample_and_batch_norm_per_feature():
    ln = grade(Answer("layernorm: dy_j/dx_i", r"\gamma_j \delta_{ij}", 1))
    bn = grade(Answer("batchnorm: dy_i/dx_j", r"\gamma \delta_{ij}", 1))
    assert ln.counterexample["where"].startswith("sample") and set(ln.counterexample["sizes"]) == {"n"}
    assert bn.counterexample["where"].startswith("feature") and set(bn.counterexample["sizes"]) == {"m"}
    assert {"mu", "var", "xhat", "x", "gamma"} <= set(bn.counterexample["values"])


def test_no_layer_class_names_or_layer_formulas_in_the_checker():
    source = "\n".join(p.read_text() for p in (Path(sd.__file__).parent / "checking").glob("*.py"))
    for name in ("BatchNorm", "Softmax", "Dropout", "ReLU", "LayerNorm", "np.exp(", "x.mean(", ".var("):
        assert name not in source, name
    assert not re.search(r"\b(eval|exec|sympify|parse_expr)\(", source)


@pytest.mark.parametrize("layer, wrt", [(sd.BatchNorm(), "x"), (sd.Softmax(), "z"), (sd.Dropout(), "x")])
def test_cached_evaluation_gives_the_derivations_own_numbers(layer, wrt):
    from symderiv.verification.check import random_arrays
    J = layer.jacobian(wrt)
    built = J.context.built
    sizes = {s: 3 + k for k, s in enumerate(sorted({s for sh in built.shapes.values() for d in sh
                                                    for s in d.free_symbols}, key=str))}
    arrays = random_arrays(built, sizes, np.random.default_rng(0))
    assert np.array_equal(evaluate(J, **arrays), J.evaluate(**arrays))
    assert np.array_equal(evaluate(J, **arrays), J.evaluate(**arrays))  # the second time from the cache


class _Underivable(sd.Layer):
    op = "underivable_for_check"
    signature = "x[m, n] -> y[m, n]"

    def forward(self, f, x):
        return lambda i, u: x[i, u]

    def jacobian(self, wrt):
        raise RuntimeError("the engine failed")


def test_an_engine_failure_is_that_answers_verdict(monkeypatch):
    from symderiv.layers import LAYERS
    monkeypatch.setitem(LAYERS, _Underivable.op, _Underivable)
    result = grade(Answer("underivable_for_check: dy/dx", r"\delta_{ij}", 1))
    assert result.status == "unreadable"
    assert result.message == "cannot derive underivable_for_check: dy/dx: RuntimeError: the engine failed"
