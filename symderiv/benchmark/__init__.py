"""Benchmarks: derivation cost (``symderiv timing``) and kernel speed (``symderiv bench``)."""
