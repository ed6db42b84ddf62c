"""Turn a frozen config dataclass into argparse options, cleanrl style.

Each field becomes ``--field-name``; its help text is the field's entry in the class docstring's
``Attributes:`` section (Google style) or ``field(metadata={"help": ...})``. A TOML file given with
``--config`` supplies defaults that explicit command-line options override; the resolved config is
what the caller stores in the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from typing import Any, TypeVar

from rlbound.data.config import resolve_config

T = TypeVar("T")


def field_docs(cls: type) -> dict[str, str]:
    """Map field name -> help text from the ``Attributes:`` section of ``cls.__doc__``."""
    doc = cls.__doc__ or ""
    m = re.search(r"Attributes:\n(.*?)(?:\n\s*\n(?!\s{8})|\Z)", doc, re.S)
    out: dict[str, str] = {}
    if not m:
        return out
    current = None
    for line in m.group(1).splitlines():
        hit = re.match(r"\s{4,8}(\w+)(?: \([^)]*\))?:\s*(.*)", line)
        if hit and (len(line) - len(line.lstrip())) <= 8 and hit.group(1) in {f.name for f in dataclasses.fields(cls)}:
            current = hit.group(1)
            out[current] = hit.group(2).strip()
        elif current and line.strip():
            out[current] += " " + line.strip()
    return out


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
