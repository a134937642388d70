"""Reading a homework submission as students write it: Markdown, ``$$`` blocks, prose, question labels.

:func:`read_submission` finds the display-math blocks (``$$ ... $$``, ``\\[ ... \\]``),
splits each into equations (:mod:`.submission_text`: at the top-level ``\\\\`` and between equations
written side by side, ``A = a, \\qquad B = b``; ``\\tag``, ``&``, ``aligned``
and HTML outside math are dropped), and turns every equation whose left-hand
side is a derivative into an :class:`~.answers.Answer`:

* ``\\frac{\\partial L}{\\partial \\theta_{2b}} = ...`` answers ``dL/dtheta_2b``;
  ``\\frac{\\partial L}{\\partial z_{2b}}``, ``\\delta_{z_{2b}} = ...`` or
  ``\\delta^{(z_{2b})} = ...`` answer the residual ``delta_z_2b`` (names matched against the
  network's parameters and nodes);
* ``\\frac{\\partial y_{i}}{\\partial \\gamma} = ...`` answers a layer's Jacobian, the layer
  taken from the question label above it (``1.1.(i)``: :data:`ASSIGNMENT`, the
  homework's labels) or else from the prose (``batch norm``, ``BN``, ``softmax``, ...);
  the index letters are the student's own.

A chain ``A = B = C`` is graded on its last right-hand side; a line starting with
``=`` continues the previous equation. Equations that are not derivatives (the
forward pass, definitions) are not graded: they teach the reader the student's own
names (:mod:`.student_names`: ``z_{FC_{2b}}`` is then ``z_{2b}``, in a left-hand side
and in formulas). The prose between the blocks (and words that end an equation) names
residuals, renames a layer's output and input, and may declare the column convention
(:mod:`.prose`); the file is read in per-sample columns when it declares them or when
most of its forward equations fit columns only (:class:`_Reader`). A derivative whose
quantity cannot be told is an unreadable answer naming its line. :func:`normalize` rewrites the
notation variants students use into the checker's grammar (``\\hat{x_{i}}``,
``\\Sigma^{m}_{i=1}``, ``\\bigodot``, ``\\delta_{i,j}``, bare ``log``/``sgn``,
``\\sigma_B``, ``||v||^2_2``).

>>> [(a.quantity, a.latex, a.line) for a in read_submission("1.3\\n$$\\\\frac{\\\\partial g_j}{\\\\partial z_i} = "
...                                                        "g_j(\\\\delta_{ij}-g_i) \\\\tag{3}$$\\n")]
[('softmax: dg_j/dz_i', 'g_j(\\\\delta_{ij}-g_i)', 2)]
"""
from __future__ import annotations

import re

from symderiv.checking import latex_parser as lp
from symderiv.checking import prose
from symderiv.checking.answers import Answer
from symderiv.checking.student_names import Names, rename
from symderiv.checking.submission_text import outer_amp, side_by_side, split_prose, strip_environment, top_level_split

# The homework's question labels (its Block One); Block Two's answers name their quantity by themselves.
ASSIGNMENT = {"1.1": "batchnorm", "1.2": "dropout", "1.3": "softmax"}
# ASCII edges: in Chinese prose a layer's name touches the characters around it (对于BN层); a_{BN_{1b}} is not prose
_EDGE, _END = r"(?<![A-Za-z0-9_{\\])", r"(?![A-Za-z0-9_])"
_KEYWORDS = [(re.compile(r"batch[\s-]*norm|" + _EDGE + "BN" + _END + "|批归一化|批标准化|批量归一化", re.IGNORECASE),
              "batchnorm"),
             (re.compile(r"dropout|丢弃", re.IGNORECASE), "dropout"), (re.compile(r"soft-?max", re.IGNORECASE), "softmax"),
             (re.compile(_EDGE + "relu" + _END, re.IGNORECASE), "relu")]
