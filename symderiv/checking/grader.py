"""Grading one answer: evaluate the student's formula entry by entry against the engine's derivation.

A quantity (``batchnorm: dy_i/dx_j``, ``delta_z_2b``, ``dL/dtheta_2b``) is
turned into *instances*: concrete sizes and random values (several sizes,
smallest first, two random points each), a symbol table giving the value of
every symbol the convention allows (``x_i``, ``\\hat{x}_i``, ``\\mu``, ...), and
the engine's numbers for every entry (``Derivation.evaluate``). The first
entry where the two differ is the counterexample, so it comes from the
smallest size that shows the mistake.

>>> r = grade(Answer("relu: da/dz", r"[z_j > 0]\\delta_{ij}", 1))
>>> r.status
'correct'
>>> grade(Answer("relu: da/dz", r"\\operatorname{sgn}(z_j)\\delta_{ij}", 1)).status
'wrong'
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

import numpy as np

from symderiv.checking import latex_parser as lp
from symderiv.checking.answers import Answer
from symderiv.checking.matrix_form import ShapeMismatch, evaluate_matrix, uses_matrix_form
from symderiv.checking.symbolic import confirm


class FormulaError(ValueError):
    """The formula parses but names something the convention does not have (position included)."""

    def __init__(self, message: str, pos: int):
        super().__init__(f"at position {pos}: {message}")
        self.pos, self.detail = pos, message


@dataclass
class Result:
    answer: Answer
    status: str  # "correct", "wrong", "unreadable"
    message: str = ""
    closed_form: str = ""
    counterexample: dict = field(default_factory=dict)
    checked: int = 0  # entries compared


@dataclass
class Instance:
    sizes: dict            # shown in the counterexample
    where: str             # "feature u=1", "sample 2", ""
    table: dict            # (name, hat, tag, sup) -> number or 1-D/2-D array (indices 1-based in formulas)
    entries: list          # [(index values by letter, expected value)]
    values: dict           # what to show of the inputs
    scalars: dict          # size symbols usable in formulas: m, n, n_1b ...
    implicit: tuple = ()   # free letters given to network arrays written without indices
    expected: np.ndarray | None = None  # the whole derived array (network quantities, for matrix forms)


# ---- evaluation of the AST -----------------------------------------------------------------------
def _lookup(sym: lp.Sym, idx: dict, inst: Instance) -> float:
    return float(resolve(sym, idx, inst))


def resolve(sym: lp.Sym, idx: dict, inst: Instance):
    """The entry a symbol names at the index values ``idx`` (a number, or a SymPy expression when the
    instance holds expressions)."""
    parts = list(sym.sub)
    letters = ""
    if parts and all(c in idx for c in parts[-1]) and not (parts[-1] in idx and len(parts) == 1 and False):
        letters = parts.pop()
    tag = ",".join(parts) or None
    key = (sym.name, sym.hat, tag, sym.sup)
    if sym.name == "delta" and not sym.hat and tag is None and sym.sup is None and len(letters) == 2:
        return 1 if idx[letters[0]] == idx[letters[1]] else 0
    if key not in inst.table:
        if not letters and not sym.sub and not sym.hat and sym.sup is None:
            if sym.name in idx:
                return idx[sym.name]
            if sym.name in inst.scalars:
                return inst.scalars[sym.name]
        raise FormulaError(f"unknown symbol {_describe(sym)} for this quantity; known: {_known(inst)}", sym.pos)
    value = inst.table[key]
    arr = np.asarray(value)
    if not letters and inst.implicit and 0 < arr.ndim <= len(inst.implicit):
        # a network array written without indices (elementwise form, e.g. with \odot): the entry of the
        # quantity's own free indices, aligned on the last axis like NumPy broadcasting
        letters = "".join(inst.implicit[len(inst.implicit) - arr.ndim:])
    if arr.ndim != len(letters):
        raise FormulaError(f"{_describe(sym)} needs {arr.ndim} index(es), written with {len(letters)}", sym.pos)
    position = []
    for letter, size in zip(letters, arr.shape):
        k = idx[letter]
        if not 1 <= k <= size:
            raise FormulaError(f"index {letter} = {k} is outside 1..{size} in {_describe(sym)}", sym.pos)
        position.append(k - 1)
    return arr[tuple(position)]


def _describe(sym: lp.Sym) -> str:
    name = ("\\hat{" + sym.name + "}") if sym.hat else sym.name
    sup = f"^{{{sym.sup}}}" if sym.sup else ""
    return name + sup + (f"_{{{','.join(sym.sub)}}}" if sym.sub else "")


def _known(inst: Instance) -> str:
    names = []
    for name, hat, tag, sup in inst.table:
        text = ("\\hat{" + name + "}") if hat else ("\\" + name if len(name) > 1 else name)
        names.append(text + (f"^{{{sup}}}" if sup else "") + (f"_{{{tag}}}" if tag else ""))
    return ", ".join(sorted(set(names)))


def _infer_range(var: str, node, inst: Instance, idx: dict):
    """The size of the first array axis that the summation index ``var`` runs along."""
    for item in lp.walk(node):
        if isinstance(item, lp.Sym) and item.sub:
            parts = list(item.sub)
            letters = parts.pop() if all(c in idx or c == var for c in parts[-1]) else ""
            key = (item.name, item.hat, ",".join(parts) or None, item.sup)
            if var in letters and key in inst.table:
                return np.shape(inst.table[key])[letters.index(var)]
    if len(inst.scalars) == 1:  # a layer quantity: sums run over the batch (m) or the features (n)
        return next(iter(inst.scalars.values()))
    raise FormulaError(f"cannot tell what \\sum_{var} runs over: give limits, e.g. \\sum_{{{var}=1}}^{{m}}",
                       getattr(node, "pos", 0))


def evaluate(node, idx: dict, inst: Instance) -> float:
    ev = functools.partial(evaluate, idx=idx, inst=inst)
    if isinstance(node, lp.Num):
        return node.value
    if isinstance(node, lp.Sym):
        return _lookup(node, idx, inst)
    if isinstance(node, lp.Neg):
        return -ev(node.arg)
    if isinstance(node, lp.Add):
        return float(sum(ev(t) for t in node.terms))
    if isinstance(node, lp.Mul):
        return float(np.prod([ev(f) for f in node.factors]))
    if isinstance(node, lp.Div):
        num, den = ev(node.num), ev(node.den)
        return num / den if den != 0 else math.nan
    if isinstance(node, lp.Pow):
        base, exp = ev(node.base), ev(node.exp)
        try:
            value = base ** exp
        except (OverflowError, ZeroDivisionError):
            return math.nan
        return value if isinstance(value, float) else math.nan
    if isinstance(node, lp.Func):
        arg = ev(node.arg)
        with np.errstate(all="ignore"):
            return float({"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sgn": np.sign}[node.name](arg))
    if isinstance(node, lp.SumNode):
        if node.var in idx and not node.var.startswith("_"):
            raise FormulaError(f"the summation index {node.var} is already a free index", node.pos)
        lo = 1 if node.lo is None else ev(node.lo)
        hi = _infer_range(node.var, node.body, inst, idx) if node.hi is None else ev(node.hi)
        if lo != int(lo) or hi != int(hi) or hi - lo > 10_000:
            raise FormulaError("summation limits must be whole numbers", node.pos)
        total = 0.0
        for k in range(int(lo), int(hi) + 1):
            total += evaluate(node.body, {**idx, node.var: k}, inst)
        return total
    if isinstance(node, lp.Iverson):
        return 1.0 if _holds(node.cond, idx, inst) else 0.0
    if isinstance(node, lp.Cases):
        for expr, cond in node.branches:
            if cond is None or _holds(cond, idx, inst):
                return ev(expr)
        raise FormulaError("no branch of the cases applies to some entry", node.pos)
    if isinstance(node, (lp.Transpose, lp.Concat)):
        raise FormulaError("a transpose or \\oplus belongs to the matrix form of a network answer, where no "
                           "array carries indices; in index form write the entries", node.pos)
    raise FormulaError(f"cannot evaluate {type(node).__name__}", getattr(node, "pos", 0))


def _holds(cond: lp.Cond, idx: dict, inst: Instance) -> bool:
    a, b = evaluate(cond.lhs, idx, inst), evaluate(cond.rhs, idx, inst)
    close = math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return {"=": close, "!=": not close, "<": a < b and not close, ">": a > b and not close,
            "<=": a <= b or close, ">=": a >= b or close}[cond.op]


def _dangling_letters(tree, bound: set) -> set:
    """Index letters in subscripts that are neither free nor summed (``\\delta_{ij} c_{ik}`` in a gradient)."""
    found = set()
    for item in lp.walk(tree):
        if isinstance(item, lp.Sym) and item.sub:
            last = item.sub[-1]
            if last.isalpha() and last.islower() and (len(item.sub) >= 2 or any(c in bound for c in last)):
                found |= {c for c in last if c not in bound}
    return found


# ---- grading -------------------------------------------------------------------------------------
def _same(a: float, b: float) -> bool:
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-9)


def grade(answer: Answer, network=None) -> Result:
    """Grade one answer: correct, wrong (with the smallest counterexample) or unreadable."""
    quantity = resolve_quantity(answer.quantity, network)  # ValueError: an unknown quantity (usage error)
    try:
        tree = lp.parse(answer.latex)
    except lp.ParseError as exc:
        return Result(answer, "unreadable", str(exc), quantity.closed_form())
    except RecursionError:
        return Result(answer, "unreadable", "at position 0: the formula is nested too deeply")
    letters = set(quantity.letters)
    clash = letters & lp.sum_variables(tree)
    if clash:
        return Result(answer, "unreadable", f"at position 0: {', '.join(sorted(clash))} is both a free index and "
                      f"a summation index", quantity.closed_form())
    if isinstance(quantity, NetworkQuantity) and uses_matrix_form(tree, letters | lp.sum_variables(tree)):
        return _grade_matrix_form(answer, tree, quantity)
    dangling = _dangling_letters(tree, letters | lp.sum_variables(tree))
    checked = 0
    for inst in quantity.instances():
        for idx, expected in inst.entries:
            idx = {**{c: 1 for c in dangling}, **idx}
            try:
                got = evaluate(tree, idx, inst)
            except FormulaError as exc:
                return Result(answer, "unreadable", str(exc), quantity.closed_form())
            except (RecursionError, OverflowError, ValueError, TypeError) as exc:
                return Result(answer, "unreadable", f"at position 0: cannot evaluate ({exc})",
                              quantity.closed_form())
            checked += 1
            if not _same(got, expected):
                example = {"sizes": inst.sizes, "where": inst.where, "entry": idx, "values": inst.values,
                           "student": float(got), "expected": float(expected)}
                note = (f" (index {', '.join(sorted(dangling))} is neither free nor summed: taken as 1; "
                        f"is a sum missing?)") if dangling else ""
                return Result(answer, "wrong", "differs from the derivation" + note, quantity.closed_form(),
                              example, checked)
    message = f"equal to the derivation on {checked} entries"
    if isinstance(quantity, LayerQuantity):
        message += ", " + confirm(tree, quantity)
    return Result(answer, "correct", message, quantity.closed_form(), checked=checked)


def _grade_matrix_form(answer: Answer, tree, quantity) -> Result:
    """Grade a network answer written with whole arrays (see :mod:`.matrix_form`)."""
    checked = 0
    for inst in quantity.instances():
        try:
            got = np.asarray(evaluate_matrix(tree, inst, FormulaError), dtype=float)
        except FormulaError as exc:
            return Result(answer, "unreadable", str(exc), quantity.closed_form())
        except ShapeMismatch as exc:
            example = {"sizes": inst.sizes, "where": "", "values": inst.values}
            return Result(answer, "wrong", f"the shapes do not fit, {exc}", quantity.closed_form(), example)
        except (RecursionError, OverflowError, ValueError, TypeError) as exc:
            return Result(answer, "unreadable", f"at position 0: cannot evaluate ({exc})", quantity.closed_form())
        if got.shape != inst.expected.shape:
            example = {"sizes": inst.sizes, "where": "", "values": inst.values,
                       "shapes": {"yours": got.shape, "right": inst.expected.shape}}
            return Result(answer, "wrong", f"the result has shape {got.shape}, the quantity has shape "
                          f"{inst.expected.shape}", quantity.closed_form(), example)
        for idx, expected in inst.entries:
            checked += 1
            position = tuple(idx[letter] - 1 for letter in quantity.letters)
            if not _same(float(got[position]), expected):
                example = {"sizes": inst.sizes, "where": inst.where, "entry": idx, "values": inst.values,
                           "student": float(got[position]), "expected": float(expected)}
                return Result(answer, "wrong", "differs from the derivation (matrix form)", quantity.closed_form(),
                              example, checked)
    return Result(answer, "correct", f"equal to the derivation on {checked} entries (matrix form)",
                  quantity.closed_form(), checked=checked)


# ---- quantities: what each answer heading means ------------------------------------------------
_HEADING = re.compile(r"^(?:(?P<layer>[a-z]+)\s*:\s*)?d\s*(?P<out>[A-Za-z]+?)(?:_(?P<o>[a-z]))?\s*/\s*d\s*"
                      r"(?P<wrt>[A-Za-z]+?)(?:_(?P<w>[a-z]))?$")
_SIZES = (2, 3, 4, 5)
_SEEDS = (0, 1)


class LayerQuantity:
    """A Block One Jacobian: per feature over the batch (batch norm) or per sample over features."""

    # layer: (constructor name, output, wrt, per, default output letter, default wrt letter)
    TABLE = {
        ("batchnorm", "y", "x"): ("BatchNorm", "feature", "i", "j"),
        ("batchnorm", "y", "gamma"): ("BatchNorm", "feature", "i", None),
        ("batchnorm", "y", "beta"): ("BatchNorm", "feature", "i", None),
        ("dropout", "y", "x"): ("Dropout", "sample", "j", "i"),
        ("softmax", "g", "z"): ("Softmax", "sample", "j", "i"),
        ("relu", "a", "z"): ("ReLU", "sample", "j", "i"),
    }

    def __init__(self, layer, out, wrt, o, w):
        self.cls, self.per, do, dw = self.TABLE[(layer, out, wrt)]
        self.wrt = wrt
        self.out_letter = o or do
        self.wrt_letter = (w or dw) if dw else None
        self.letters = tuple(dict.fromkeys(x for x in (self.out_letter, self.wrt_letter) if x))

    def derivation(self):
        return _layer_derivation(self.cls, self.wrt)

    def closed_form(self) -> str:
        return self.derivation().latex()

    def instances(self):
        for size in _SIZES:
            for seed in _SEEDS:
                yield from self._instances(size, seed)

    def _instances(self, size, seed):
        rng = np.random.default_rng(1000 * size + seed)
        der = self.derivation()
        if self.cls == "BatchNorm":
            m, n = size, 2
            x, gamma, beta = rng.normal(size=(m, n)), rng.normal(size=n), rng.normal(size=n)
            eps = float(rng.uniform(0.05, 0.5))
            J = der.evaluate(x=x, gamma=gamma, beta=beta, eps=eps)
            mu, var = x.mean(0), x.var(0)
            xhat = (x - mu) / np.sqrt(var + eps)
            for u in range(n):
                table = {("x", False, None, None): x[:, u], ("x", True, None, None): xhat[:, u],
                         ("y", False, None, None): gamma[u] * xhat[:, u] + beta[u],
                         ("mu", False, None, None): mu[u], ("sigma", False, None, None): np.sqrt(var[u]),
                         ("gamma", False, None, None): gamma[u], ("beta", False, None, None): beta[u],
                         ("epsilon", False, None, None): eps}
                entries = []
                for i in range(m):
                    if self.wrt == "x":
                        for j in range(m):
                            if self.out_letter == self.wrt_letter and i != j:
                                continue
                            entries.append(({self.out_letter: i + 1, self.wrt_letter: j + 1}, J[i, u, j, u]))
                    else:
                        entries.append(({self.out_letter: i + 1}, J[i, u, u]))
                yield Instance({"m": m}, f"feature {u + 1}", table, entries,
                               {"x": x[:, u], "gamma": gamma[u], "beta": beta[u], "epsilon": eps}, {"m": m})
            return
        m, n = 2, size - 1
        if self.cls == "Dropout":
            r, p, x = rng.random((m, n)), float(rng.uniform(0.2, 0.5)), rng.normal(size=(m, n))
            M = (r >= p).astype(float)
            J = der.evaluate(x=x, M=M, p=p)
            arrays = {"r": r, "M": M, "x": x, "y": M * x / (1 - p)}
            scal = {("p", False, None, None): p}
            shown = lambda b: {"r": r[b], "M": M[b], "p": p}
        elif self.cls == "Softmax":
            z = rng.normal(size=(m, n))
            J = der.evaluate(z=z)
            g = np.exp(z) / np.exp(z).sum(1, keepdims=True)
            arrays = {"z": z, "g": g, "S": g, "s": g, "yhat": g}
            scal = {}
            shown = lambda b: {"z": z[b]}
        else:
            z = rng.normal(size=(m, n))
            z[0, 0] = 0.0  # the step at 0 is 0
            J = der.evaluate(z=z)
            arrays = {"z": z, "a": np.maximum(z, 0)}
            scal = {}
            shown = lambda b: {"z": z[b]}
        for b in range(m):
            table = {(k.removesuffix("hat"), k.endswith("hat"), None, None): v[b] for k, v in arrays.items()}
            table.update(scal)
            entries = []
            for j in range(n):
                for i in range(n):
                    if self.out_letter == self.wrt_letter and i != j:
                        continue
                    entries.append(({self.out_letter: j + 1, self.wrt_letter: i + 1}, J[b, j, b, i]))
            yield Instance({"n": n}, f"sample {b + 1}", table, entries, shown(b), {"n": n})


@functools.cache
def _layer_derivation(cls, wrt):
    import symderiv as sd
    return getattr(sd, cls)().jacobian(wrt)


class NetworkQuantity:
    """A residual ``delta_<node>`` (letters i, j) or a gradient ``dL/d<param>`` (letters j, k / j)."""

    def __init__(self, network, kind, name):
        self.network, self.kind, self.name = network, kind, name
        self.derived = network.residual(name) if kind == "residual" else network.gradient(name)
        self.letters = ("i", "j") if kind == "residual" else ("j", "k")[:len(self.derived.axes)]

    def closed_form(self) -> str:
        return self.derived.latex()

    def instances(self):
        symbols = set()
        for shape in self.network.validate().shapes.values():
            for dim in shape:
                symbols |= {str(f) for f in getattr(dim, "free_symbols", ())}
        features = sorted(symbols - {"m"})
        for k, base in enumerate(_SIZES[:3]):
            # every size different from the batch and from each other: then a matrix product and an
            # elementwise product, or a matrix and its transpose, can never be confused
            sizes = {s: base + 1 + rank for rank, s in enumerate(features)}
            yield _network_instance(self, base, sizes, seed=k)


def _network_instance(q, m, sizes, seed):
    key = (id(q.network), m, tuple(sorted(sizes.items())), seed)
    if key not in _VALUES:
        _VALUES[key] = _network_values(q.network, m, sizes, seed)
    table, arrays, shown, scalars = _VALUES[key]
    expected = q.derived.evaluate(**arrays)
    entries = [({letter: v + 1 for letter, v in zip(q.letters, position)}, float(expected[position]))
               for position in np.ndindex(expected.shape)]
    return Instance({"m": m, **sizes}, "", table, entries, shown, scalars, implicit=tuple(q.letters),
                    expected=expected)


_VALUES: dict = {}


def _network_values(net, m, sizes, seed):
    import sympy as sp
    rng = np.random.default_rng(seed)
    derivations = net.derivations()
    built = derivations.built
    checked = net.validate()
    concrete = {sp.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()}
    concrete[sp.Symbol("m", integer=True, positive=True)] = m
    arrays, p, eps = {}, 0.3, 0.1
    for name, shape in checked.shapes.items():
        spec = built.args[name]
        if spec.role == "constant":
            arrays[name] = {"p": p, "eps": eps}.get(name, 0.5)
            continue
        every = {**sizes, "m": m}
        dims = tuple(int(sp.sympify(s).subs({f: every[str(f)] for f in sp.sympify(s).free_symbols}))
                     for s in shape)
        if spec.distribution:
            arrays[name] = np.eye(dims[-1])[rng.integers(0, dims[-1], dims[:-1])]
        elif name == "M":
            arrays[name] = (rng.random(dims) >= p).astype(float)
        else:
            arrays[name] = rng.normal(size=dims)
    table = {}
    for name, value in arrays.items():
        table[_key(name)] = value
    for eq in derivations.forward_equations():
        value = eq.evaluate(**arrays)
        title = eq.title
        if title.startswith("var_"):
            table[("sigma", False, None, None)] = np.sqrt(value)
        elif title.startswith("mu_"):
            table[("mu", False, None, None)] = value
        elif title.startswith("xhat_"):
            table[("x", True, None, None)] = value
        else:
            table[_key(title)] = value
    for node in derivations.backprop.residuals:
        table[("delta", False, _key(node)[0] + ("hat" if _key(node)[1] else "") + "_" + (_key(node)[2] or ""),
               None)] = derivations.residual(node).evaluate(**arrays)
    if "theta_2b" in arrays and "n_1b" in sizes:  # the split of theta_2b at the concatenation n_1b + yhat_a
        k = sizes["n_1b"]
        table[("theta", False, "2b", "n")] = arrays["theta_2b"][:, :k]
        table[("theta", False, "2b", "a")] = arrays["theta_2b"][:, k:]
    shown = {k: v for k, v in arrays.items() if k in ("x", "y_a", "y_b", "M", "p", "eps")}
    scalars = {"m": m, "p": p, **sizes}
    table[("epsilon", False, None, None)] = eps
    table[("p", False, None, None)] = p
    return table, arrays, shown, scalars


def _key(name: str):
    """Engine name -> (LaTeX base, hat, tag, block): 'yhat_a' -> ('y', True, 'a', None)."""
    base, _, tag = name.partition("_")
    hat = base.endswith("hat") and base != "hat"
    if hat:
        base = base[:-3]
    return (base, hat, tag or None, None)


def resolve_quantity(heading: str, network=None):
    """The quantity an answer heading names; ValueError (a usage error) if there is none."""
    text = re.sub(r"\s+", "", heading.replace("\\partial", "d").replace("\\", ""))
    match = re.fullmatch(r"delta_(\w+)", text)
    if match:
        net = network or _default_network()
        return NetworkQuantity(net, "residual", match.group(1))
    match = _HEADING.match(text)
    if match and match.group("layer"):
        key = (match.group("layer").lower(), match.group("out"), match.group("wrt"))
        if key in LayerQuantity.TABLE:
            return LayerQuantity(*key, match.group("o"), match.group("w"))
    match_grad = re.fullmatch(r"dL/d(\w+)", text)
    if match_grad:
        net = network or _default_network()
        return NetworkQuantity(net, "gradient", match_grad.group(1))
    known = ", ".join(f"{layer}: d{o}/d{w}" for layer, o, w in LayerQuantity.TABLE)
    raise ValueError(f"unknown quantity {heading!r}; known: {known}, delta_<node>, dL/d<param>")


@functools.cache
def _default_network():
    import symderiv as sd
    return sd.networks.multitask()
