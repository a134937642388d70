"""Reports of a grading run: one terminal line per answer plus details, Markdown, and LaTeX."""
from __future__ import annotations

import re

import numpy as np

from symderiv.emitting.latex_env import escape_latex

MARK = {"correct": "correct", "wrong": "WRONG", "unreadable": "UNREADABLE"}


def _fmt(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_fmt(v)}" for k, v in value.items())
    if isinstance(value, (np.ndarray, list, tuple)):
        return np.array2string(np.asarray(value, dtype=float), precision=4, separator=", ")
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)


def details(result) -> list[str]:
    """Lines explaining a result that is not correct."""
    if result.status == "correct":
        return []
    lines = [f"    {result.message}"]
    if result.status == "unreadable":
        lines.append(f"    formula: {result.answer.latex}")
        match = re.match(r"at position (\d+)", result.message)
        if match:
            lines.append("             " + " " * int(match.group(1)) + "^")
    ce = result.counterexample
    if ce:
        lines += [f"    sizes: {_fmt(ce['sizes'])}" + (f", {ce['where']}" if ce["where"] else ""),
                  f"    entry: {_fmt(ce['entry'])}",
                  f"    values: {_fmt(ce['values'])}",
                  f"    yours: {_fmt(ce['student'])}   right: {_fmt(ce['expected'])}"]
    if result.closed_form:
        lines.append(f"    derived: {result.closed_form}")
        lines.append(f"    yours:   {result.answer.latex}")
    return lines


def terminal(results) -> str:
    out = [f"{MARK[r.status]:<10} line {r.answer.line:<4} {r.answer.quantity}" for r in results]
    for r in results:
        if r.status != "correct":
            out += [f"-- line {r.answer.line}: {r.answer.quantity}", *details(r)]
    ok = sum(r.status == "correct" for r in results)
    out.append(f"{ok}/{len(results)} correct")
    return "\n".join(out) + "\n"


def markdown(results) -> str:
    out = ["# symderiv check", "", "| line | quantity | result |", "|---|---|---|"]
    out += [f"| {r.answer.line} | `{r.answer.quantity}` | {MARK[r.status]} |" for r in results]
    for r in results:
        if r.status != "correct":
            out += ["", f"## line {r.answer.line}: `{r.answer.quantity}`", "", "```text", *details(r), "```"]
    return "\n".join(out) + "\n"


def latex(results) -> str:
    out = [r"\documentclass{article}", r"\usepackage{amsmath,amssymb}", r"\usepackage[margin=2cm]{geometry}",
           r"\begin{document}", r"\section*{symderiv check}"]
    for r in results:
        out.append(rf"\subsection*{{Line {r.answer.line}: {escape_latex(r.answer.quantity)} --- "
                   rf"{escape_latex(MARK[r.status])}}}")
        if r.status != "unreadable":
            out.append(rf"Yours: \[ {r.answer.latex} \]")
        else:
            out.append(r"Yours (unreadable): \texttt{" + escape_latex(r.answer.latex) + "}")
        if r.status != "correct":
            if r.closed_form:
                out.append(rf"Derived: \[ {r.closed_form} \]")
            out.append(r"\begin{verbatim}" + "\n" + "\n".join(details(r)) + "\n" + r"\end{verbatim}")
    out.append(r"\end{document}")
    return "\n".join(out) + "\n"
