r"""One namespace for the Python identifiers of generated code, and the escaping of user text in it.

Every SymPy object that generated code holds in a variable (an IndexedBase,
a scalar Symbol, a size) gets its own identifier from a :class:`Namespace`:
valid, ASCII, not a keyword, not a builtin, not a name the generated module
itself uses (``np``, ``dtype``, ``params``, its helpers ``_fetch`` ...), and
different from every other object's, even when two objects share a label.
The user's names stay visible where they mean something (dictionary keys,
messages, docstrings), printed as string literals or escaped; they never
become code. Names are given in the order asked, so the same calls give the
same names on every machine.

>>> import sympy as sp
>>> ns = Namespace()
>>> a, b = sp.IndexedBase("z", shape=(2,)), sp.IndexedBase("z", shape=(3,))
>>> ns.name(a), ns.name(b), ns.name(a), ns.name(sp.Symbol("lambda")), ns.name(sp.Symbol("np"))
('z', 'z_', 'z', 'lambda_', 'np_')
>>> print(quote('say "hi"'), quote("x"), doc_text('a\\b "q"'), comment_text("x\nimport os"))
'say "hi"' "x" a\\b \"q\" 'x\nimport os'
"""
from __future__ import annotations

import keyword
import re

import sympy as sp

# the public builtins of Python 3.11 to 3.13 (fixed here, so that names do not depend on the Python running)
BUILTINS = frozenset("""
ArithmeticError AssertionError AttributeError BaseException BaseExceptionGroup BlockingIOError BrokenPipeError
BufferError BytesWarning ChildProcessError ConnectionAbortedError ConnectionError ConnectionRefusedError
ConnectionResetError DeprecationWarning EOFError Ellipsis EncodingWarning EnvironmentError Exception ExceptionGroup
False FileExistsError FileNotFoundError FloatingPointError FutureWarning GeneratorExit IOError ImportError
ImportWarning IndentationError IndexError InterruptedError IsADirectoryError KeyError KeyboardInterrupt LookupError
MemoryError ModuleNotFoundError NameError None NotADirectoryError NotImplemented NotImplementedError OSError
OverflowError PendingDeprecationWarning PermissionError ProcessLookupError PythonFinalizationError RecursionError
ReferenceError ResourceWarning RuntimeError RuntimeWarning StopAsyncIteration StopIteration SyntaxError SyntaxWarning
SystemError SystemExit TabError TimeoutError True TypeError UnboundLocalError UnicodeDecodeError UnicodeEncodeError
UnicodeError UnicodeTranslateError UnicodeWarning UserWarning ValueError Warning ZeroDivisionError abs aiter all anext
any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile complex copyright credits delattr dict
dir divmod enumerate eval exec exit filter float format frozenset getattr globals hasattr hash help hex id input int
isinstance issubclass iter len license list locals map max memoryview min next object oct open ord pow print property
quit range repr reversed round set setattr slice sorted staticmethod str sum super tuple type vars zip
""".split())  # noqa: SIM905 - a word list reads better as text

# names a generated module uses itself: its imports, its public functions' parameters and its helpers
MODULE_NAMES = frozenset({
    "np", "numpy", "scipy", "special", "math", "xp", "array_api_compat", "dtype", "params", "inputs", "cache",
    "outputs", "grads",
    "forward", "backward", "loss_and_grads", "predict",
})

_ASCII_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def reserved(name: str) -> bool:
    """Whether generated code may not use ``name`` for a variable of its own.

    >>> [reserved(n) for n in ("x", "None", "sum", "dtype", "_fetch", "match")]
    [False, True, True, True, True, False]
    """
    return (keyword.iskeyword(name) or name in BUILTINS or name in MODULE_NAMES or name.startswith("_")
            or _ASCII_IDENTIFIER.fullmatch(name) is None)


def _stem(label: str) -> str:
    """``label`` made an ASCII identifier that starts with a letter (other characters become ``_``)."""
    stem = re.sub(r"[^A-Za-z0-9_]", "_", label)
    return stem if re.match(r"[A-Za-z]", stem) else "v" + stem


def label_of(item) -> str:
    """The label of an IndexedBase, Symbol or Indexed (what SymPy prints for it)."""
    if isinstance(item, sp.Indexed):
        item = item.base
    return str(item.label) if isinstance(item, sp.IndexedBase) else str(item)


class Namespace:
    """Identifiers for objects: the same object always gets the same name, two objects never do."""

    def __init__(self, taken=()):
        self.names: dict = {}
        self.used: set[str] = set(taken)

    def name(self, item, *stems: str) -> str:
        """The identifier of ``item``: its label, else the first free of ``stems``, else with ``_`` appended."""
        if item in self.names:
            return self.names[item]
        candidates = [_stem(label_of(item) if not isinstance(item, str) else item), *(_stem(s) for s in stems)]
        for candidate in candidates:
            if not reserved(candidate) and candidate not in self.used:
                return self._take(item, candidate)
        candidate = candidates[0]
        while reserved(candidate) or candidate in self.used:
            candidate += "_"
        return self._take(item, candidate)

    def _take(self, item, name: str) -> str:
        self.names[item] = name
        self.used.add(name)
        return name

    def get(self, item, default=None):
        """Dictionary-style lookup: the identifier of ``item`` (given on first use; ``default`` is ignored)."""
        return self.name(item)

    def __contains__(self, item) -> bool:
        return item in self.names


def quote(text: str) -> str:
    """``text`` as a Python string literal (its ``repr``; in double quotes unless it holds one)."""
    text = str(text)
    literal = repr(text)
    if literal.startswith("'") and '"' not in text:
        return '"' + literal[1:-1] + '"'  # (no ' in text: nothing inside was escaped for the quotes)
    return literal


def comment_text(text: str) -> str:
    """``text`` for a ``#`` comment: its ``repr`` (one line, no control character)."""
    return repr(str(text))


def doc_text(text: str) -> str:
    """``text`` for the inside of a ``\"\"\"`` docstring: reads as ``text`` with non-printable characters escaped.

    Backslashes and double quotes are escaped, so the text can neither close the docstring nor start an
    escape sequence; line breaks and other control characters are shown as their escapes.
    """
    shown = "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
                    for ch in str(text))
    return shown.replace("\\", "\\\\").replace('"', '\\"')
