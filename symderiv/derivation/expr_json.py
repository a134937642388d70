"""SymPy expression trees as plain JSON data, and back, for an allowlist of node classes only.

The derivation cache (:mod:`.cache`) stores closed forms on disk, in a
folder anything may write to, so reading one back must never run code:
no ``eval``, no ``pickle``, no ``sympify``. An :class:`Encoder` turns
expressions into a table of nodes, each ``[tag, ...]`` whose arguments are
the numbers of earlier nodes (shared subtrees are stored once), and
:func:`decode` builds them again with the node classes' own constructors.

Only these classes are known: numbers (``Integer``, ``Rational``, an exact
``Float``, a few named constants), ``Symbol`` with its assumptions, ``Idx``
with its range, ``IndexedBase`` with its shape and assumptions,
``Indexed``, ``Tuple``, ``Sum`` with its limits, the operators in
:data:`OPERATORS` (``Add``, ``Mul``, ``Pow``, ``Piecewise``,
``KroneckerDelta``, ``Heaviside``, relations, ``exp``, ``log``, ``tanh``,
``erf``, ...) and the SymPy ``Function`` subclasses defined in the modules
the caller allows (symderiv's own, and those of the layers in use).
Anything else (a ``Dummy``, a ``Wild``, an undefined function) cannot be
encoded: :class:`NotSerializable`. A table that is malformed, or that
does not encode back to exactly itself, cannot be decoded:
:class:`Malformed`.

>>> import sympy as sp
>>> x = sp.IndexedBase("x", shape=(3,), real=True)
>>> i = sp.Idx(sp.Symbol("i", integer=True), (0, 2))
>>> e = sp.Sum(sp.Heaviside(x[i], 0) * x[i] ** 2, (i, 0, 2))
>>> enc = Encoder()
>>> root = enc.encode(e)
>>> decode(enc.nodes)[root] == e
True
"""
from __future__ import annotations

import sympy as sp
from sympy.core.assumptions import _assume_defined
from sympy.functions.elementary.piecewise import ExprCondPair

FORMAT = 1

# name -> class; built with cls(*args, evaluate=False) where the class takes it, so that the tree
# comes back exactly as it was stored (no re-simplification on the way in)
OPERATORS = {cls.__name__: cls for cls in (
    sp.Add, sp.Mul, sp.Pow, sp.Piecewise, sp.KroneckerDelta, sp.Heaviside, sp.Max, sp.Min, sp.Abs, sp.sign,
    sp.exp, sp.log, sp.tanh, sp.sinh, sp.cosh, sp.sin, sp.cos, sp.tan, sp.atan, sp.erf, sp.erfc,
    sp.floor, sp.ceiling, sp.StrictGreaterThan, sp.GreaterThan, sp.StrictLessThan, sp.LessThan,
    sp.Equality, sp.Unequality, sp.And, sp.Or, sp.Not)}
CONSTANTS = {"Infinity": sp.S.Infinity, "NegativeInfinity": sp.S.NegativeInfinity, "NaN": sp.S.NaN,
             "ComplexInfinity": sp.S.ComplexInfinity, "Pi": sp.S.Pi, "Exp1": sp.S.Exp1,
             "ImaginaryUnit": sp.S.ImaginaryUnit, "BooleanTrue": sp.S.true, "BooleanFalse": sp.S.false}
_MAX_NODES = 2_000_000
_MAX_EXPONENT = 100_000  # of a Float's binary exponent: no giant integers from a hostile file


class NotSerializable(TypeError):
    """An expression holds a node class that the cache does not store."""


class Malformed(ValueError):
    """A node table that is not exactly what :class:`Encoder` writes."""


def project_functions(modules=()) -> dict[str, type]:
    """``"module:qualname"`` -> class, for the ``sympy.Function`` subclasses defined in symderiv or ``modules``."""
    allowed = set(modules)
    found, stack = {}, [sp.Function]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            module = getattr(sub, "__module__", "") or ""
            if module.startswith("symderiv.") or module in allowed:
                found[f"{module}:{sub.__qualname__}"] = sub
    return found


def _assumptions(symbol) -> dict:
    given = getattr(symbol, "_assumptions_orig", None)
    facts = dict(given if given is not None else symbol.assumptions0)
    return {k: bool(v) for k, v in sorted(facts.items()) if v is not None}


