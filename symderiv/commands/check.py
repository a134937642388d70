"""``symderiv check ANSWERS|DIR [--spec SPEC.toml] [--assignment A.toml] [--report FILE] [--json]``: grade
hand derivations (answer files in the heading format, or submissions as students write them)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

_FILE_REPORTS = (".md", ".tex", ".csv")
_FOLDER_REPORTS = (".md", ".csv")
from symderiv import progress
from symderiv.commands._network_args import add_network_arguments, network_from_args


def add_parser(sub) -> None:
    parser = sub.add_parser("check", help="grade hand derivations written in LaTeX",
                            description="Read an answer file ('# quantity' headings, LaTeX formulas), or every file "
                                        "of a folder, and say which answers are right, wrong (with a "
                                        "counterexample) or unreadable.")
    parser.add_argument("answers", help="the answer file, or a folder of them (one per student)")
    parser.add_argument("--spec", help="network TOML file for delta_/dL/d answers (default: multitask)")
    add_network_arguments(parser, positional=False)
    parser.add_argument("--report", help="also write a report: FILE.md, FILE.tex or FILE.csv (for a folder: the "
                                         "class summary, .md or .csv)")
    parser.add_argument("--assignment", help="TOML file of the question labels ([questions] \"1.1\" = \"batchnorm\"); "
                                             "default: the homework's")
    parser.add_argument("--json", action="store_true", help="print only a JSON list of the answers on stdout")
    parser.add_argument("--force", action="store_true", help="overwrite a report file that symderiv did not write")
    parser.set_defaults(run=run)


def run(args) -> int:
    from symderiv.emitting.files import has_generated_mark
    folder = Path(args.answers).is_dir()
    allowed = _FOLDER_REPORTS if folder else _FILE_REPORTS
    if args.report and Path(args.report).suffix not in allowed:
        raise ValueError(f"{args.report}: the report must end in {', '.join(allowed)}")
    if args.report and Path(args.report).exists() and not args.force and not has_generated_mark(Path(args.report)):
        raise FileExistsError(f"{args.report}: exists and was not written by symderiv; pass --force to overwrite it")
    network = network_from_args(args, spec=args.spec) if args.spec or args.network or args.layers else None
    if args.assignment:
        from symderiv.checking.submission import read_assignment
        args.assignment = read_assignment(args.assignment)
    return _folder(args, network) if folder else _file(args, network)


def _file(args, network) -> int:
    from symderiv.checking import check_file, class_report, report
    from symderiv.emitting.files import write_generated
    results = check_file(args.answers, network, args.assignment)
    progress.clear()  # the grading is done: the status line gives way to the results
    if args.json:
        print(json.dumps(class_report.as_json(results, args.answers), ensure_ascii=False, indent=1))
    else:
        print(report.terminal(results), end="")
    if args.report:
        suffix = Path(args.report).suffix
        text = {".md": report.markdown, ".tex": report.latex, ".csv": report.csv_text}[suffix](results)
        write_generated(Path(args.report), text, force=args.force)
    return 0 if all(r.status == "correct" for r in results) else 1


def _folder(args, network) -> int:
    from symderiv.checking import class_report, report
    from symderiv.emitting.files import write_generated
    files = class_report.check_folder(args.answers, network, args.assignment)
    if not files:
        raise ValueError(f"{args.answers}: the folder has no files to grade")
    progress.clear()  # the grading is done: the status line gives way to the results
    if args.json:
        objects = []
        for f in files:
            objects += class_report.as_json(f.results, f.path) if not f.error else \
                [{"quantity": None, "status": "unreadable", "line": 0, "source": "", "message": f.error,
                  "file": f.path}]
        print(json.dumps(objects, ensure_ascii=False, indent=1))
    else:
        for f in files:
            if f.error:
                print(f"symderiv: {f.error}", file=sys.stderr)
                continue
            print(f"== {f.path}")
            print(report.terminal(f.results), end="")
    if args.report:
        text = (class_report.markdown if args.report.endswith(".md") else class_report.csv_text)(files)
        write_generated(Path(args.report), text, force=args.force)
    ok = all(not f.error and all(r.status == "correct" for r in f.results) for f in files)
    return 0 if ok else 1
