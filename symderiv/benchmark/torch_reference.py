"""Each shipped op's forward definition in PyTorch, by its argument names: the reference of ``symderiv bench
--network`` and the tests' oracle (autograd differentiates it; nothing here is a derivative).

Importing this module imports PyTorch, which symderiv itself never needs; a new shipped op gets its entry here
(a test makes that compulsory).
"""
from __future__ import annotations

import torch


def _batchnorm(x, gamma, beta, eps):
    mu = x.mean(0)
    return gamma * (x - mu) / torch.sqrt(((x - mu) ** 2).mean(0) + eps) + beta


def _layernorm(x, gamma, beta, eps):
    mu = x.mean(-1, keepdim=True)
    return gamma * (x - mu) / torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + eps) + beta


# Each op's forward definition in PyTorch, by its argument names (autograd differentiates it).
TORCH = {
    "linear": lambda x, theta, b: x @ theta.T + b,
    "relu": lambda z: torch.relu(z),
    "dropout": lambda x, M, p: M * x / (1 - p),
    "batchnorm": _batchnorm,
    "softmax": lambda z: torch.softmax(z, -1),
    "concat": lambda x1, x2: torch.cat([x1, x2], -1),
    "mse": lambda yhat, y: 0.5 * ((yhat - y) ** 2).sum() / yhat.shape[0],
    "cross_entropy": lambda yhat, y: -(y * torch.log(yhat)).sum() / yhat.shape[0],
    "tanh": lambda x: torch.tanh(x),
    "sigmoid": lambda x: torch.sigmoid(x),
    "gelu": lambda x: torch.nn.functional.gelu(x),
    "silu": lambda x: torch.nn.functional.silu(x),
    "softplus": lambda x: torch.nn.functional.softplus(x),
    "leaky_relu": lambda x, alpha: torch.where(x > 0, x, alpha * x),
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "matmul": lambda x, theta: x @ theta.T,
    "layernorm": _layernorm,
    "rmsnorm": lambda x, gamma, eps: x / torch.sqrt((x ** 2).mean(-1, keepdim=True) + eps) * gamma,
    "log_softmax": lambda z: torch.log_softmax(z, -1),
    "nll": lambda logp, y: -(y * logp).sum() / logp.shape[0],
    "bce_with_logits": lambda z, y: (torch.nn.functional.softplus(z) - y * z).sum() / z.shape[0],
    "l2_penalty": lambda theta: 0.5 * (theta ** 2).sum(),
    "attention": lambda x, wq, wk, wv: torch.softmax(
        (x @ wq.T) @ (x @ wk.T).transpose(-1, -2) / wk.shape[0] ** 0.5, -1) @ (x @ wv.T),
    "mean_pool": lambda x: x.mean(1),
    "conv2d": lambda x, w, b: torch.nn.functional.conv2d(x, w, b),
    "maxpool2d": lambda x: torch.nn.functional.max_pool2d(x, 2),
    "flatten": lambda x: torch.flatten(x, 1),
}
