"""The derivation cache: results come back exactly, the key sees every change, a bad file is only a miss."""
from __future__ import annotations

import json
import os

import pytest
import sympy as sp

import symderiv as sd
from symderiv.derivation import cache, expr_json
from symderiv.derivation.backprop import Backprop


def tiny(weight=1, n_y="n_y", op="linear", name="tiny"):
    net = sd.Network(name)
    net.sizes("n_x", "n_y")
    net.input("x", "m, n_x")
    net.input("y", f"m, {n_y}")
    net.param("W", f"{n_y}, n_x")
    net.param("c", n_y)
    net.node("z", op, x="x", theta="W", b="c")
    net.node("a", "relu", z="z")
    net.node("loss", "mse", yhat="a", y="y")
    net.loss("loss", weight)
    return net


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """An empty cache folder and memo for one test."""
    monkeypatch.setenv("SYMDERIV_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SYMDERIV_NO_CACHE", raising=False)
    cache.clear_memo()
    yield tmp_path / "cache" / "derivations"
    cache.clear_memo()


def tables(d):
    return d.backprop.residuals, d.backprop.gradients


def entry(folder):
    (path,) = folder.glob("*.json")
    return path


def test_a_stored_result_comes_back_equal_from_memo_and_from_disk(fresh):
    first = tiny().derivations()
    path = entry(fresh)
    assert cache.load_backprop(tiny(), first.built) is not None  # the memo
    cache.clear_memo()
    before = dict(cache.stats)
    again = tiny().derivations()
    assert cache.stats["disk"] == before["disk"] + 1
    assert tables(again) == tables(first)
    assert vars(again.backprop).keys() == vars(Backprop(again.built)).keys()  # restored like a fresh one
    assert again.backprop.built is again.built and again.backprop.checked is again.network.validate()
    assert str(again.gradient("W").expr) == str(first.gradient("W").expr)
    assert path.stat().st_size < 200_000 and not list(fresh.glob(".tmp-*"))


def test_no_cache_setting_writes_nothing_and_keeps_nothing(fresh, monkeypatch):
    monkeypatch.setenv("SYMDERIV_NO_CACHE", "1")
    d = tiny().derivations()
    assert not fresh.exists()
    assert cache.load_backprop(tiny(), d.built) is None


def test_the_key_changes_with_the_content_and_not_with_the_name():
    base = cache.network_key(tiny())
    assert base is not None and base == cache.network_key(tiny(name="other"))
    keys = {cache.network_key(net) for net in (tiny(weight=2), tiny(n_y="n_x"), tiny(op=sd.Linear))}
    assert None not in keys and len(keys) == 3 and base not in keys


def _factory(scale):
    class Scaled(sd.Layer):
        op = "scaled"
        signature = "x[m, n] -> y[m, n]"

        def forward(self, f, x):
            return lambda i, u: scale * x[i, u]
    return Scaled


def scaled_net(cls):
    net = sd.Network("s")
    net.sizes("n")
    net.input("x", "m, n")
    net.node("y", cls, x="x")
    net.node("loss", "mse", yhat="y", y="x")
    net.loss("loss")
    return net


def test_layers_from_one_factory_with_other_closures_get_other_keys():
    two, three = cache.network_key(scaled_net(_factory(2))), cache.network_key(scaled_net(_factory(3)))
    assert None not in (two, three) and two != three
    assert cache.network_key(scaled_net(_factory(2))) == two


def test_a_layer_without_source_is_not_cached(fresh):
    twice = type("Twice", (sd.Layer,), {"__module__": "made_at_run_time", "op": "twice",
                                        "signature": "x[m, n] -> y[m, n]",
                                        "forward": lambda self, f, x: lambda i, u: 2 * x[i, u]})
    net = scaled_net(twice)
    assert cache.network_key(net) is None
    net.derivations()
    assert not fresh.exists()


