"""symderiv: neural-network gradients derived symbolically, simplified, typeset and compiled to NumPy.

>>> import symderiv as sd
>>> print(sd.ReLU().jacobian("z").expr)
Heaviside(z[i, u], 0)*KroneckerDelta(i, j)*KroneckerDelta(u, v)
"""
from symderiv import networks
from symderiv.derivation.derivation import Derivation
from symderiv.graph.spec import Network, NetworkError
from symderiv.layers import (GELU, LAYERS, Add, Attention, BatchNorm, BCEWithLogitsLoss, Concat, CrossEntropyLoss, Dropout,
                             Formula, L2Penalty, Layer, LayerNorm, LeakyReLU, Linear, LogSoftmax, MatMul, MeanPool,
                             MSELoss, Mul, NLLLoss, ReLU, RMSNorm, Sigmoid, SiLU, Softmax, Softplus, Tanh, layer_class,
                             register_layer)

__version__ = "0.1.0"

__all__ = ["Network", "NetworkError", "networks", "LAYERS", "BatchNorm", "Concat", "CrossEntropyLoss", "Derivation", "Dropout", "Formula", "Layer",
           "Linear", "MSELoss", "ReLU", "Softmax", "layer_class", "register_layer",
           "Add", "Attention", "BCEWithLogitsLoss", "GELU", "L2Penalty", "LayerNorm", "LeakyReLU", "LogSoftmax", "MatMul", "MeanPool", "Mul",
           "NLLLoss", "RMSNorm", "SiLU", "Sigmoid", "Softplus", "Tanh"]
