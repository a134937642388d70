"""User layers: Python modules of ``sd.Layer`` subclasses, loaded only on the user's explicit choice.

Loading a module runs its code, so it happens only when the user names it:
in a network file (``layers = ["my_layers.py"]``, relative to that file) or
with ``--layers FILE`` on the command line. Installed packages can register
layers through the entry-point group ``symderiv.layers`` (entry-point name =
the layer's ``op``, value = the ``Layer`` subclass); such an entry point is
loaded only when a network uses an op that no loaded layer has.

Every ``Layer`` subclass with an ``op`` defined in a loaded module is added
to the layer table; a module is executed at most once per process.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from importlib import metadata
from pathlib import Path

from symderiv.layers import LAYERS, Layer, register_layer

ENTRY_POINT_GROUP = "symderiv.layers"
_LOADED: dict[Path, list[type[Layer]]] = {}


def load_layer_module(path, where: str = "") -> list[type[Layer]]:
    """Run the Python file ``path`` and register its layers; returns them (in definition order).

    Raises ``ValueError`` naming ``where`` (the network file or ``--layers``)
    and the file for a missing file, a module that fails, or an ``op`` that
    another layer already has.
    """
    prefix = f"{where}: " if where else ""
    path = Path(path)
    if path.suffix != ".py":
        raise ValueError(f"{prefix}layer module {str(path)!r} is not a .py file")
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise ValueError(f"{prefix}layer module {str(path)!r}: no such file") from None
    if not resolved.is_file():
        raise ValueError(f"{prefix}layer module {str(path)!r} is not a file")
    if resolved in _LOADED:
        return _LOADED[resolved]
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    name = f"symderiv_user_layers_{digest}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ValueError(f"{prefix}layer module {str(path)!r} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: any failure becomes an error naming the file
        sys.modules.pop(name, None)
        raise ValueError(f"{prefix}layer module {str(path)!r} failed to load: "
                         f"{type(exc).__name__}: {exc}") from exc
    found = [value for value in vars(module).values()
             if isinstance(value, type) and issubclass(value, Layer) and value.__module__ == name and value.op]
    for cls in found:
        try:
            register_layer(cls)
        except ValueError as exc:
            raise ValueError(f"{prefix}layer module {str(path)!r}: {exc}") from None
    if not found:
        raise ValueError(f"{prefix}layer module {str(path)!r} defines no Layer subclass with an 'op' name")
    _LOADED[resolved] = found
    return found


def layer_by_name(op: str) -> type[Layer]:
    """The layer ``op`` from the table, else from an installed package's entry point; a clear error if neither."""
    from symderiv.layers import layer_class
    try:
        return layer_class(op)
    except ValueError:
        found = layer_from_entry_point(op)
        if found is None:
            raise
        return found


def layer_from_entry_point(op: str) -> type[Layer] | None:
    """The layer an installed package registers as ``op`` (entry-point group ``symderiv.layers``), or None."""
    if op in LAYERS:
        return LAYERS[op]
    found = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP, name=op), key=lambda e: e.value)
    if not found:
        return None
    if len(found) > 1:
        raise ValueError(f"layer {op!r} is registered by several installed packages: "
                         f"{', '.join(e.value for e in found)}")
    entry = found[0]
    try:
        cls = entry.load()
    except Exception as exc:  # an installed package's code
        raise ValueError(f"layer {op!r}: loading entry point {entry.value!r} failed: "
                         f"{type(exc).__name__}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Layer)) or cls.op != op:
        raise ValueError(f"layer {op!r}: entry point {entry.value!r} is not a Layer subclass with op {op!r}")
    return register_layer(cls)
