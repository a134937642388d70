"""``python -m symderiv``: the command line."""
import sys

from symderiv.cli import main

sys.exit(main())
