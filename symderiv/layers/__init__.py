"""The layer table: every layer the library ships, by its ``op`` name.

A layer is declared by its forward formula alone (see :mod:`symderiv.layers.base`);
``register_layer`` adds a user's layer to the table so that network files can use it.
"""
from symderiv.layers.activations import ReLU
from symderiv.layers.base import ArgSpec, BuiltLayer, Definition, Formula, Layer
from symderiv.layers.batchnorm import BatchNorm
from symderiv.layers.concat import Concat
from symderiv.layers.dropout import Dropout
from symderiv.layers.linear import Linear
from symderiv.layers.losses import CrossEntropyLoss, MSELoss
from symderiv.layers.softmax import Softmax

LAYERS: dict[str, type[Layer]] = {}


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Add a layer class to the table (usable as a decorator); its ``op`` must be new."""
    if not (isinstance(cls, type) and issubclass(cls, Layer)) or not cls.op:
        raise TypeError(f"register_layer takes a Layer subclass with an 'op' name, not {cls!r}")
    if LAYERS.get(cls.op, cls) is not cls:
        raise ValueError(f"a layer named {cls.op!r} is already registered ({LAYERS[cls.op].__name__})")
    LAYERS[cls.op] = cls
    return cls


def layer_class(op: str) -> type[Layer]:
    """The layer class registered as ``op``; a clear error for an unknown name."""
    try:
        return LAYERS[op]
    except KeyError:
        raise ValueError(f"unknown layer {op!r}; known layers: {', '.join(sorted(LAYERS))}") from None


for _cls in (Linear, ReLU, Dropout, BatchNorm, Softmax, Concat, MSELoss, CrossEntropyLoss):
    register_layer(_cls)

__all__ = ["LAYERS", "ArgSpec", "BatchNorm", "BuiltLayer", "Concat", "CrossEntropyLoss", "Definition",
           "Dropout", "Formula", "Layer", "Linear", "MSELoss", "ReLU", "Softmax", "layer_class",
           "register_layer"]
