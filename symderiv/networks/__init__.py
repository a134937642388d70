"""Networks that ship with symderiv, as TOML files beside this module (``--network NAME``).

>>> net = multitask()
>>> net.name, len(net.nodes), sorted(net.params)[:3]
('multitask', 12, ['b_1a', 'b_1b', 'b_2a'])
>>> "multitask" in shipped()
True
"""
from pathlib import Path

from symderiv.graph.spec import Network, NetworkError
from symderiv.graph.toml_loader import network_from_toml
from symderiv.layers.sizes import is_size_name

HERE = Path(__file__).parent
DEFAULT_NETWORK_FILE = HERE / "multitask.toml"


def multitask() -> Network:
    """The homework's multi-task network (``multitask.toml``)."""
    return network_from_toml(DEFAULT_NETWORK_FILE)


def shipped() -> list[str]:
    """The names of the shipped networks (``symderiv/networks/NAME.toml``), sorted."""
    return sorted(p.stem for p in HERE.glob("*.toml") if is_size_name(p.stem))


def shipped_file(name: str) -> Path:
    """The file of the shipped network ``name``; a clear error for any other name (never a path)."""
    names = shipped()
    if name not in names:
        raise NetworkError(f"--network: no shipped network {name!r}; shipped networks: {', '.join(names)}")
    return HERE / f"{name}.toml"


def load(spec=None, network: str | None = None) -> Network:
    """The network in the TOML file ``spec``, the shipped network ``network``, or the default one."""
    if spec and network:
        raise NetworkError(f"give a network file ({spec}) or --network {network}, not both")
    if network:
        return network_from_toml(shipped_file(network))
    return network_from_toml(spec) if spec else multitask()
