"""Text output: names as spelled, sums from 1 as in LaTeX, the step as [z > 0], residuals that grad uses defined."""
import pytest
import sympy as sp

import symderiv as sd
from symderiv.cli import main
from symderiv.layers.indices import make_index
from symderiv.printing.text import pretty, text

m, n = sp.Symbol("m", integer=True, positive=True), sp.Symbol("n", integer=True, positive=True)
i, u = make_index("i", m), make_index("u", n)
z, y = sp.IndexedBase("z"), sp.IndexedBase("yhat_b")

CASES = [  # expression, one-line text, a piece its 2-D text has
    (sp.Heaviside(z[i, u], 0), "[z[i, u] > 0]", "[z[i, u] > 0]"),
    (sp.Heaviside(z[i, u], 1), "[z[i, u] >= 0]", "[z[i, u] ≥ 0]"),
    (sp.Sum(z[i, u], (i, 0, m - 1)), "sum_{i=1..m}(z[i, u])", "i = 1"),
    (sp.Piecewise((z[i, u], u < n), (0, True)), "Piecewise((z[i, u], u <= n), (0, True))", "u ≤ n"),
    (y[i, u] / m, "yhat_b[i, u]/m", "yhat_b[i, u]"),
    (sp.Symbol("L_a") + sp.Symbol("gamma"), "L_a + gamma", "L_a + gamma"),
]


@pytest.mark.parametrize("expr, line, piece", CASES, ids=range(len(CASES)))
def test_text_and_pretty(expr, line, piece):
    assert text(expr) == line
    assert piece in pretty(expr)


@pytest.fixture(scope="module")
def net():
    return sd.networks.multitask()


def test_a_derivation_prints_what_it_differentiates_as_spelled(net):
    shown = net.residual("yhat_b").pretty()
    assert "d L / d yhat_b[i, u] =" in shown and "\u0302" not in shown and "ŷ" not in shown
    assert str(net.residual("z_1b")).startswith("d L / d z_1b[i, u] = [z_1b[i, u] > 0]")


def test_sums_run_from_one_in_text_as_in_latex(net):
    gradient = net.gradient("theta_1a")
    assert r"\sum_{i=1}^{m}" in gradient.latex()
    assert "sum_{i=1..m}" in str(gradient)
    assert "i = 1" in gradient.pretty() and "i = 0" not in gradient.pretty()


def test_no_theta_for_the_step_anywhere_in_grad(capsys):
    assert main(["grad", "--residuals"]) == 0
    out = capsys.readouterr().out
    assert "θ" not in out and "[z_1a[i, u] > 0]" in out and "/̂" not in out


def test_grad_says_what_the_residuals_it_uses_are(capsys):
    assert main(["grad", "--param", "theta_1a"]) == 0
    out = capsys.readouterr().out
    legend = out.splitlines()[0]
    assert "delta_N = d L / d N" in legend and "delta_z_1a" in legend and "delta_z_1a" in out.split(legend)[1]
    assert main(["grad", "--param", "theta_1a", "--residuals"]) == 0
    assert "delta_N" not in capsys.readouterr().out  # they are printed instead
