"""The array program: derived definitions lowered to typed array operations, then planned.

Between the derivation (index-form SymPy definitions) and the printers sits a
small program of array operations (:mod:`.nodes`): contractions, elementwise
trees, reductions over axes, views for index arithmetic, concatenations.
:mod:`.lower` lowers one definition to it; :mod:`.plan` orders a kernel's
definitions into statements and plans memory on them (in place, frees), in a
NumPy form or a functional one. The printers in :mod:`symderiv.printing` only
print it, for NumPy or for the Python array API.
"""
