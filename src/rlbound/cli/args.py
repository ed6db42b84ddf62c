"""Turn a frozen config dataclass into argparse options, cleanrl style.

Each field becomes ``--field-name``; its help text is the field's entry in the class docstring's
``Attributes:`` section (Google style; the one place a field is documented, for the API and for
``--help`` alike) or ``field(metadata={"help": ...})``. tests/cli/test_option_help.py checks that no
field of a CLI config is left without help. A TOML file given with
``--config`` supplies defaults that explicit command-line options override; the resolved config is
what the caller stores in the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing
from typing import Any, TypeVar

from rlbound.data.config import resolve_config

T = TypeVar("T")


def field_docs(cls: type) -> dict[str, str]:
    """Map field name -> help text from the ``Attributes:`` section of ``cls.__doc__`` (Google style).

    The docstring is dedented (``inspect.cleandoc``); an entry is a line one level deeper than
    ``Attributes:`` that starts with a field's name (``name:`` or ``name (type):``), continued by the
    deeper lines after it; the section ends at the next line no deeper than ``Attributes:``.
    """
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    names = {f.name for f in dataclasses.fields(cls)}
    out: dict[str, str] = {}
    head = next((i for i, line in enumerate(lines) if line.strip() == "Attributes:"), None)
    if head is None:
        return out
    base = _indent(lines[head])
    entry_indent, current = None, None
    for line in lines[head + 1:]:
        if not line.strip():
            continue
        depth = _indent(line)
        if depth <= base:
            break
        entry_indent = depth if entry_indent is None else entry_indent
        hit = re.match(r"(\w+)(?: \([^)]*\))?:\s*(.*)", line.strip())
        if depth == entry_indent and hit and hit.group(1) in names:
            current = hit.group(1)
            out[current] = hit.group(2).strip()
        elif current is not None and depth > entry_indent:
            out[current] = (out[current] + " " + line.strip()).strip()
        elif depth == entry_indent:
            current = None
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(scalar type, is_list) of an annotation, unwrapping Optional."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else (str, False)
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return (args[0] if args else str), True
    return tp, False


def _parse_bool(s: str) -> bool:
    low = s.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {s!r}")


def add_dataclass_options(parser: argparse.ArgumentParser, cls: type, *, skip: tuple[str, ...] = ()) -> None:
    """Add one ``--option`` per field of dataclass ``cls`` (defaults left as None = not given)."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        tp, is_list = _base_type(hints[f.name])
        help_text = f.metadata.get("help") or docs.get(f.name, "")
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        )
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        help_text += " (required)" if required else f" (default: {default!r})"
        help_text = help_text.replace("%", "%%")  # plain text, not an argparse format string
        flag = "--" + f.name.replace("_", "-")
        if tp is bool and not is_list:
            parser.add_argument(flag, type=_parse_bool, nargs="?", const=True, default=None,
                                metavar="BOOL", help=help_text)
        elif is_list:
            parser.add_argument(flag, type=lambda s, t=tp: [t(x) for x in s.split(",") if x != ""],
                                default=None, metavar="A,B,...", help=help_text)
        else:
            conv = tp if tp in (int, float, str) else str
            parser.add_argument(flag, type=conv, default=None, help=help_text)


def build_config(cls: type[T], args: argparse.Namespace, config_file: str | None = None) -> T:
    """Resolve ``cls`` from a TOML file (optional) overridden by explicit options in ``args``."""
    return resolve_config(cls, config_file, {f.name: getattr(args, f.name, None)
                                             for f in dataclasses.fields(cls)})  # type: ignore[arg-type]