_LABEL = re.compile(r"^\s*(?:#+\s*)?(?:\*\*)?\s*(?:(?:问题|题目|习题|第|Question|Problem|Exercise|Q)\s*)?"  # 问题 1.1
                    r"(\d+(?:\.\d+)+|\d+(?=\.?\s*\(\s*[ivx]+\s*\)))\.?\s*(?:\(\s*([ivx]+)\s*\))?")
_BLOCK = re.compile(r"\$\$(.*?)\$\$|\\\[(.*?)\\\]", re.DOTALL)
_HTML = re.compile(r"</?[A-Za-z][^<>]*>")


_ARRAY_TOKEN = r"(?:\\hat\s*\{\s*\w+\s*\}|\\?[A-Za-z]+)(?:_(?:\{(?:[^{}]|\{[^{}]*\})*\}|\w))?"
_BLOCK_SEP = re.compile(r"\s*(?:\\[;,: ]|\\q?quad\b|,)(?:\s*(?:\\[;,: ]|\\q?quad\b))*\s*")
_BLOCK_ROW = re.compile(r"(?:\\left\s*)?\[\s*(" + _ARRAY_TOKEN + r"(?:" + _BLOCK_SEP.pattern + _ARRAY_TOKEN
                        + r")+)\s*(?:\\right\s*)?\]")


def normalize(latex: str) -> str:
    """The notation variants of real submissions rewritten into the checker's grammar.

    >>> normalize(r"\\Sigma^{m}_{i=1} \\hat{x_{i}} \\bigodot log(z) \\delta_{i,j} sgn(z)")
    '\\\\sum_{i=1}^{m} \\\\hat{x}_{i} \\\\odot \\\\log(z) \\\\delta_{ij} \\\\operatorname{sgn}(z)'
    >>> normalize(r"\\frac{\\partial \\mathcal{L}}{\\partial \\boldsymbol{\\theta}_{1a}} = \\mathbf{x}")
    '\\\\frac{\\\\partial L}{\\\\partial \\\\theta_{1a}} = x'
    """
    text = _HTML.sub(" ", latex)
    text = re.sub(r"\\(?:tag|label)\s*\{[^{}]*\}|\\(?:nonumber|notag)\b", " ", text)
    text = re.sub(r"\\hat\s*\{\s*(\\?[A-Za-z]+)\s*_\s*(\{[^{}]*\}|[A-Za-z0-9])\s*\}", r"\\hat{\1}_\2", text)
    text = re.sub(r"\\Sigma\s*\^\s*(\{[^{}]*\}|\w)\s*_\s*(\{[^{}]*\}|\w)", r"\\sum_\2^\1", text)
    text = re.sub(r"\\Sigma\s*(?=[_^])", r"\\sum", text)
    # [n_{1b} \;\; \hat{y}_a] (a block row of arrays, spaced or comma-separated) is their concatenation
    text = _BLOCK_ROW.sub(lambda m: "(" + r" \oplus ".join(_BLOCK_SEP.split(m.group(1).strip())) + ")", text)
    # '... \in \mathbb{R}^{n \times m}' at the end: the shape said beside the formula, not part of it
    text = re.sub(r"\s*\\in\s*\\mathbb\s*\{\s*R\s*\}\s*(?:\^\s*(?:\{(?:[^{}]|\{[^{}]*\})*\}|\w))?\s*[.,;]?\s*$", "",
                  text)
    # \left\{ \begin{array}{ll} ... \end{array} \right. : cases written as an array
    text = re.sub(r"\\left\s*\\\{\s*\\begin\s*\{array\}\s*\{[lcr|]*\}(.*?)\\end\s*\{array\}\s*\\right\s*\.",
                  r"\\begin{cases}\1\\end{cases}", text, flags=re.DOTALL)
    text = re.sub(r"(?<!\\right)\s*[.,;](?=\s*(?:\\\\|\\end\s*\{|$))", "", text.rstrip())  # a sentence's stop
    text = re.sub(r"\\bigodot\b", r"\\odot", text)
    # \theta_{2b}^{a}: the block of a weight matrix at a concatenation, written after the subscript (no power)
    text = re.sub(r"\\theta\s*_\s*(\{[^{}]*\}|\w)\s*\^\s*\{\s*([a-z])\s*\}", r"\\theta^{\2}_\1", text)
    text = re.sub(r"\\(?:boldsymbol|mathbf|bm|mathcal)\s*\{\s*(\\?[A-Za-z]+)\s*\}", r"\1", text)  # bold θ is θ, 𝓛 is L
    text = re.sub(r"\\delta_\{\s*([a-z])\s*,\s*([a-z])\s*\}", r"\\delta_{\1\2}", text)
    text = re.sub(r"(?<![\\A-Za-z])(log|ln|exp)(?![A-Za-z])", r"\\\1", text)
    text = re.sub(r"(?<![\\A-Za-z{])(sgn|sign)(?![A-Za-z])", r"\\operatorname{sgn}", text)
    text = re.sub(r"\\(mu|sigma)_(?:\{\s*B\s*\}|B)(?![A-Za-z0-9])", r"\\\1", text)  # _B or _{B}, never a brace more
    # ||v||^2_2 / \|v\|_2^2: the squared Euclidean norm of a vector, as a sum over its entries
    text = re.sub(r"(?:\|\||\\\|)\s*([^|]+?)\s*(?:\|\||\\\|)\s*(?:\^\s*\{?2\}?\s*_\s*\{?2\}?|_\s*\{?2\}?\s*\^\s*\{?2\}?)",
                  lambda m: r"\sum_{k} (" + re.sub(r"_\{?([A-Za-z0-9]+)\}?$", r"_{\1,k}", m.group(1)) + ")^2", text)
    return " ".join(text.split())