class Encoder:
    """Appends expressions to one node table; ``encode(expr)`` returns the expression's node number."""

    def __init__(self, functions: dict[str, type] | None = None):
        self.nodes: list[list] = []
        self._ids: dict = {}
        self._functions = {cls: name for name, cls in (functions or project_functions()).items()}

    def encode(self, expr) -> int:
        if not isinstance(expr, sp.Basic):
            raise NotSerializable(f"not a SymPy object: {type(expr).__name__}")
        key = (type(expr), expr)
        found = self._ids.get(key)
        if found is None:
            node = self._node(expr)
            found = self._ids[key] = len(self.nodes)
            self.nodes.append(node)
        return found

    def _node(self, e) -> list:
        cls = type(e)
        for name, constant in CONSTANTS.items():
            if e is constant:
                return ["S", name]
        if isinstance(e, sp.Integer):
            return ["Integer", str(int(e))]
        if isinstance(e, sp.Rational):
            return ["Rational", str(e.p), str(e.q)]
        if isinstance(e, sp.Float):
            sign, man, exp, _ = e._mpf_
            if not isinstance(man, int) or (man == 0 and exp != 0):  # inf/nan floats
                raise NotSerializable(f"Float {e} is not a finite number")
            return ["Float", sign, str(man), exp, e._prec]
        if cls is sp.Symbol:
            return ["Symbol", e.name, _assumptions(e)]
        if cls is sp.Idx:
            if len(e.args) != 2 or not isinstance(e.args[1], sp.Tuple):
                raise NotSerializable(f"index {e} has no range")
            return ["Idx", self.encode(e.label), self.encode(e.lower), self.encode(e.upper)]
        if cls is sp.IndexedBase:
            if e.offset != 0 or e.strides is not None or not isinstance(e.label, sp.Symbol):
                raise NotSerializable(f"IndexedBase {e} has an offset, strides or a non-symbol label")
            shape = None if e.shape is None else self.encode(sp.Tuple(*e.shape))
            return ["IndexedBase", self.encode(e.label), shape, _assumptions(e)]
        if cls is sp.Indexed:
            return ["Indexed", *map(self.encode, e.args)]
        if cls is sp.Tuple:
            return ["Tuple", *map(self.encode, e.args)]
        if cls is sp.Sum:
            return ["Sum", self.encode(e.function), *map(self.encode, e.limits)]
        if cls is ExprCondPair:
            return ["Pair", self.encode(e.expr), self.encode(e.cond)]
        if OPERATORS.get(cls.__name__) is cls:
            return ["Op", cls.__name__, *map(self.encode, e.args)]
        if cls in self._functions:
            return ["Fn", self._functions[cls], *map(self.encode, e.args)]
        raise NotSerializable(f"{cls.__module__}.{cls.__qualname__} is not a node class the cache stores ({e})")


def _int(value, low=None, high=None) -> int:
    if type(value) is not int or (low is not None and value < low) or (high is not None and value > high):
        raise Malformed(f"expected an integer in [{low}, {high}], got {value!r}")
    return value


def _digits(value) -> int:
    if not isinstance(value, str) or not value.lstrip("-").isdigit() or len(value) > 4000 or not value.isascii():
        raise Malformed(f"expected an integer written in digits, got {value!r}")
    return int(value)


def _facts(value) -> dict:
    if not isinstance(value, dict) or any(k not in _assume_defined or type(v) is not bool for k, v in value.items()):
        raise Malformed(f"expected assumptions (name: true/false), got {value!r}")
    return value


def _name(value) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise Malformed(f"expected a name, got {value!r}")
    return value


def decode(nodes, functions: dict[str, type] | None = None) -> list:
    """The objects of a node table written by :class:`Encoder`; :class:`Malformed` if it is anything else."""
    functions = project_functions() if functions is None else functions
    if not isinstance(nodes, list) or len(nodes) > _MAX_NODES:
        raise Malformed("the node table is not a list of nodes")
    built: list = []

    def ref(value):
        return built[_int(value, 0, len(built) - 1)]

    for node in nodes:
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise Malformed(f"node {len(built)} is not [tag, ...]")
        try:
            built.append(_build(node, ref, functions))
        except (Malformed, IndexError):
            raise
        except Exception as exc:  # a constructor refusing its arguments: the table is not what we wrote
            raise Malformed(f"node {len(built)} ({node[0]}) cannot be built: {exc}") from exc
    again = Encoder(functions)
    for obj in built:
        again.encode(obj)
    if again.nodes != nodes:
        raise Malformed("the node table does not encode back to itself")
    return built


def _build(node, ref, functions):
    tag, args = node[0], node[1:]
    if tag == "S" and len(args) == 1 and args[0] in CONSTANTS:
        return CONSTANTS[args[0]]
    if tag == "Integer" and len(args) == 1:
        return sp.Integer(_digits(args[0]))
    if tag == "Rational" and len(args) == 2:
        return sp.Rational(_digits(args[0]), _digits(args[1]))
    if tag == "Float" and len(args) == 4:
        sign, man, exp, prec = _int(args[0], 0, 1), _digits(args[1]), _int(args[2], -_MAX_EXPONENT, _MAX_EXPONENT), \
            _int(args[3], 1, 100_000)
        value = sp.Rational((-1) ** sign * man * 2 ** max(exp, 0), 2 ** max(-exp, 0))
        return sp.Float(value, precision=prec)
    if tag == "Symbol" and len(args) == 2:
        return sp.Symbol(_name(args[0]), **_facts(args[1]))
    if tag == "Idx" and len(args) == 3:
        return sp.Idx(ref(args[0]), (ref(args[1]), ref(args[2])))
    if tag == "IndexedBase" and len(args) == 3:
        label = ref(args[0])
        shape = None if args[1] is None else ref(args[1])
        if type(label) is not sp.Symbol or (shape is not None and type(shape) is not sp.Tuple):
            raise Malformed("an IndexedBase needs a symbol and a shape tuple")
        return sp.IndexedBase(label, shape=shape, **_facts(args[2]))
    refs = [ref(a) for a in args[1:]] if tag in ("Op", "Fn") else [ref(a) for a in args]
    if tag == "Indexed" and refs and type(refs[0]) is sp.IndexedBase:
        return sp.Indexed(*refs)
    if tag == "Tuple":
        return sp.Tuple(*refs)
    if tag == "Sum" and len(refs) >= 2 and all(type(r) is sp.Tuple and len(r) == 3 for r in refs[1:]):
        return sp.Sum(refs[0], *refs[1:])
    if tag == "Pair" and len(refs) == 2:
        return ExprCondPair(*refs)
    if tag == "Op" and args and args[0] in OPERATORS:
        cls = OPERATORS[args[0]]
        return cls(*refs, evaluate=False)
    if tag == "Fn" and args and args[0] in functions:
        return functions[args[0]](*refs, evaluate=False)
    raise Malformed(f"unknown node {tag!r} or wrong arguments")
