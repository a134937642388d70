"""Reading a network from a human-written TOML file (standard library ``tomllib``).

The format (the default network, ``symderiv/networks/multitask.toml``, is the
complete example)::

    name = "multitask"
    layers = ["my_layers.py"]        # optional: Python modules of Layer subclasses, relative to
                                     # this file (loading them runs their code)
    sizes = ["n_x", "n_1a"]          # size names; the batch size m is implicit. A shape may use
                                     # arithmetic in size names and whole numbers: "2*ph + kh - 1"
    constants = ["p", "eps"]

    [inputs]                         # name = shape, sizes separated by commas
    x = "m, n_x"

    [params]
    theta_1a = "n_1a, n_x"

    [[nodes]]                        # in order; each argument names an input,
    name = "z_1a"                    # a constant, a parameter or an earlier node
    op = "linear"
    args = { x = "x", theta = "theta_1a", b = "b_1a" }

    [[losses]]                       # L = sum of weight * node (a node listed twice counts twice)
    node = "L_a"
    weight = 1                       # an integer or a decimal (1e-3), taken exactly

The target ``y`` of a cross-entropy must be a network input whose rows sum
to one (one-hot or probabilities): the derived gradients rely on it and every
evaluation checks it (``Validated.distributions`` lists these inputs).

Every mistake is a :class:`~symderiv.graph.spec.NetworkError` that names the
file, the entry and the field.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

from symderiv.graph.spec import Network, NetworkError
from symderiv.graph.user_layers import load_layer_module

TOP_LEVEL = {"name": str, "layers": list, "sizes": list, "constants": list, "inputs": dict, "params": dict,
             "nodes": list, "losses": list}


def _expect(value, kind, where):
    if not isinstance(value, kind):
        raise NetworkError(f"{where}: expected {_kind_name(kind)}, got {type(value).__name__} {value!r}")
    return value


def _kind_name(kind) -> str:
    if isinstance(kind, tuple):
        return " or ".join(_kind_name(k) for k in kind)
    return {str: "a string", list: "a list", dict: "a table", int: "a number"}.get(kind, kind.__name__)


def network_from_toml_text(text: str, source: str = "<string>", base_dir=None, load_layers: bool = True) -> Network:
    """Parse a network from TOML text; ``source`` names it in error messages.

    Layer modules listed in ``layers`` are found relative to ``base_dir``
    (default: the current directory) and loaded, unless ``load_layers`` is
    false (then a file that lists any is refused).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NetworkError(f"{source}: not valid TOML: {exc}") from None
    unknown = set(data) - set(TOP_LEVEL)
    if unknown:
        raise NetworkError(f"{source}: unknown top-level field(s) {sorted(unknown)}; "
                           f"accepted: {', '.join(TOP_LEVEL)}")
    for key, kind in TOP_LEVEL.items():
        if key in data:
            _expect(data[key], kind, f"{source}: field {key!r}")
    net = Network(str(data.get("name", Path(source).stem)), source=source)
    modules = [_expect(m, str, f"{source}: layers[{n}]") for n, m in enumerate(data.get("layers", []))]
    if modules and not load_layers:
        raise NetworkError(f"{source}: field 'layers': this network loads Python layer modules "
                           f"({', '.join(modules)}), and loading them runs their code; it is not allowed here")
    for position, module in enumerate(modules):
        try:
            load_layer_module(Path(base_dir or ".") / module, where=f"layers[{position}]")
        except ValueError as exc:
            raise NetworkError(f"{source}: {exc}") from None
    for position, size in enumerate(data.get("sizes", [])):
        net.sizes(_expect(size, str, f"{source}: sizes[{position}]"))
    for position, name in enumerate(data.get("constants", [])):
        net.constant(_expect(name, str, f"{source}: constants[{position}]"))
    for table in ("inputs", "params"):
        for name, shape in data.get(table, {}).items():
            shape = _expect(shape, (str, list), f"{source}: {table}.{name}")
            if isinstance(shape, list):
                shape = [_expect(s, (str, int), f"{source}: {table}.{name}") for s in shape]
            (net.input if table == "inputs" else net.param)(name, shape)
    for position, node in enumerate(data.get("nodes", [])):
        where = f"nodes[{position}]"
        node = _expect(node, dict, f"{source}: {where}")
        extra = set(node) - {"name", "op", "args"}
        if extra:
            raise NetworkError(f"{source}: {where}: unknown field(s) {sorted(extra)}; accepted: name, op, args")
        for key in ("name", "op", "args"):
            if key not in node:
                raise NetworkError(f"{source}: {where}: field {key!r} is missing")
        name = _expect(node["name"], str, f"{source}: {where}, field 'name'")
        op = _expect(node["op"], str, f"{source}: {where} ({name!r}), field 'op'")
        args = _expect(node["args"], dict, f"{source}: {where} ({name!r}), field 'args'")
        for key, ref in args.items():
            _expect(ref, str, f"{source}: {where} ({name!r}), field 'args.{key}'")
        net.node(name, op, where=f"node {name!r} ({where})", **args)
    for position, loss in enumerate(data.get("losses", [])):
        where = f"{source}: losses[{position}]"
        loss = _expect(loss, dict, where)
        extra = set(loss) - {"node", "weight"}
        if extra or "node" not in loss:
            raise NetworkError(f"{where}: a loss has the fields node (required) and weight (default 1)")
        weight = loss.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise NetworkError(f"{where}: weight {weight!r} is not a number")
        net.loss(_expect(loss["node"], str, f"{where}, field 'node'"), weight)
    net.validate()
    return net


def network_from_toml(path, load_layers: bool = True) -> Network:
    """Read and check a network file (its ``layers`` modules are relative to it)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NetworkError(f"{path}: no such file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise NetworkError(f"{path}: cannot be read as a UTF-8 text file ({type(exc).__name__})") from None
    return network_from_toml_text(text, source=str(path), base_dir=path.parent, load_layers=load_layers)
