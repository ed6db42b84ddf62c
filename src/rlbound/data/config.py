"""Config dataclasses from TOML files and command-line options: one resolver for every command.

``rlbound sample``, ``train`` and ``distill`` all resolve their frozen config dataclass the same
way: TOML file first, explicit options on top, and one clear error naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from rlbound.errors import InputError

T = TypeVar("T")

__all__ = ["resolve_config"]


def _allowed_types(tp: Any) -> tuple[type, ...] | None:
    """Python types a TOML value may have for a field annotated ``tp`` (None: not checked)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        parts = [_allowed_types(a) for a in typing.get_args(tp) if a is not type(None)]
        if any(part is None for part in parts):
            return None
        return tuple(t for part in parts for t in part) + (type(None),)  # type: ignore[union-attr]
    if origin in (list, tuple) or tp in (list, tuple):
        return (list, tuple, str)
    if tp is float:
        return (int, float)
    if tp in (int, str, bool):
        return (tp,)
    return None


def resolve_config(
    cls: type[T],
    config_file: str | Path | None,
    overrides: dict[str, Any] | None = None,
    *,
    table: str | None = None,
    convert: dict[str, Any] | None = None,
) -> T:
    """``cls`` from a TOML file (optional) with ``overrides`` (command-line options; None = not given) on top.

    Keys may use ``-`` or ``_``; ``table`` names an optional TOML table whose keys are merged over the
    top-level ones (``[sample]``); ``convert`` maps a field name to a function applied to its TOML
    value. Every error is one InputError naming the file and the key: a missing or unreadable file (or a
    folder), TOML syntax, an unknown key, a value of the wrong type, a missing required key, a value the
    class rejects.
    """
    values: dict[str, Any] = {}
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = {f.name for f in fields}
    where = str(config_file) if config_file else None
    if config_file:
        try:
            raw = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("config file not found", path=where) from None
        except IsADirectoryError:
            raise InputError("is a directory, expected a TOML config file", path=where) from None
        except OSError as e:
            raise InputError(f"cannot read config file: {(e.strerror or type(e).__name__).lower()}", path=where) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"not valid TOML: {e}", path=where) from None
        if table is not None and isinstance(raw.get(table), dict):
            raw = {**{k: v for k, v in raw.items() if k != table}, **raw[table]}
        for key, val in raw.items():
            name = key.replace("-", "_")
            if name not in names:
                raise InputError(f"unknown key '{key}'", path=where, field=key)
            values[name] = (convert or {}).get(name, lambda v: v)(val)
        hints = typing.get_type_hints(cls)
        for name, val in values.items():
            allowed = _allowed_types(hints[name])
            if allowed is not None and (not isinstance(val, allowed) or (isinstance(val, bool) and bool not in allowed)):
                raise InputError(f"'{name}' has the wrong type ({type(val).__name__}: {val!r})", path=where, field=name)
    for key, val in (overrides or {}).items():
        name = key.replace("-", "_")
        if name not in names:
            raise InputError(f"unknown option '{key}'", field=key)
        if val is not None:
            values[name] = val
    missing = [f.name for f in fields if f.name not in values and f.init
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        name = missing[0]
        raise InputError(f"missing required option --{name.replace('_', '-')} (or key '{name}' in a config file)",
                         path=where, field=name)
    try:
        return cls(**values)
    except InputError as e:
        if e.path is None and where is not None:
            raise InputError(e.message, path=where, field=e.field) from None
        raise
    except (TypeError, ValueError) as e:
        raise InputError(str(e), path=where) from None
