"""Sequences: arrays ``x[m, n_t, d]`` of ``n_t`` tokens per sample; single-head attention and mean pooling."""
import sympy as sp

from symderiv.layers.base import Layer


class Attention(Layer):
    """``y = softmax(Q Kᵀ / √d_k) V`` per sample, over its ``n_t`` tokens (one head, no mask, no output projection).

    ``Q = x w_qᵀ``, ``K = x w_kᵀ``, ``V = x w_vᵀ``; the weights laid out (out, in) like ``torch.nn.Linear``.
    """

    op = "attention"
    title = "Single-head self-attention"
    signature = "x[m, n_t, d], wq[d_k, d], wk[d_k, d], wv[d_v, d] -> y[m, n_t, d_v]"
    params = ("wq", "wk", "wv")
    latex_names = {"wq": r"W_{q}", "wk": r"W_{k}", "wv": r"W_{v}"}

    def forward(self, f, x, wq, wk, wv):
        def project(name, w, size):
            return f.let(name, ("m", "n_t", size), lambda i, s, a: f.sum(f.d, lambda k: w[a, k] * x[i, s, k]))

        q, k_, v = project("Q", wq, "d_k"), project("K", wk, "d_k"), project("V", wv, "d_v")
        scores = f.let("S", ("m", "n_t", "n_t"),
                       lambda i, s, r: f.sum(f.d_k, lambda a: q[i, s, a] * k_[i, r, a]) / sp.sqrt(f.d_k))
        # the softmax's normalizer is named, and the weights exp(S)/Z written inline: naming the weights
        # (A = exp(S)/Σ exp(S)) lets the derivation capture an index today (a wrong VJP for x, caught by verify)
        z = f.let("Z", ("m", "n_t"), lambda i, s: f.sum(f.n_t, lambda w: sp.exp(scores[i, s, w])))
        return lambda i, s, c: f.sum(f.n_t, lambda r: sp.exp(scores[i, s, r]) * v[i, r, c]) / z[i, s]


class MeanPool(Layer):
    """``y[i, u] = (1/n_t) Σ_s x[i, s, u]``: the mean over the tokens of each sample."""

    op = "mean_pool"
    title = "Mean pooling over the tokens"
    signature = "x[m, n_t, d] -> y[m, d]"

    def forward(self, f, x):
        return lambda i, u: f.sum(f.n_t, lambda s: x[i, s, u]) / f.n_t
