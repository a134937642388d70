"""``symderiv bench --network``: any network's generated step against PyTorch (the speed is reported, not tested)."""
from __future__ import annotations

import pytest

from symderiv import cli


@pytest.mark.parametrize("shape, message", [
    (None, "needs --shape m=...,n_x=...,n_h1=...,n_h2=...,n_y=..."),
    ("m=4,n_x=3", "missing n_h1, n_h2, n_y"),
    ("m=4,n_x=3,n_h1=2,n_h2=5,n_y=6,q=2", "unknown size(s) q"),
    ("m=4,n_x=three", "'n_x=three' is not NAME=POSITIVE_INTEGER"),
    ("m=0,n_x=3,n_h1=2,n_h2=5,n_y=6", "'m=0' is not NAME=POSITIVE_INTEGER"),
])
def test_a_network_bench_needs_every_size(shape, message, capsys):
    argv = ["bench", "--network", "mlp", *(["--shape", shape] if shape else [])]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("symderiv: error: ") and message in err, err


def test_a_network_bench_times_both_steps_after_they_agree(capsys):
    assert cli.main(["bench", "--network", "mlp", "--shape", "m=5,n_x=4,n_h1=3,n_h2=6,n_y=2",
                     "--repeat", "2", "--dtype", "float64"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("network mlp (m=5, n_x=4, n_h1=3, n_h2=6, n_y=2)"), out
    assert out[1].split() == ["dtype", "generated", "torch", "gen/torch", "min", "max"]
    row = out[2].split()
    assert row[0] == "float64" and len(row) == 6 and all(float(v) > 0 for v in row[1:]), row


def test_a_network_bench_refuses_a_step_that_disagrees_with_pytorch(monkeypatch, capsys):
    from symderiv.benchmark import torch_reference
    monkeypatch.setitem(torch_reference.TORCH, "tanh", lambda x: 2 * x)  # mlp's hidden activation, made wrong
    assert cli.main(["bench", "--network", "mlp", "--shape", "m=5,n_x=4,n_h1=3,n_h2=6,n_y=2", "--repeat", "1",
                     "--dtype", "float64"]) == 2
    captured = capsys.readouterr()
    assert "the generated step and PyTorch disagree on the loss" in captured.err and captured.out == ""


def test_the_default_bench_times_every_candidate_it_can_and_prints_each_ratio():
    """The table has a column for each candidate that ran (JAX only where it is installed) and a ratio of the
    generated step to PyTorch, JAX and the floor; the numbers are reported, not tested."""
    import importlib.util
    import io

    from symderiv.bench import run
    out = io.StringIO()
    rows = run([4], 1, ["float64"], out=out, progress=io.StringIO())
    header = out.getvalue().splitlines()[1].split()
    jax = importlib.util.find_spec("jax") is not None
    assert header == ["dtype", "batch", "generated", "torch", *(["jax"] if jax else []), "floor", "array-api",
                      "gen/torch", *(["gen/jax"] if jax else []), "gen/floor"]
    assert set(rows[0]) == {"dtype", "batch", "generated", "torch", "floor", "array-api", *(["jax"] if jax else [])}
    assert all(row[name] > 0 for row in rows for name in row if name not in ("dtype", "batch"))
