"""The CLI's commands, one module each; each has ``add_parser(subparsers)`` that sets ``run``."""
from symderiv.commands import bench, check, codegen, derive, grad, sheet, timing

COMMANDS = [derive, grad, sheet, codegen, bench, timing, check]
