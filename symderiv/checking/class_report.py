"""Grading a folder of submissions: every file graded, a class summary per question, JSON and CSV forms.

:func:`check_folder` grades each regular file of a folder (sorted by name); a
file that cannot be read (binary, not UTF-8, too large, no answers) is recorded
with its message and the other files are graded. :func:`summary` counts, per
question, the correct, wrong and unreadable answers and finds the most frequent
mistake (the same formula, up to spacing, among the answers that are not
correct) with an example; :func:`markdown` and :func:`csv_text` write it.
:func:`as_json` gives the per-answer objects of ``check --json``.

>>> canonical("batchnorm: dy_i/dx_j"), canonical("softmax:  dg_j / dz_i"), canonical("delta_yhat_a")
('batchnorm: dy/dx', 'softmax: dg/dz', 'delta_yhat_a')
"""
from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from symderiv.checking.answers import AnswerFileError, clip
from symderiv.checking.grader import grade
from symderiv.checking.submission import read_file
from symderiv.emitting.files import GENERATED_MARK


@dataclass
class FileResult:
    path: str
    results: list = field(default_factory=list)
    error: str = ""  # the file could not be read at all


def check_folder(folder, network=None, assignment=None) -> list[FileResult]:
    """Grade every regular, non-hidden file directly in ``folder``."""
    folder = Path(folder)
    out = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            out.append(FileResult(str(path), [grade(a, network) for a in read_file(path, network, assignment)]))
        except AnswerFileError as exc:
            out.append(FileResult(str(path), error=str(exc)))
    return out


def canonical(heading: str) -> str:
    """The question a heading answers, whatever index letters it uses."""
    text = re.sub(r"\s+", "", heading.replace("\\partial", "d"))
    if ":" not in text:
        return text  # a network quantity has no index letters: delta_yhat_a is not delta_yhat_b
    return re.sub(r"_[a-z](?=/|$)", "", text).replace(":", ": ", 1)


def summary(files: list[FileResult]) -> list[dict]:
    """Per question (in order of first appearance): counts and the most frequent mistake."""
    questions: dict[str, dict] = {}
    for file in files:
        for r in file.results:
            q = questions.setdefault(canonical(r.answer.quantity) or "(no heading)",
                                     {"correct": 0, "wrong": 0, "unreadable": 0, "mistakes": Counter(),
                                      "examples": {}})
            q[r.status] += 1
            if r.status != "correct":
                key = (r.status, re.sub(r"\s+", "", r.answer.latex))
                q["mistakes"][key] += 1
                q["examples"].setdefault(key, r)
    rows = []
    for question, q in questions.items():
        row = {"question": question, "correct": q["correct"], "wrong": q["wrong"], "unreadable": q["unreadable"],
               "mistake": "", "times": 0, "example": ""}
        if q["mistakes"]:
            # most frequent; ties: the first seen (Counter keeps insertion order)
            key, times = max(q["mistakes"].items(), key=lambda item: item[1])
            example = q["examples"][key]
            row.update(mistake=f"{example.status}: {clip(example.answer.latex, 120)}", times=times,
                       example=f"{example.answer.file}:{example.answer.line}: {clip(example.message, 160)}")
        rows.append(row)
    return rows


def markdown(files: list[FileResult]) -> str:
    """The class summary in Markdown."""
    rows = summary(files)
    cell = lambda text: str(text).replace("|", "\\|").replace("`", "'")
    graded = sum(not f.error for f in files)
    out = [f"<!-- {GENERATED_MARK} check -->", "# symderiv check: class summary", "",
           f"{graded} of {len(files)} files graded.", "",
           "| question | correct | wrong | unreadable | most frequent mistake | times | example |",
           "|---|---|---|---|---|---|---|"]
    out += [f"| `{cell(r['question'])}` | {r['correct']} | {r['wrong']} | {r['unreadable']} | {cell(r['mistake'])} "
            f"| {r['times'] or ''} | {cell(r['example'])} |" for r in rows]
    errors = [f for f in files if f.error]
    if errors:
        out += ["", "## Files not graded", ""] + [f"- {cell(clip(f.error, 300))}" for f in errors]
    out += ["", "## Per file", "", "| file | correct | answers |", "|---|---|---|"]
    out += [f"| {cell(f.path)} | {sum(r.status == 'correct' for r in f.results)} | "
            f"{len(f.results) if not f.error else 'not graded'} |" for f in files]
    return "\n".join(out) + "\n"


def csv_text(files: list[FileResult]) -> str:
    """The class summary as CSV: a first row with symderiv's mark (so that a rerun may replace the file),
    then one row per question, then one row per file not graded."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([f"# {GENERATED_MARK} check"])
    writer.writerow(["question", "correct", "wrong", "unreadable", "most frequent mistake", "times", "example"])
    for r in summary(files):
        writer.writerow([r["question"], r["correct"], r["wrong"], r["unreadable"], r["mistake"], r["times"] or "",
                         r["example"]])
    for f in files:
        if f.error:
            writer.writerow([f"(file not graded) {f.path}", "", "", "", "", "", clip(f.error, 300)])
    return buffer.getvalue()


def as_json(results, file: str | None = None) -> list[dict]:
    """One object per answer: quantity, status, line, source (the LaTeX as read), message (and file)."""
    return [{"quantity": r.answer.quantity, "status": r.status, "line": r.answer.line,
             "source": clip(r.answer.latex, 2000), "message": r.message,
             "file": r.answer.file or file or ""} for r in results]
