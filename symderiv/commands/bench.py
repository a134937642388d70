"""``symderiv bench [--sizes 32,256,2048] [--repeat N] [--dtype float32,float64] [--warm K]``: time one training
step."""
from __future__ import annotations


def _list(text: str, kind):
    try:
        return [kind(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"{text!r} is not a comma-separated list of {kind.__name__} values") from None


def add_parser(sub) -> None:
    parser = sub.add_parser("bench", help="time the generated kernels against PyTorch eager and the GEMM floor",
                            description="Time one forward + backward step of the default network's generated "
                                        "kernels, PyTorch eager (CPU) and the matrix products alone.")
    parser.add_argument("--sizes", default="32,256,2048", help="batch sizes (default: 32,256,2048)")
    parser.add_argument("--repeat", type=int, default=30, help="timed repetitions per candidate (default: 30)")
    parser.add_argument("--dtype", default="float32,float64", help="dtypes (default: float32,float64)")
    parser.add_argument("--warm", type=int, default=0,
                        help="untimed steps of a candidate just before each of its timed steps, so that it is not "
                             "timed right after another library's threads (default: 0)")
    parser.set_defaults(run=run)


def run(args) -> int:
    from symderiv.bench import run as bench
    sizes = _list(args.sizes, int)
    dtypes = _list(args.dtype, str)
    for dtype in dtypes:
        if dtype not in ("float32", "float64"):
            raise ValueError(f"--dtype: {dtype!r} is not float32 or float64")
    if args.repeat < 1 or not sizes or min(sizes) < 1 or args.warm < 0:
        raise ValueError("--repeat and --sizes must be positive, --warm not negative")
    bench(sizes, args.repeat, dtypes, warm=args.warm)
    return 0