def _name(node) -> tuple | None:
    """(base, hat, subscript parts) of a symbol in a left-hand side: ``\\theta_{2b}`` -> ('theta', False, ('2b',))."""
    return (node.name, node.hat, tuple(node.sub)) if isinstance(node, lp.Sym) else None


def _letters(name) -> str:
    """The index letters of a left-hand side's symbol (``y_{i}`` -> 'i'), '' when it has none."""
    sub = name[2]
    return sub[-1] if sub and re.fullmatch(r"[a-z]", sub[-1]) else ""


_DERIVATIVES = (re.compile(r"\s*\\[dt]?frac\s*\{\s*\\partial\s*(.+?)\}\s*\{\s*\\partial\s*(.+)\}\s*", re.DOTALL),
                re.compile(r"\s*\\partial\s*(.+?)\s*/\s*\\partial\s*(.+?)\s*", re.DOTALL))
_NABLA = re.compile(r"\s*\\nabla\s*_\s*(\{(?:[^{}]|\{[^{}]*\})*\}|\\?[A-Za-z]+)\s*(.+?)\s*", re.DOTALL)


def _derivative_texts(text: str) -> tuple[str, str] | None:
    """(of, with respect to) as written in ``\\frac{\\partial A}{\\partial B}``, ``\\partial A / \\partial B`` or
    ``\\nabla_{B} A``; None for anything else.

    >>> _derivative_texts(r"\\nabla_{\\theta_{2b}} L"), _derivative_texts(r"\\partial L/\\partial z_{2b}")
    (('L', '\\\\theta_{2b}'), ('L', 'z_{2b}'))
    """
    for pattern in _DERIVATIVES:
        match = pattern.fullmatch(text)
        if match:
            return match.group(1), match.group(2)
    match = _NABLA.fullmatch(text)
    if match:
        wrt = match.group(1)
        return match.group(2), wrt[1:-1] if wrt.startswith("{") else wrt
    return None


def _partial(text: str):
    """The (numerator, denominator) symbols of a derivative (:func:`_derivative_texts`), or None."""
    texts = _derivative_texts(text)
    if texts is None:
        return None
    num = re.sub(r"\(\s*[A-Za-z]\s*\)", "", texts[0])  # g(z)_j: the function's argument
    try:
        return lp.parse(num.strip()), lp.parse(texts[1].strip())
    except (lp.ParseError, RecursionError):
        return None


