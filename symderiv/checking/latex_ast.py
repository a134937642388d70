"""The AST of the checker's LaTeX reader (:mod:`.latex_parser`), walking it, and writing a symbol back as LaTeX."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Node:
    pos: int = field(default=0, kw_only=True)


@dataclass
class Num(Node):
    value: float


@dataclass
class Sym(Node):
    name: str            # 'x', 'mu', 'sigma', 'gamma', 'delta', ...
    hat: bool = False
    sub: tuple = ()      # subscript parts (strings): '2b', 'ij', 'z_2b'
    sup: str | None = None  # a block tag written as a superscript (theta^{n}_{2b})
    sample: str | None = None  # a sample superscript's letter (y^{(i)}: the i-th sample)


@dataclass
class Neg(Node):
    arg: Node


@dataclass
class Add(Node):
    terms: list


@dataclass
class Mul(Node):
    factors: list
    ops: list = field(default_factory=list)  # between factors: '' (juxtaposition), 'cdot', 'times', 'odot', '*'


@dataclass
class Div(Node):
    num: Node
    den: Node


@dataclass
class Pow(Node):
    base: Node
    exp: Node


@dataclass
class Transpose(Node):
    arg: Node


@dataclass
class Concat(Node):
    parts: list  # a \oplus b \oplus ...: side by side along the feature axis


@dataclass
class Func(Node):
    name: str  # exp, log, sqrt, sgn
    arg: Node


@dataclass
class SumNode(Node):
    var: str
    lo: Node | None
    hi: Node | None
    body: Node


@dataclass
class Cond(Node):
    op: str  # '=', '!=', '<', '>', '<=', '>='
    lhs: Node
    rhs: Node


@dataclass
class Logic(Node):
    op: str  # 'or', 'and'
    parts: list  # Cond or Logic


@dataclass
class Iverson(Node):
    cond: Cond


@dataclass
class Cases(Node):
    branches: list  # [(expr, Cond | None)]  None: otherwise


def walk(node):
    """Every node of the formula, depth first (the same order each time)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Node):
            yield item
            stack.extend(v for v in vars(item).values() if isinstance(v, (Node, list, tuple)))
        elif isinstance(item, (list, tuple)):
            stack.extend(v for v in item if isinstance(v, (Node, list, tuple)))


def sum_variables(node) -> set[str]:
    """Every summation index letter used in the formula."""
    return {item.var for item in walk(node) if isinstance(item, SumNode)}


GREEK_NAMES = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "mu", "sigma", "theta", "eta", "lambda",
               "nu", "rho", "tau", "phi", "psi", "omega", "xi", "zeta", "kappa", "pi"}


def describe(sym: Sym) -> str:
    """A symbol written back as LaTeX: ``\\delta_{FC_{1b}}``, ``\\hat{y}_{b}^{(i)}``, ``\\theta^{a}_{2b}``."""
    name = ("\\" + sym.name) if sym.name in GREEK_NAMES else sym.name
    name = ("\\hat{" + name + "}") if sym.hat else name
    parts = [_part_latex(p) for p in sym.sub]
    return (name + (f"^{{{sym.sup}}}" if sym.sup else "") + (f"_{{{','.join(parts)}}}" if parts else "")
            + (f"^{{({sym.sample})}}" if sym.sample else ""))


def _part_latex(part: str) -> str:
    """'z_2b' -> 'z_{2b}', 'z_FC_2b' -> 'z_{FC_{2b}}', 'yhat_a' -> '\\hat{y}_{a}', 'ij' -> 'ij'."""
    head, sep, tail = part.partition("_")
    if not sep:
        return part
    head = "\\hat{" + head[:-3] + "}" if head.endswith("hat") and head != "hat" else head
    return f"{head}_{{{_part_latex(tail)}}}"
