"""Reports of a grading run: one terminal line per answer plus details, Markdown, LaTeX and CSV."""
from __future__ import annotations

import re

import numpy as np

from symderiv.checking.answers import clip, window
from symderiv.checking.latex_parser import GREEK as _GREEK
from symderiv.emitting.files import GENERATED_MARK
from symderiv.emitting.latex_env import escape_latex

MARK = {"correct": "correct", "wrong": "WRONG", "unreadable": "UNREADABLE"}


def _fmt(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_fmt(v)}" for k, v in value.items())
    if isinstance(value, (np.ndarray, list, tuple)):
        text = np.array2string(np.asarray(value, dtype=float), precision=4, separator=", ", max_line_width=10_000)
        return text.replace("\n", "")  # one line per array, so that the report's lines stay aligned
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)


def details(result) -> list[str]:
    """Lines explaining a result that is not correct."""
    if result.status == "correct":
        return []
    lines = [f"    {clip(result.message, 400)}"]
    if result.status == "unreadable" and result.answer.latex:
        match = re.match(r"at position (\d+)", result.message)
        piece, offset = window(result.answer.latex, int(match.group(1)) if match else 0)
        lines.append(f"    formula: {piece}")
        if match:
            lines.append("             " + " " * offset + "^")
    ce = result.counterexample
    if ce:
        lines.append(f"    sizes: {_fmt(ce['sizes'])}" + (f", {ce['where']}" if ce["where"] else ""))
        if "entry" in ce:
            lines.append(f"    entry: {_fmt(ce['entry'])}")
        lines.append(f"    values: {_fmt(ce['values'])}")
        if "student" in ce:
            lines.append(f"    yours: {_fmt(ce['student'])}   right: {_fmt(ce['expected'])}")
        if "shapes" in ce:
            lines.append(f"    shape of yours: {ce['shapes']['yours']}   right: {ce['shapes']['right']}")
    if result.closed_form:
        lines.append(f"    derived: {result.closed_form}")
        lines.append(f"    yours:   {clip(result.answer.latex, 300)}")
    return lines


def _where(result) -> str:
    """``FILE:LINE`` (or ``line LINE`` when the answer was not read from a file)."""
    return f"{result.answer.file}:{result.answer.line}" if result.answer.file else f"line {result.answer.line}"


def terminal(results) -> str:
    out = [f"{MARK[r.status]:<10} line {r.answer.line:<4} {clip(r.answer.quantity)}" for r in results]
    for r in results:
        if r.status != "correct":
            out += [f"-- {_where(r)}: {clip(r.answer.quantity)}", *details(r)]
    ok = sum(r.status == "correct" for r in results)
    out.append(f"{ok}/{len(results)} correct")
    return "\n".join(out) + "\n"


_MATH_WORDS = {"frac", "dfrac", "tfrac", "sqrt", "sum", "hat", "widehat", "cdot", "times", "odot", "oplus", "top",
               "intercal", "exp", "log", "ln", "operatorname", "mathrm", "mathbb", "mathbf", "mathds", "text",
               "textrm", "begin", "end", "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl",
               "Bigr", "displaystyle", "limits", "quad", "qquad", "neq", "ne", "leq", "le", "geq", "ge",
               "geqslant", "leqslant", "lparen", "sgn", "varepsilon"} | set(_GREEK)


def _safe_math(formula: str) -> bool:
    """Only commands of the grammar the checker reads, and only the cases environment, go into math mode."""
    words = re.findall(r"\\([A-Za-z]+)", formula)
    environments = re.findall(r"\\(?:begin|end)\s*\{([^}]*)\}", formula)
    if any(bad in formula for bad in ("^^", "%", "#", "$")):  # TeX's ^^ character codes, comments, parameters
        return False
    return all(w in _MATH_WORDS for w in words) and all(e.strip() in ("cases", "dcases") for e in environments)


def _md(text: str) -> str:
    return clip(text).replace("`", "'").replace("|", "\\|")


def markdown(results) -> str:
    out = [f"<!-- {GENERATED_MARK} check -->", "# symderiv check", "", "| line | quantity | result |", "|---|---|---|"]
    out += [f"| {r.answer.line} | `{_md(r.answer.quantity)}` | {MARK[r.status]} |" for r in results]
    for r in results:
        if r.status != "correct":
            out += ["", f"## {_where(r)}: `{_md(r.answer.quantity)}`", "", "```text", *details(r), "```"]
    return "\n".join(out) + "\n"


def latex(results) -> str:
    out = [f"% {GENERATED_MARK} check", r"\documentclass{article}", r"\usepackage{amsmath,amssymb}", r"\usepackage[margin=2cm]{geometry}",
           r"\begin{document}", r"\section*{symderiv check}"]
    for r in results:
        out.append(rf"\subsection*{{Line {r.answer.line}: {escape_latex(clip(r.answer.quantity))} --- "
                   rf"{escape_latex(MARK[r.status])}}}")
        if r.status != "unreadable" and _safe_math(r.answer.latex):
            out.append(rf"Yours: \[ {r.answer.latex} \]")
        else:
            label = "unreadable" if r.status == "unreadable" else "shown as written"
            out.append(rf"Yours ({label}): \texttt{{" + escape_latex(clip(r.answer.latex, 300)) + "}")
        if r.status != "correct":
            if r.closed_form:
                out.append(rf"Derived: \[ {r.closed_form} \]")
            inert = "\n".join(details(r)).replace("\\end{verbatim}", "\\end {verbatim}")  # verbatim to the end
            out.append(r"\begin{verbatim}" + "\n" + inert + "\n" + r"\end{verbatim}")
    out.append(r"\end{document}")
    return "\n".join(out) + "\n"


def csv_text(results) -> str:
    """One row per answer (file, line, quantity, status, message), after a row with symderiv's mark."""
    import csv
    import io
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([f"# {GENERATED_MARK} check"])
    writer.writerow(["file", "line", "quantity", "status", "message", "source"])
    for r in results:
        writer.writerow([r.answer.file, r.answer.line, clip(r.answer.quantity), r.status, clip(r.message, 400),
                         clip(r.answer.latex, 300)])
    return buffer.getvalue()