def _engine_names(network):
    """LaTeX keys -> the network's parameter and node names ('theta', False, '2b') -> 'theta_2b'."""
    from symderiv.checking.quantities import _key
    derivations = network.derivations()
    params = {_key(p)[:3]: p for p in derivations.backprop.gradients}
    nodes = {_key(n)[:3]: n for n in derivations.backprop.residuals}
    return params, nodes


def _quantity(lhs: str, layer: str | None, names, letters: dict) -> str | None:
    """The heading of the quantity a left-hand side names, None if it is not a derivative, '' if unknown
    (``names``: the student's names so far; ``letters``: a local renaming, letter -> the layer's name)."""
    lhs = lhs.strip()
    residual = re.fullmatch(r"\\delta\s*(?:\^\s*\{\s*\(?\s*(.+?)\s*\)?\s*\}|_\s*\{\s*(.+)\s*\})", lhs)
    if residual:
        return _residual_quantity(lhs, residual.group(1) or residual.group(2), names)
    parts = _partial(lhs)
    if parts is None:
        return "" if "\\partial" in lhs or "\\nabla" in lhs else None
    num, den = (_name(p) for p in parts)
    if num is None or den is None:
        return ""
    if num[0] == "L" and not num[1]:  # the student's names first: they may give a grader's name another node
        node = names.node_quantity(parts[1])
        return f"delta_{node}" if node else _network_quantity(den, names.network)
    if layer is None:
        return ""
    o, w = (f"_{_letters(n)}" if _letters(n) else "" for n in (num, den))
    from symderiv.checking.quantities import _built
    from symderiv.layers import LAYERS
    out = _built(LAYERS[layer]).output.name
    wrt = letters.get(den[0], den[0]) + ("hat" if den[1] else "")
    return f"{layer}: d{out}{o}/d{wrt}{w}"


def _lhs_letters(lhs: str, heading: str, names) -> str:
    """The index letters a network answer's left-hand side gives its element, '' if none: ``b_{2b,u}`` -> 'u',
    ``\\theta_{2b,uv}`` -> 'uv', ``\\gamma_u`` -> 'u' (``\\gamma`` alone names the same parameter),
    ``\\hat{y}_a`` -> '' (a is the node's tag)."""
    parts = _partial(lhs)
    if parts is None:
        residual = re.fullmatch(r"\\delta\s*_\s*\{(.+)\}", lhs.strip())
        try:
            element = lp.parse(lhs.strip()) if residual else None
        except (lp.ParseError, RecursionError):
            return ""
        sub = element.sub[1:] if isinstance(element, lp.Sym) and len(element.sub) >= 2 else ()
        return "".join(sub) if sub and all(re.fullmatch(r"[a-z]+", p) for p in sub) else ""
    den = parts[1]
    if not isinstance(den, lp.Sym) or not den.sub or not all(re.fullmatch(r"[a-z]+", p) for p in den.sub[1:]):
        return ""
    if len(den.sub) >= 2:
        return "".join(den.sub[1:])
    same = _network_quantity((den.name, den.hat, ()), names.network) == heading
    return den.sub[0] if same else ""  # one part: letters only if the name without it is the same quantity


def _residual_quantity(lhs: str, inner: str, names) -> str:
    """``delta_NODE`` for ``\\delta_{z_{2b}}``, ``\\delta^{(z_{2b})}`` or a residual's name the student gave."""
    try:
        node = rename(lp.parse(lhs), names.map)
    except (lp.ParseError, RecursionError):
        node = None
    if isinstance(node, lp.Sym) and node.name == "delta" and node.sub and node.sub[0] in names.nodes():
        return f"delta_{node.sub[0]}"
    try:
        name = _name(lp.parse(inner))
    except (lp.ParseError, RecursionError):
        return ""
    return _network_quantity(name, names.network, residual=True)


