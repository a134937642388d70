"""symderiv: neural-network gradients derived symbolically, simplified, typeset and compiled to NumPy.

>>> import symderiv as sd
>>> print(sd.ReLU().jacobian("z").expr)
Heaviside(z[i, u], 0)*KroneckerDelta(i, j)*KroneckerDelta(u, v)

Importing the package is cheap: SymPy and NumPy are imported with the first
name used from it (``sd.Network``, ``sd.ReLU``, ...), so ``symderiv --help``
starts at once.
"""
import importlib

_LAZY = {"networks": "symderiv.networks", "Derivation": "symderiv.derivation.derivation",
         "Network": "symderiv.graph.spec", "NetworkError": "symderiv.graph.spec",
         **{name: "symderiv.layers" for name in ("LAYERS", "BatchNorm", "Concat", "CrossEntropyLoss", "Dropout",
                                                 "Formula", "Layer", "Linear", "MSELoss", "ReLU", "Softmax",
                                                 "layer_class", "register_layer",
                                                 *('Add', 'Attention', 'BCEWithLogitsLoss', 'GELU', 'L2Penalty', 'LayerNorm', 'LeakyReLU', 'LogSoftmax', 'MatMul', 'MeanPool', 'Mul', 'NLLLoss', 'RMSNorm', 'SiLU', 'Sigmoid', 'Softplus', 'Tanh'))}}

__version__ = "0.1.0"

__all__ = ["Network", "NetworkError", "networks", "LAYERS", "BatchNorm", "Concat", "CrossEntropyLoss", "Derivation", "Dropout", "Formula", "Layer",
           "Linear", "MSELoss", "ReLU", "Softmax", "layer_class", "register_layer",
           "Add", "Attention", "BCEWithLogitsLoss", "GELU", "L2Penalty", "LayerNorm", "LeakyReLU", "LogSoftmax", "MatMul", "MeanPool", "Mul", "NLLLoss", "RMSNorm", "SiLU", "Sigmoid", "Softplus", "Tanh"]


def __getattr__(name: str):
    """Import the module that defines ``name`` on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'symderiv' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if module.endswith("." + name) else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})
