"""The key of a network's derivations: a SHA-256 of exactly what they depend on (see :mod:`.cache`).

:func:`network_key` hashes the network's content in a canonical form (:class:`_Canon`: name, file and line
positions left out unless ``presentation``), every class in each layer's MRO (its source file, class attributes
and methods: byte code, constants, defaults, closures), and the bytes of every ``.py`` file of symderiv with
symderiv's and SymPy's versions and the cache's format (:func:`_engine_digest`). Anything it cannot describe for
sure raises :class:`Uncacheable` inside and gives None.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import sys
import types
from pathlib import Path

FORMAT = "symderiv-derivations"
FORMAT_VERSION = 1
_PRESENTATION_ONLY = {"Network": {"name", "source"}, "Node": {"where"}}  # fields that change no formula


class Uncacheable(Exception):
    """The network holds something the key cannot describe for sure."""



@functools.lru_cache(maxsize=1)
def _engine_digest() -> str:
    import sympy

    import symderiv
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(f"{FORMAT}/{FORMAT_VERSION}|sympy {sympy.__version__}|symderiv "
                            f"{getattr(symderiv, '__version__', '?')}|py {sys.version_info[:2]}".encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.lru_cache(maxsize=256)
def _file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class _Canon:
    """A canonical, JSON-able description of a network and the classes it uses."""

    def __init__(self, presentation: bool = False):
        self.classes: dict[type, object] = {}
        self.presentation = presentation  # also the fields that change no formula (names, file lines)

    def value(self, v, depth=0):
        import sympy as sp
        if depth > 40:
            raise Uncacheable("nested too deeply")
        if v is None or isinstance(v, (bool, int, float, str)):
            return [type(v).__name__, repr(v)]
        if isinstance(v, sp.Basic):
            return ["sympy", sp.srepr(v)]
        if isinstance(v, (list, tuple)):
            return [type(v).__name__, [self.value(x, depth + 1) for x in v]]
        if isinstance(v, (set, frozenset)):
            return ["set", sorted(json.dumps(self.value(x, depth + 1)) for x in v)]
        if isinstance(v, dict):
            return ["dict", [[self.value(k, depth + 1), self.value(x, depth + 1)] for k, x in v.items()]]
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            skip = set() if self.presentation else _PRESENTATION_ONLY.get(type(v).__name__, set())
            return ["dataclass", self.type_name(type(v)),
                    [[f.name, self.value(getattr(v, f.name), depth + 1)] for f in dataclasses.fields(v)
                     if not f.name.startswith("_") and f.name not in skip]]
        if isinstance(v, type):
            return ["class", self.cls(v)]
        if isinstance(v, (types.FunctionType, types.MethodType)):
            return ["function", self.function(getattr(v, "__func__", v), depth + 1)]
        if isinstance(v, (types.BuiltinFunctionType, types.ModuleType)):
            return ["builtin", getattr(v, "__module__", None) or "", getattr(v, "__qualname__", v.__name__)]
        if isinstance(v, (staticmethod, classmethod, property)):
            inner = [getattr(v, a, None) for a in ("__func__", "fget", "fset", "fdel")]
            return [type(v).__name__, [self.value(x, depth + 1) for x in inner if x is not None]]
        from symderiv.layers.base import Layer
        if isinstance(v, Layer):
            return ["layer", self.cls(type(v)), self.value(dict(vars(v)), depth + 1)]
        raise Uncacheable(f"cannot describe a {type(v).__qualname__} for the cache key")

    @staticmethod
    def type_name(kind) -> str:
        return f"{kind.__module__}:{kind.__qualname__}"

    def cls(self, cls) -> str:
        """The class's name; a class not from a library also gets its source and attributes described."""
        name = self.type_name(cls)
        if cls in self.classes or _library_class(cls):
            return name  # symderiv's own files are in the engine digest; libraries are in the versions
        self.classes[cls] = None  # a placeholder against cycles
        module = sys.modules.get(cls.__module__)
        try:
            source = _file_digest(inspect.getsourcefile(module) or "")
        except (TypeError, OSError):
            try:
                source = hashlib.sha256(inspect.getsource(cls).encode()).hexdigest()
            except (TypeError, OSError) as exc:
                raise Uncacheable(f"no source for {name}") from exc
        attrs = [[k, self.value(v, 1)] for k, v in vars(cls).items()
                 if k not in ("__dict__", "__weakref__", "__module__", "__qualname__", "__doc__")]
        bases = [self.cls(b) for b in cls.__mro__[1:] if b is not object]
        self.classes[cls] = [name, source, bases, attrs]
        return name

    def function(self, fn, depth):
        closure = [self.value(c.cell_contents, depth + 1) for c in (fn.__closure__ or ())]
        return [fn.__qualname__, self.code(fn.__code__), self.value(fn.__defaults__, depth + 1),
                self.value(fn.__kwdefaults__, depth + 1), closure]

    def code(self, code):
        return [code.co_code.hex(), [self.const(c) for c in code.co_consts], list(code.co_names),
                list(code.co_varnames)]

    def const(self, c):
        if isinstance(c, types.CodeType):
            return self.code(c)
        if isinstance(c, frozenset):  # its repr's order depends on the hash seed
            return ["frozenset", sorted(json.dumps(self.const(x)) for x in c)]
        if isinstance(c, tuple):
            return ["tuple", [self.const(x) for x in c]]
        return repr(c)


def _library_class(cls) -> bool:
    """Whether ``cls`` is a class of symderiv, SymPy, NumPy or Python itself (found under its own name)."""
    if (cls.__module__ or "").split(".")[0] not in ("builtins", "sympy", "numpy", "symderiv", "typing", "abc"):
        return False
    found = sys.modules.get(cls.__module__)
    for part in cls.__qualname__.split("."):
        found = getattr(found, part, None)
    return found is cls


def network_key(network, presentation: bool = False) -> str | None:
    """The SHA-256 (hex) naming ``network``'s derivations, or None if it cannot be described for sure.

    With ``presentation``, the key also sees what only shows in a text (the
    network's name, its file, the nodes' lines): the key of a whole output.
    """
    canon = _Canon(presentation)
    try:
        checked = network.validate()
        content = canon.value(network)
        layers = [[name, canon.value(checked.layers[name])] for name in checked.order]
        classes = sorted(json.dumps(v) for v in canon.classes.values())
    except (Uncacheable, RecursionError):
        return None
    text = json.dumps([_engine_digest(), content, layers, classes], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