def _network_quantity(name, network, residual: bool = False) -> str:
    if name is None:
        return ""
    params, nodes = _engine_names(network)
    base, hat, sub = name
    for tag in (",".join(sub) or None, ",".join(sub[:-1]) or None):  # with or without index letters
        key = (base, hat, tag)
        if not residual and key in params:
            return f"dL/d{params[key]}"
        if key in nodes:
            return f"delta_{nodes[key]}"
    return ""


def read_assignment(path) -> dict:
    """Question labels -> layer ops from a TOML file: ``[questions]`` then ``"1.1" = "batchnorm"`` lines.

    ValueError naming the file and the entry for anything else (unknown layer, a label that is not
    dotted numbers)."""
    import tomllib
    from pathlib import Path

    from symderiv.layers import LAYERS
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the assignment: {exc}") from None
    questions = data.get("questions")
    if not isinstance(questions, dict) or set(data) != {"questions"}:
        raise ValueError(f"{path}: an assignment has one table [questions] of lines \"1.1\" = \"batchnorm\"")
    for label, op in questions.items():
        if not re.fullmatch(r"\d+(?:\.\d+)*", label) or not isinstance(op, str) or op not in LAYERS:
            raise ValueError(f"{path}: [questions] {label!r} = {op!r}: a label is dotted numbers (\"1.2\") and a "
                             f"layer one of {', '.join(sorted(LAYERS))}")
    return dict(questions)


def read_submission(text: str, file: str = "", network=None, assignment: dict | None = None) -> list[Answer]:
    """The answers of a submission's text (see the module docstring); ``assignment`` maps question labels to
    layer ops (default: :data:`ASSIGNMENT`, the homework's)."""
    from symderiv.checking.quantities import _default_network
    reader = _Reader(ASSIGNMENT if assignment is None else assignment, Names(network or _default_network()), file)
    text = text.removeprefix("\ufeff")
    position = 0
    for block in [*_BLOCK.finditer(text), None]:
        end = block.start() if block is not None else len(text)
        for match in re.finditer(r"[^\n]*", text[position:end]):
            if match.group():
                at_start = position + match.start() == 0 or text[position + match.start() - 1] == "\n"
                reader.prose(match.group(), at_start)
        if block is None:
            break
        position = block.end()
        body = block.group(1) if block.group(1) is not None else block.group(2)
        body_start = block.start(1) if block.group(1) is not None else block.start(2)
        reader.block(text, body, body_start)
    return reader.finish()


