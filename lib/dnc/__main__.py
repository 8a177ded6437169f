"""Command line: regenerate the book's figures without the book.

python -m dnc list
python -m dnc figure NAME [--profile quick|paper] [--out DIR]
python -m dnc figure all  [--profile quick|paper] [--out DIR]
python -m dnc prefetch [--jobs N] [--threads T] [--profile quick|paper] [--only NAME ...]
python -m dnc code-version
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from dnc import profile
from dnc.cache import code_version
from dnc.experiments.runs import prefetch


def _registry():
    importlib.import_module("dnc.figures.all")
    # local: the figures load every experiment, which `list` and `prefetch` do not need
    from dnc.figures import REGISTRY

    return REGISTRY


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``) and return the exit status.

    ``list`` prints every registered figure with its label and summary; ``figure NAME`` (or
    ``all``) renders figures into ``--out`` and prints the paths written; ``prefetch`` computes
    the cached long runs in parallel (see :func:`dnc.experiments.runs.prefetch`);
    ``code-version`` prints :func:`dnc.cache.code_version`.

    Returns:
        0 on success, 2 for an unknown figure name, a bad ``$DNC_PROFILE``, an ``--out`` that is
        a file, or a prefetch request it rejects.
    """
    parser = argparse.ArgumentParser(prog="python -m dnc", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the figures and the paper figure each reproduces")
    fig = sub.add_parser("figure", help="regenerate one figure (or 'all') as PNG and PDF")
    fig.add_argument("name")
    fig.add_argument(
        "--profile",
        choices=("quick", "paper"),
        default=None,
        help="sizes to run at (default: $DNC_PROFILE, else quick)",
    )
    fig.add_argument("--out", default="figures", help="output folder (default: figures)")
    sub.add_parser("code-version", help="print the version (hash) of the whole dnc package")
    pre = sub.add_parser("prefetch", help="compute the book's long runs in parallel (cached)")
    pre.add_argument("--jobs", type=int, default=None, help="processes (default: cores)")
    pre.add_argument("--threads", type=int, default=1, help="CPU threads per process")
    pre.add_argument("--profile", choices=("quick", "paper"), default=None)
    pre.add_argument("--only", nargs="*", default=None, help="run names (default: all)")
    args = parser.parse_args(argv)

    if args.command == "prefetch":
        if args.profile is not None:
            os.environ["DNC_PROFILE"] = args.profile  # inherited by the worker processes
        try:
            prefetch(args.only, jobs=args.jobs, threads=args.threads)
        except ValueError as err:
            print(err, file=sys.stderr)
            return 2
        return 0

    if args.command == "code-version":
        print(code_version())
        return 0
    if args.command == "figure":
        try:
            profile.current(args.profile)  # $DNC_PROFILE checked before anything is computed
        except ValueError as err:
            print(err, file=sys.stderr)
            return 2
        if Path(args.out).exists() and not Path(args.out).is_dir():
            print(
                f"--out {args.out} is a file; it must be a folder (new or existing)",
                file=sys.stderr,
            )
            return 2
    registry = _registry()
    if args.command == "list":
        width = max(len(n) for n in registry)
        for spec in registry.values():
            print(f"{spec.name:<{width}}  {spec.label:<20}  {spec.summary}")
        return 0

    # local: the backend must be chosen before pyplot loads
    import matplotlib

    matplotlib.use("Agg")
    # local: after the backend is chosen
    import matplotlib.pyplot as plt

    # local: the figures load every experiment, which `list` and `prefetch` do not need
    from dnc.figures import get, save

    names = list(registry) if args.name == "all" else [args.name]
    for name in names:
        try:
            spec = get(name)
        except KeyError as err:
            print(err.args[0], file=sys.stderr)
            return 2
        fig = spec.function(profile=args.profile)
        for path in save(fig, args.out, name):
            print(path)
        plt.close(fig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
