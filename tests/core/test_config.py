from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from reliant.core.config import config_to_dict, load_config_file, resolve_config
from reliant.core.errors import ConfigError


@dataclass
class Options:
    model: str = "tiny"
    epochs: int = 3
    lr: float = 1e-3
    out: Optional[Path] = None
    seed: int = 0


def test_defaults_then_file_then_flags(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: gpt2\nepochs: 5\nlr: 1\n")
    resolved = resolve_config(Options, cfg, epochs=7, lr=None)
    assert resolved == Options(model="gpt2", epochs=7, lr=1, seed=0)


def test_dashed_keys_and_paths(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("out: somewhere\n")
    assert resolve_config(Options, cfg).out == Path("somewhere")
    assert config_to_dict(resolve_config(Options, cfg))["out"] == "somewhere"


@pytest.mark.parametrize(
    "text, needle",
    [
        ("model: [unclosed\n", "invalid YAML"),
        ("- a\n- b\n", "mapping"),
        ("nonsense_option: 1\n", "field 'nonsense_option'"),
        ("epochs: many\n", "field 'epochs': expected int"),
        ("seed: true\n", "field 'seed': expected int"),
    ],
)
def test_bad_config_files(tmp_path, text, needle):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        resolve_config(Options, cfg)
    assert needle in str(info.value)
    assert str(cfg) in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config_file(tmp_path / "nope.yaml")


def test_yaml_error_names_line(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("model: tiny\nepochs: [1,\n")
    with pytest.raises(ConfigError) as info:
        load_config_file(cfg)
    assert f"{cfg}:" in str(info.value)
