"""Grading hand derivations: parse students' LaTeX, compare with the engine, report.

``check_file(path)`` reads an answer file (:mod:`.answers`), parses each
formula (:mod:`.latex_parser`), grades it numerically against the derived
closed form (:mod:`.grader`, :mod:`.quantities`); :mod:`.report` formats the
results.
"""
from symderiv.checking.answers import Answer, AnswerFileError, parse_answers, read_answers
from symderiv.checking.grader import Result, grade
from symderiv.checking.latex_parser import ParseError, parse


def check_file(path, network=None, assignment=None) -> list:
    """Grade every answer in the file at ``path`` (an answer file, or a submission: :mod:`.submission`)."""
    from symderiv.checking.submission import read_file
    return [grade(answer, network) for answer in read_file(path, network, assignment)]


__all__ = ["Answer", "AnswerFileError", "ParseError", "Result", "check_file", "grade", "parse", "parse_answers",
           "read_answers"]