def _rewrite(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _reseal(doc):
    body = {k: doc[k] for k in ("key", "nodes", "data")}
    doc["sha256"] = cache.hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _rename_symbol(doc, reseal):
    symbol = next(node for node in doc["nodes"] if node[0] == "Symbol")
    symbol[1] += "_"
    if reseal:
        _reseal(doc)


CORRUPTIONS = {
    "truncated": lambda p: p.write_text(p.read_text()[: len(p.read_text()) // 2]),
    "not json": lambda p: p.write_bytes(b"\x80\x81 not json"),
    "empty": lambda p: p.write_text(""),
    "renamed symbol": lambda p: _rewrite(p, lambda d: _rename_symbol(d, reseal=False)),
    "other key": lambda p: _rewrite(p, lambda d: (d.update(key="0" * 64), _reseal(d))),
    "unknown class": lambda p: _rewrite(p, lambda d: (d["nodes"].append(["Op", "__import__", 0]), _reseal(d))),
    "forward reference": lambda p: _rewrite(p, lambda d: (d["nodes"].insert(0, ["Tuple", 5]), _reseal(d))),
    "not canonical": lambda p: _rewrite(p, lambda d: (d["nodes"].append(d["nodes"][0]), _reseal(d))),
    "wrong shape": lambda p: _rewrite(p, lambda d: (d["data"]["gradients"].pop(), _reseal(d))),
    "a directory": lambda p: (p.unlink(), p.mkdir()),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupted_entry_is_a_miss_and_the_result_is_derived_again(fresh, corruption):
    right = tables(tiny().derivations())
    CORRUPTIONS[corruption](entry(fresh) if corruption != "a directory" else next(fresh.glob("*.json")))
    cache.clear_memo()
    before = dict(cache.stats)
    again = tiny().derivations()
    assert cache.stats["disk"] == before["disk"] and cache.stats["miss"] == before["miss"] + 1
    assert tables(again) == right


def test_an_unwritable_folder_still_gives_the_result(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SYMDERIV_CACHE_DIR", str(blocker))
    cache.clear_memo()
    assert tiny().gradient("c").expr is not None
    cache.clear_memo()


# ---- the JSON form of expressions ------------------------------------------------------------------
m = sp.Symbol("m", integer=True, positive=True)
i = sp.Idx(sp.Symbol("i", integer=True), (0, m - 1))
x = sp.IndexedBase("x", shape=(m,), real=True)
ROUND_TRIPS = [
    sp.Sum(x[i] ** 2 / m, (i, 0, m - 1)),
    sp.Piecewise((x[i], x[i] > 0), (sp.Rational(1, 3) * x[i], True)),
    sp.Heaviside(x[i], 0) * sp.KroneckerDelta(i, sp.Idx(sp.Symbol("j", integer=True), (0, m - 1))),
    sp.exp(-x[i]) + sp.log(1 + sp.tanh(x[i])) + sp.erf(x[i]) + sp.sqrt(x[i] ** 2 + sp.Symbol("eps", positive=True)),
    sp.Float("0.1", 30) * x[i] + sp.Float(1e-300) + sp.Float(-2.5),
    sp.Mul(-1, sp.Add(x[i], 1, evaluate=False), evaluate=False),  # kept as stored, not redistributed
    sp.Symbol("a", nonnegative=True) + sp.Symbol("a") + sp.S.Half + sp.pi,
]


@pytest.mark.parametrize("expr", ROUND_TRIPS, ids=range(len(ROUND_TRIPS)))
def test_expressions_come_back_identical(expr):
    enc = expr_json.Encoder()
    root = enc.encode(expr)
    text = json.dumps(enc.nodes)
    back = expr_json.decode(json.loads(text))[root]
    assert back == expr and sp.srepr(back) == sp.srepr(expr)
    for s_back, s in zip(sorted(back.free_symbols, key=str), sorted(expr.free_symbols, key=str)):
        assert s_back.assumptions0 == s.assumptions0


@pytest.mark.parametrize("expr", [sp.Dummy("d") + 1, sp.Wild("w") * 2, sp.Function("f")(m),
                                  sp.IndexedBase("y", offset=1)[i], sp.Matrix([1])[0] + sp.MatrixSymbol("A", 2, 2)[0, 0]])
def test_unknown_classes_are_refused(expr):
    with pytest.raises(expr_json.NotSerializable):
        expr_json.Encoder().encode(expr)


@pytest.mark.parametrize("nodes", [
    "x", [["Integer", "1", "2"]], [["Integer", 1]], [["Integer", "1e5"]], [["Symbol", "x", {"evil": True}]],
    [["Symbol", "x", {}], ["Op", "Add", 0, 1]], [["Op", "eval", 0]], [["Fn", "os:system"]],
    [["Float", 0, "1", 10 ** 9, 53]], [["Idx", 0, 0, 0]],
])
def test_malformed_tables_are_refused(nodes):
    with pytest.raises(expr_json.Malformed):
        expr_json.decode(nodes)


# ---- whole outputs ---------------------------------------------------------------------------------
def test_an_output_is_rendered_once_then_read_back_and_a_damaged_one_is_rendered_again(fresh, monkeypatch):
    from symderiv.emitting import codegen
    calls = []
    real = codegen.render_kernels

    def counted(net):
        calls.append(net)
        return real(net)
    counted.__module__, counted.__qualname__ = real.__module__, real.__qualname__  # counted as the real one
    first = cache.cached_text("kernels", tiny(), counted)
    assert cache.cached_text("kernels", tiny(), counted) == first and len(calls) == 1
    renamed = cache.cached_text("kernels", tiny(name="renamed"), counted)  # the name shows in the text
    assert len(calls) == 2 and "renamed" in renamed and renamed != first
    assert cache.cached_text("other kind", tiny(), counted) == first and len(calls) == 3
    for path in (fresh.parent / "outputs").glob("*.json"):
        doc = json.loads(path.read_text())
        path.write_text(json.dumps({**doc, "text": "def loss_and_grads(): pass\n"}))  # the checksum no longer fits
    assert cache.cached_text("kernels", tiny(), counted) == first and len(calls) == 4


def test_an_output_of_an_unverified_derivation_is_not_kept(fresh):
    from symderiv.emitting.codegen import render_kernels
    from symderiv.verification.self_check import set_verification
    set_verification(False)
    try:
        cache.cached_text("kernels", tiny(), render_kernels)
    finally:
        set_verification(True)
    assert not (fresh.parent / "outputs").exists()
    cache.cached_text("kernels", tiny(), render_kernels)  # verified now: kept
    assert len(list((fresh.parent / "outputs").glob("*.json"))) == 1


def test_the_key_does_not_depend_on_the_hash_seed():
    import subprocess
    import sys
    from pathlib import Path
    code = ("import sys; sys.path.insert(0, 'tests'); from test_speed_cache import tiny; "
            "from symderiv.derivation import cache; print(cache.network_key(tiny()))")
    keys = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=Path(__file__).resolve().parents[1], env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")}
    assert len(keys) == 1 and keys != {"None\n"}


def test_a_replaced_renderer_is_never_cached_in_place_of_the_real_one(fresh):
    from symderiv.emitting.codegen import render_kernels
    net = tiny()
    net.derivations()  # verified, in the memo: outputs may now be stored
    assert cache.cached_text("kernels", net, lambda network: "# a test double\n") == "# a test double\n"
    real = cache.cached_text("kernels", net, render_kernels)
    assert real == render_kernels(net) and "a test double" not in real
    assert cache.cached_text("kernels", net, render_kernels) == real  # the real one is kept and comes back
