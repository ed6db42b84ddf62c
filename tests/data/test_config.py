"""rlbound.data.config.resolve_config: one resolver for sample / train / distill configs."""

from __future__ import annotations

import pytest

from rlbound.data.config import resolve_config
from rlbound.errors import InputError
from rlbound.rl.trainer import TrainConfig


def test_toml_then_overrides(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text('model = "m"\nout = "o"\nsteps = 30\nkl = 0\nrollouts = 4\n')
    cfg = resolve_config(TrainConfig, path, {"steps": 40, "lr": None})
    assert (cfg.steps, cfg.kl, cfg.rollouts, cfg.lr) == (40, 0, 4, 1e-4)


@pytest.mark.parametrize("text, field", [
    ('model = "m"\nout = "o"\nsteps = "300"\n', "steps"),          # wrong type
    ('model = "m"\nout = "o"\nkl = true\n', "kl"),                 # a bool is not a number
    ('model = "m"\nout = "o"\nstpes = 3\n', "stpes"),              # unknown key
    ('model = "m"\n', "out"),                                       # missing required key
    ('model = "m"\nout = "o"\nsteps = 0\n', "steps"),              # rejected by the class
])
def test_errors_name_the_file_and_the_key(tmp_path, text, field):
    path = tmp_path / "train.toml"
    path.write_text(text)
    with pytest.raises(InputError) as e:
        resolve_config(TrainConfig, path)
    assert e.value.path == str(path) and e.value.field == field


def test_bad_toml_and_missing_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("steps = \n")
    with pytest.raises(InputError, match="not valid TOML"):
        resolve_config(TrainConfig, path)
    with pytest.raises(InputError, match="not found"):
        resolve_config(TrainConfig, tmp_path / "none.toml")
