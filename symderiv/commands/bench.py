"""``symderiv bench [--sizes 32,256,2048] [--repeat N] [--dtype float32,float64] [--warm K]``: time one training
step of the default network against PyTorch and the GEMM floor; ``symderiv bench --network NAME --shape
m=64,...`` (or a network file) times any network's step against PyTorch."""
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
    parser.add_argument("spec", nargs="?", help="a network TOML file to time instead of the default network "
                                                "(needs --shape)")
    parser.add_argument("--network", metavar="NAME", help="a network shipped with symderiv to time (needs --shape)")
    parser.add_argument("--shape", metavar="m=64,...",
                        help="the value of every size of the network named by --network or the file, batch m "
                             "included; the step is timed against PyTorch eager alone (no floor)")
    parser.set_defaults(run=run)


def run(args) -> int:
    dtypes = _list(args.dtype, str)
    for dtype in dtypes:
        if dtype not in ("float32", "float64"):
            raise ValueError(f"--dtype: {dtype!r} is not float32 or float64")
    if args.spec or args.network or args.shape:
        return _run_network(args, dtypes)
    from symderiv.bench import run as bench
    sizes = _list(args.sizes, int)
    if args.repeat < 1 or not sizes or min(sizes) < 1 or args.warm < 0:
        raise ValueError("--repeat and --sizes must be positive, --warm not negative")
    bench(sizes, args.repeat, dtypes, warm=args.warm)
    return 0


def _run_network(args, dtypes) -> int:
    from symderiv.benchmark import network_bench
    from symderiv.networks import load
    if args.spec and args.network:
        raise ValueError("bench: give a network file or --network NAME, not both")
    if args.repeat < 1:
        raise ValueError("--repeat must be positive")
    net = load(args.spec, network=args.network)
    if not args.shape:
        raise ValueError(f"bench of network {net.name!r} needs --shape "
                         f"{','.join(f'{s}=...' for s in [network_bench.BATCH, *net.size_names])}")
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ValueError("bench --network times against PyTorch, which is not installed "
                         "(pip install torch==2.13.0)") from None
    network_bench.run(net, network_bench.parse_shape(args.shape, net), args.repeat, dtypes)
    return 0