class _Reader:
    """The state of reading one submission: the layer in scope, a local renaming, the names, the answers."""

    def __init__(self, assignment: dict, names: Names, file: str):
        self.assignment, self.names, self.file = assignment, names, file
        self.layer, self.letters, self.declared = None, {}, None
        self.answers: list[Answer] = []

    def prose(self, line: str, at_start: bool) -> None:
        label = _LABEL.match(" ".join(line[:200].split())) if at_start else None  # a label opens its line
        layer = None
        if label:
            number = label.group(1)
            layer = next((op for prefix, op in sorted(self.assignment.items(), key=lambda item: -len(item[0]))
                          if number == prefix or number.startswith(prefix + ".")), "")
        if layer is None or layer == "":
            layer = next((op for pattern, op in _KEYWORDS if pattern.search(line)), layer)
        if layer is not None:
            self.layer, self.letters = layer or None, {}
        if self.declared is None:
            self.declared = prose.declared_convention(line)
        residual = next((a for a in reversed(self.answers) if a.quantity.startswith("delta_")), None)
        for sym, written in prose.residual_names(line) if residual is not None else ():
            self.names.alias(sym, residual.quantity.removeprefix("delta_"), written)
        items = prose.renamings(line)
        if items:
            op, letters = self.names.renaming(items, self.layer)
            self.layer, self.letters = op, letters

    def block(self, text: str, body: str, body_start: int) -> None:
        previous = None
        rows = top_level_split(strip_environment(body), "\\\\")
        for piece, offset in [(p, o + at) for row, o in rows for p, at in side_by_side(row)]:
            piece, words = split_prose(piece)
            equation = normalize(piece.replace("&", " ") if "\\begin" not in piece else outer_amp(piece))
            line = text.count("\n", 0, body_start + offset + len(piece) - len(piece.lstrip())) + 1
            chain = [p.strip() for p, _ in top_level_split(equation, "=")] if equation else []
            if len(chain) >= 2 and not chain[0] and previous is not None:  # '&= ...' continues the equation above
                previous.latex = chain[-1]
            elif len(chain) >= 2:
                previous = self.equation(chain, line)
            if words:
                self.prose(words, False)

    def equation(self, chain: list[str], line: int) -> Answer | None:
        heading = _quantity(chain[0], self.layer, self.names, self.letters)
        if heading == "" and len(chain) > 2:  # \delta^{(FC_{2b})} = \frac{\partial L}{\partial z_{FC_{2b}}} = ...
            heading = next((h for h in (_quantity(m, self.layer, self.names, self.letters) for m in chain[1:-1])
                            if h), "")
        if heading is None:
            try:
                self.names.forward(chain[:-1], chain[-1])
            except Exception:  # noqa: BLE001 - a forward equation is not graded: the network failing here aborts nothing
                pass
            return None
        answer = Answer(heading, chain[-1], line, self.file)
        if heading.startswith(("delta_", "dL/d")):
            answer.letters = _lhs_letters(chain[0], heading, self.names)
        if not heading:
            answer.problem = (f"cannot tell which quantity '{chain[0][:80]}' is: write "
                              f"\\frac{{\\partial L}}{{\\partial \\theta_{{2b}}}}, \\delta_{{z_{{2b}}}}, or a layer's "
                              f"\\frac{{\\partial y_i}}{{\\partial x_j}} under its question label")
        elif heading.startswith(("delta_", "dL/d")):
            answer.names, answer.shown = self.names.map, self.names.shown  # shared: names learned later hold too
            for member in chain[:-1] if heading.startswith("delta_") else ():  # A = \delta^{(FC_{2b})} = ...
                try:
                    sym = lp.parse(member)
                except (lp.ParseError, RecursionError):
                    continue
                if isinstance(sym, lp.Sym):
                    self.names.alias(sym, heading.removeprefix("delta_"), member)
        else:
            answer.names = {(letter, False, ()): (name, False, ()) for letter, name in self.letters.items()
                            if letter != name}
        self.answers.append(answer)
        return answer

    def finish(self) -> list[Answer]:
        votes = self.names.votes
        columns = self.declared if self.declared is not None else bool(votes) and sum(votes) * 2 > len(votes)
        for answer in self.answers:
            answer.columns = columns and answer.quantity.startswith(("delta_", "dL/d"))
        return self.answers


def looks_like_submission(text: str) -> bool:
    """True when the text has display math and no ``# quantity`` heading of the answer-file format."""
    heading = re.compile(r"^\s*#\s*(?:[A-Za-z_]\w*\s*:\s*\\?d|delta_|dL/d)", re.MULTILINE)
    return bool(_BLOCK.search(text)) and not heading.search(text)


def read_file(path, network=None, assignment: dict | None = None) -> list[Answer]:
    """The answers of a file: a submission (display math, no ``# quantity`` headings) or an answer file;
    :class:`~.answers.AnswerFileError` naming the file if it cannot be read or has no answers."""
    from symderiv.checking.answers import AnswerFileError, parse_answers, read_text
    text = read_text(path)
    if looks_like_submission(text):
        answers = read_submission(text, str(path), network, assignment)
        if not answers:
            raise AnswerFileError(f"{path}: no derivative found in its math blocks: each answer is an equation "
                                  f"such as \\frac{{\\partial L}}{{\\partial \\theta_{{2b}}}} = ...")
        return answers
    answers = parse_answers(text, str(path))
    if not answers:
        raise AnswerFileError(f"{path}: no answers found: start each one with a heading like '# relu: da/dz', "
                              f"or write a submission with $$ ... $$ equations")
    return answers
