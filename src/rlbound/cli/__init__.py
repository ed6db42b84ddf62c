"""The ``rlbound`` command line: one thin subcommand per stage of a boundary study.

Each subcommand lives in ``rlbound.cli.<module>`` and registers itself with ``register``;
heavy imports (torch, math-verify, pyarrow) happen inside the command, so ``rlbound --help`` is fast.
Every error a user can act on becomes one line on stderr and exit code 2: an ``InputError`` anywhere
(``rlbound: error: <file>:<line>: field '<f>': ...``), a path the command cannot read or write (an
``OSError`` naming it, e.g. an output folder under a regular file or without write permission), and
a bad option (``rlbound <command>: error: ...``, with a pointer to ``--help`` instead of argparse's
multi-line usage). Progress bars still open when the error arrives are cleared first, so the error
line is not glued to a half-drawn bar.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from rlbound.errors import InputError
from rlbound.version import __version__

# Modules under rlbound.cli, each with register(subparsers).
_COMMAND_MODULES = ("metrics", "data", "verify", "sample", "sandbox",
                    "train", "report", "study", "plan")


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line (``prog: error: message``), exit code 2.

    Subcommand parsers are made of the same class (argparse's ``add_subparsers`` default)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
        return _fail(str(e))
    except KeyboardInterrupt:
        _clear_progress_bars()
        print("rlbound: interrupted (everything written so far is kept; rerun to resume)", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:  # a path that cannot be read or written: name it, no traceback
        return _fail(_os_error_text(e))


def _fail(message: str) -> int:
    """Print the one error line (after clearing open progress bars); the exit code 2."""
    _clear_progress_bars()
    one_line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    print(f"rlbound: error: {one_line}", file=sys.stderr)
    return 2


def _os_error_text(e: OSError) -> str:
    """``<path>: <reason>`` of an OSError (both paths of a failed rename or link)."""
    reason = (e.strerror or type(e).__name__).lower()
    paths = [str(p) for p in (e.filename, e.filename2) if p is not None]
    return f"{' -> '.join(paths)}: {reason}" if paths else str(e) or reason


def _clear_progress_bars() -> None:
    """Erase tqdm bars left open by the failed command (its frames are still alive in the traceback)."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ()) or ()):
        try:
            bar.leave = False
            bar.close()
        except Exception:  # noqa: BLE001 - a bar that cannot be cleared must not hide the error
            pass


if __name__ == "__main__":
    sys.exit(main())
