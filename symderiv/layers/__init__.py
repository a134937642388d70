"""The layer table: every layer the library ships, by its ``op`` name.

A layer is declared by its forward formula alone (see :mod:`symderiv.layers.base`);
``register_layer`` adds a user's layer to the table so that network files can use it.
"""
from symderiv.layers.activations import GELU, LeakyReLU, ReLU, Sigmoid, SiLU, Softplus, Tanh
from symderiv.layers.base import ArgSpec, BuiltLayer, Definition, Formula, Layer
from symderiv.layers.batchnorm import BatchNorm
from symderiv.layers.concat import Concat
from symderiv.layers.dropout import Dropout
from symderiv.layers.linear import Linear
from symderiv.layers.losses import BCEWithLogitsLoss, CrossEntropyLoss, L2Penalty, LogSoftmax, MSELoss, NLLLoss
from symderiv.layers.normalization import LayerNorm, RMSNorm
from symderiv.layers.sequences import Attention, MeanPool
from symderiv.layers.softmax import Softmax
from symderiv.layers.structure import Add, MatMul, Mul
from symderiv.layers.vision import Conv2d, Flatten, MaxPool2d

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


SHIPPED = (
    Linear, ReLU, Dropout, BatchNorm, Softmax, Concat, MSELoss, CrossEntropyLoss,  # the homework's
    Tanh, Sigmoid, SiLU, Softplus, LeakyReLU, GELU,  # activations
    Add, Mul, MatMul,  # structure
    LayerNorm, RMSNorm,  # normalization
    LogSoftmax, NLLLoss, BCEWithLogitsLoss, L2Penalty,  # losses
    Attention, MeanPool,  # sequences
    Conv2d, MaxPool2d, Flatten,  # vision
)
for _cls in SHIPPED:
    register_layer(_cls)
# GELU's erf has no NumPy ufunc: kernels and evaluate() that use it import scipy.special (extra `special`).

__all__ = [
    "GELU",
    "LAYERS",
    "SHIPPED",
    "Add",
    "ArgSpec",
    "BCEWithLogitsLoss",
    "BatchNorm",
    "BuiltLayer",
    "Concat",
    "Conv2d",
    "CrossEntropyLoss",
    "Definition",
    "Dropout",
    "Flatten",
    "Formula",
    "L2Penalty",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MatMul",
    "MaxPool2d",
    "Mul",
    "NLLLoss",
    "RMSNorm",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "layer_class",
    "register_layer",
]
