"""A content-addressed cache of network derivations: on disk across runs, and in memory within one process.

Deriving a network's backward pass takes seconds; its result depends only on
what the network says (sizes, inputs, constants, parameters, nodes with their
layers and arguments, losses), on the code of the layers it uses and on the
engine that derives. :func:`network_key` hashes exactly that:

- the network's content in a canonical form (its name, file and line
  positions are left out: they change no formula);
- every class in each layer's MRO: its module's source file, and its class
  attributes and methods (byte code, constants, defaults and closures), so a
  layer made by a factory is told apart from its siblings;
- the bytes of every ``.py`` file of symderiv itself, symderiv's and SymPy's
  versions, and this cache's format.

Anything the key cannot be sure of (a layer without source, an attribute
of an unknown type) makes the network uncacheable: it is derived as before.

Entries are JSON files (:mod:`.expr_json`, never ``eval``, ``pickle`` or
``sympify``) named by the key, in ``$SYMDERIV_CACHE_DIR``, else
``$XDG_CACHE_HOME/symderiv``, else ``~/.cache/symderiv``; each carries its key
and a SHA-256 of its content, and is written to a temporary file then
renamed into place. A file that is missing, unreadable, corrupted, of another
format or that describes another network is a miss, never a result. Deleting
the folder is always safe. ``SYMDERIV_NO_CACHE=1`` turns both the files and
the in-process memo off.

Only verified derivations are stored: :class:`~.network_derivations.NetworkDerivations`
stores a result after it has been derived (and checked), and loads one before deriving.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

from symderiv.derivation import expr_json
from symderiv.derivation.backprop import Adjoint, Backprop, Contribution
from symderiv.derivation.cache_key import FORMAT, FORMAT_VERSION, Uncacheable, _engine_digest, network_key

__all__ = [
    "FORMAT",
    "Uncacheable",
    "cache_dir",
    "cached_text",
    "clear_memo",
    "enabled",
    "load_backprop",
    "network_key",
    "stats",
    "store_backprop",
]

MAX_FILE_BYTES = 64 * 2 ** 20
MAX_ENTRIES = 200  # the oldest files beyond this many are removed when one is written

_memo: dict[str, tuple] = {}
stats = {"memo": 0, "disk": 0, "miss": 0, "stored": 0, "uncacheable": 0}



def enabled() -> bool:
    """False when ``SYMDERIV_NO_CACHE`` is set to anything but ``""`` or ``"0"``."""
    return os.environ.get("SYMDERIV_NO_CACHE", "") in ("", "0")


def cache_dir() -> Path:
    """Where entries are kept (see the module docstring); the folder may not exist yet."""
    explicit = os.environ.get("SYMDERIV_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "symderiv"


def clear_memo() -> None:
    """Forget the in-process results (the files stay)."""
    _memo.clear()


# ---- results --------------------------------------------------------------------------------
def _restore(built, residuals, gradients) -> Backprop:
    """A :class:`Backprop` with the given tables, as ``Backprop(built)`` would have made it."""
    import sympy as sp
    backprop = Backprop.__new__(Backprop)
    backprop.built = built
    backprop.checked = built.layer.validate()
    backprop.loss_weights = {name: sp.nsimplify(w) for name, w in built.layer.losses}
    backprop.residuals = {a.name: a for a in map(_copy, residuals)}
    backprop.gradients = {a.name: a for a in map(_copy, gradients)}
    return backprop


def _copy(adjoint: Adjoint) -> Adjoint:  # the tables are shared read-only; their records are not
    return dataclasses.replace(adjoint, contributions=[dataclasses.replace(c) for c in adjoint.contributions])


def _fits(built, residuals, gradients) -> bool:
    checked = built.layer.validate()
    return [a.name for a in residuals] == list(reversed(checked.order)) and \
        [a.name for a in gradients] == list(built.layer.params) and \
        all(a.base == built.bases[a.name] for a in gradients)


def _functions(network) -> dict:
    modules = {type(layer).__module__ for layer in network.validate().layers.values()}
    return expr_json.project_functions(modules)


def _encode(key, residuals, gradients, functions) -> str:
    enc = expr_json.Encoder(functions)

    def adjoint(a: Adjoint):
        return [a.name, [enc.encode(i) for i in a.indices], enc.encode(a.expr), enc.encode(a.base),
                [[c.node, c.arg, enc.encode(c.named), enc.encode(c.expr)] for c in a.contributions]]

    data = {"residuals": [adjoint(a) for a in residuals], "gradients": [adjoint(a) for a in gradients]}
    body = {"key": key, "nodes": enc.nodes, "data": data}
    checksum = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, **body, "sha256": checksum},
                      separators=(",", ":"))


def _decode(text: str, key: str, functions) -> tuple[list, list]:
    doc = json.loads(text)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION \
            or doc.get("key") != key or set(doc) != {"format", "format_version", "key", "nodes", "data", "sha256"}:
        raise expr_json.Malformed("not an entry of this format for this key")
    body = {k: doc[k] for k in ("key", "nodes", "data")}
    if hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest() != doc["sha256"]:
        raise expr_json.Malformed("checksum mismatch")
    objects = expr_json.decode(doc["nodes"], functions)
    data = doc["data"]
    if not isinstance(data, dict) or set(data) != {"residuals", "gradients"}:
        raise expr_json.Malformed("no residuals and gradients")

    def obj(ref):
        if type(ref) is not int or not 0 <= ref < len(objects):
            raise expr_json.Malformed(f"bad node reference {ref!r}")
        return objects[ref]

    def name(v):
        if not isinstance(v, str):
            raise expr_json.Malformed(f"bad name {v!r}")
        return v

    def adjoint(row) -> Adjoint:
        if not isinstance(row, list) or len(row) != 5 or not isinstance(row[1], list) or not isinstance(row[4], list):
            raise expr_json.Malformed("bad residual or gradient row")
        contributions = []
        for c in row[4]:
            if not isinstance(c, list) or len(c) != 4:
                raise expr_json.Malformed("bad contribution row")
            contributions.append(Contribution(name(c[0]), name(c[1]), obj(c[2]), obj(c[3])))
        return Adjoint(name(row[0]), tuple(obj(i) for i in row[1]), obj(row[2]), contributions, obj(row[3]))

    return [adjoint(r) for r in data["residuals"]], [adjoint(r) for r in data["gradients"]]


def load_backprop(network, built) -> Backprop | None:
    """The cached backward pass of ``network`` (built as ``built``), or None: derive it then."""
    if not enabled():
        return None
    key = network_key(network)
    if key is None:
        stats["uncacheable"] += 1
        return None
    if key in _memo:
        stats["memo"] += 1
        return _restore(built, *_memo[key])
    path = cache_dir() / "derivations" / f"{key}.json"
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise expr_json.Malformed("too large")
        residuals, gradients = _decode(path.read_text(encoding="utf-8"), key, _functions(network))
        if not _fits(built, residuals, gradients):
            raise expr_json.Malformed("the entry is not about this network")
    except (OSError, UnicodeDecodeError, ValueError, TypeError, RecursionError):  # Malformed is a ValueError
        stats["miss"] += 1
        return None
    stats["disk"] += 1
    _memo[key] = (residuals, gradients)
    return _restore(built, residuals, gradients)


def store_backprop(network, built, backprop: Backprop) -> None:
    """Keep a (verified) backward pass of ``network`` in the memo and, if it can be written, on disk."""
    if not enabled():
        return
    key = network_key(network)
    if key is None:
        return
    residuals, gradients = list(backprop.residuals.values()), list(backprop.gradients.values())
    _memo[key] = (list(map(_copy, residuals)), list(map(_copy, gradients)))
    try:
        text = _encode(key, residuals, gradients, _functions(network))
    except (expr_json.NotSerializable, RecursionError):
        return
    _write(cache_dir() / "derivations" / f"{key}.json", text)


# ---- whole outputs (the kernels module, the answer sheet) ------------------------------------------
@functools.lru_cache(maxsize=1)
def _output_digest() -> str:
    """Every file of the package and its templates, and the version of what renders."""
    import jinja2
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(f"{_engine_digest()}|jinja2 {jinja2.__version__}".encode())
    for folder in (root, root.parent / "templates"):
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(path.relative_to(folder.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _is_shipped_renderer(render) -> bool:
    """Only symderiv's own renderers are cached: a replaced one (a test double, a wrapper) always runs."""
    return getattr(render, "__module__", "").startswith("symderiv.") and \
        "<" not in getattr(render, "__qualname__", "<")


