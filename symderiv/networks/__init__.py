"""Networks that ship with symderiv, as TOML files beside this module.

>>> net = multitask()
>>> net.name, len(net.nodes), sorted(net.params)[:3]
('multitask', 12, ['b_1a', 'b_1b', 'b_2a'])
"""
from pathlib import Path

from symderiv.graph.spec import Network
from symderiv.graph.toml_loader import network_from_toml

HERE = Path(__file__).parent
DEFAULT_NETWORK_FILE = HERE / "multitask.toml"


def multitask() -> Network:
    """The homework's multi-task network (``multitask.toml``)."""
    return network_from_toml(DEFAULT_NETWORK_FILE)


def load(spec=None) -> Network:
    """The network in the TOML file ``spec``, or the default one (what the commands take)."""
    return network_from_toml(spec) if spec else multitask()
