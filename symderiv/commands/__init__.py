"""The CLI's commands, one module each; each has ``add_parser(subparsers)`` that sets ``run``."""
from symderiv.commands import derive, grad, sheet

COMMANDS = [derive, grad, sheet]
