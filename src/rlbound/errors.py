"""Errors a user can act on.

Any ``InputError`` reaching the CLI is printed as one line, ``rlbound: error: <message>``, with
exit code 2 and no traceback. The message names the file, line and field where they are known.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user: a malformed file, a missing field, k > n, an unknown model.

    Build it with the location so the one-line message says where to look::

        raise InputError("missing field 'correct'", path="runs.jsonl", line=12, field="correct")
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        fld = f"field '{self.field}': " if self.field and f"'{self.field}'" not in self.message else ""
        return f"{where}{fld}{self.message}"
