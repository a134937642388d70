"""``symderiv check ANSWERS [--spec SPEC.toml] [--report FILE]``: grade hand derivations."""
from __future__ import annotations

from symderiv.commands._network_args import add_network_arguments, network_from_args


def add_parser(sub) -> None:
    parser = sub.add_parser("check", help="grade hand derivations written in LaTeX",
                            description="Read an answer file ('# quantity' headings, LaTeX formulas) and say "
                                        "which answers are right, wrong (with a counterexample) or unreadable.")
    parser.add_argument("answers", help="the answer file")
    parser.add_argument("--spec", help="network TOML file for delta_/dL/d answers (default: multitask)")
    add_network_arguments(parser, positional=False)
    parser.add_argument("--report", help="also write a report: FILE.md (Markdown) or FILE.tex (LaTeX)")
    parser.add_argument("--force", action="store_true", help="overwrite a report file that symderiv did not write")
    parser.set_defaults(run=run)


def run(args) -> int:
    from pathlib import Path

    from symderiv.checking import check_file, report
    from symderiv.emitting.files import has_generated_mark, write_generated
    network = network_from_args(args, spec=args.spec) if args.spec or args.network or args.layers else None
    if args.report and Path(args.report).suffix not in (".md", ".tex"):
        raise ValueError(f"{args.report}: the report must end in .md or .tex")
    if args.report and Path(args.report).exists() and not args.force and not has_generated_mark(Path(args.report)):
        raise FileExistsError(f"{args.report}: exists and was not written by symderiv; pass --force to overwrite it")
    results = check_file(args.answers, network)
    print(report.terminal(results), end="")
    if args.report:
        text = report.markdown(results) if args.report.endswith(".md") else report.latex(results)
        write_generated(Path(args.report), text, force=args.force)
    return 0 if all(r.status == "correct" for r in results) else 1
