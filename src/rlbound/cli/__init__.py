"""The ``rlbound`` command line: one thin subcommand per stage of a boundary study.

Each subcommand lives in ``rlbound.cli.<module>`` and registers itself with ``register``;
heavy imports (torch, math-verify, pyarrow) happen inside the command, so ``rlbound --help`` is fast.
An ``InputError`` anywhere becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rlbound.errors import InputError
from rlbound.version import __version__

# Modules under rlbound.cli, each with register(subparsers).
_COMMAND_MODULES = ("metrics", "data", "verify", "sample", "sandbox",
                    "train", "report", "study", "plan")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlbound",
        description="Did post-training widen what a model can solve, or only make it find it faster? "
        "pass@k boundary studies after Yue et al. 2025 (arXiv 2504.13837).",
    )
    parser.add_argument("--version", action="version", version=f"rlbound {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"rlbound.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"rlbound.cli.{name}":
                continue  # command group not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as e:
        print(f"rlbound: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rlbound: interrupted (everything written so far is kept; rerun to resume)", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