def cached_text(kind: str, network, render) -> str:
    """``render(network)``, kept on disk by the network's key, ``kind`` and the package's files.

    A text is stored only when the network's derivations were verified (they
    are then in the memo); a missing or damaged file is rendered again.
    """
    key = network_key(network, presentation=True) if enabled() and _is_shipped_renderer(render) else None
    if key is None:
        return render(network)
    name = f"{render.__module__}:{render.__qualname__}"
    key = hashlib.sha256(f"{key}|{kind}|{name}|{_output_digest()}".encode()).hexdigest()
    path = cache_dir() / "outputs" / f"{key}.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        text = doc["text"]
        if doc.get("format") == FORMAT and doc.get("key") == key and isinstance(text, str) and \
                hashlib.sha256(text.encode()).hexdigest() == doc.get("sha256"):
            stats["disk"] += 1
            return text
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError):
        pass
    stats["miss"] += 1
    text = render(network)
    if network_key(network) in _memo:
        _write(path, json.dumps({"format": FORMAT, "key": key, "text": text,
                                 "sha256": hashlib.sha256(text.encode()).hexdigest()}))
    return text


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place; never raises OSError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        stats["stored"] += 1
        _prune(path.parent)
    except OSError:
        return  # a read-only or full disk: the result is still right, only not kept


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        try:
            old.unlink()
        except OSError:
            pass
