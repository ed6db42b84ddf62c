"""Every option the CLI builds from a config dataclass has help text from the field's documentation.

The help of ``rlbound sample`` / ``train`` / ``distill`` options comes from each field's entry in
its class's ``Attributes:`` docstring (``rlbound.cli.args.field_docs``), the one place a field is
documented for both the API and ``--help``; a field whose entry the parser misses would get an
empty help line, which this test refuses.
"""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from rlbound.cli.args import add_dataclass_options, field_docs
from rlbound.rl.distill import DistillConfig
from rlbound.rl.trainer import TrainConfig
from rlbound.sampling.config import SampleConfig


@pytest.mark.parametrize("cls", [SampleConfig, TrainConfig, DistillConfig], ids=lambda c: c.__name__)
def test_every_field_has_help(cls) -> None:
    docs = field_docs(cls)
    missing = [f.name for f in dataclasses.fields(cls) if f.init and not (f.metadata.get("help") or docs.get(f.name))]
    assert not missing, f"{cls.__name__}: no help text for {missing}"
    parser = argparse.ArgumentParser()
    add_dataclass_options(parser, cls)
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help and not action.help.startswith(" ("), (cls.__name__, action.dest)


def test_field_docs_reads_continuation_lines_and_ignores_other_sections() -> None:
    @dataclasses.dataclass
    class C:
        """Doc.

        Attributes:
            alpha: first line
                continued here.
            beta (int): typed entry.

        Notes:
            gamma: not a field entry.
        """

        alpha: int = 1
        beta: int = 2
        gamma: int = 3

    assert field_docs(C) == {"alpha": "first line continued here.", "beta": "typed entry."}
