"""The memorization options are declared once (config.py, no torch) and match the registries."""

from __future__ import annotations

import subprocess
import sys


def test_attack_choices_are_the_registry():
    from reliant.memorization.attacks import ATTACK_REGISTRY
    from reliant.memorization.config import ATTACK_NAMES
    from reliant.memorization.lm import ATTACK_LABELS, ATTACKS

    assert ATTACK_NAMES == tuple(ATTACK_REGISTRY)
    assert set(ATTACKS) <= set(ATTACK_NAMES)
    assert set(ATTACK_LABELS) == set(ATTACK_NAMES)


def test_cli_and_config_import_nothing_heavy():
    code = ("import sys, reliant.memorization.cli, reliant.memorization.inputs, reliant.memorization.canaries; "
            "print(sorted(m for m in ('torch', 'transformers', 'reliant.core.rundir', 'reliant.core.models') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_attacks_are_a_list_with_choices(tmp_path):
    import pytest

    from reliant.core.config import resolve_config
    from reliant.core.errors import ConfigError
    from reliant.memorization.config import AuditConfig

    assert resolve_config(AuditConfig, attacks="loss, min_k_pp").attacks == ["loss", "min_k_pp"]
    cfg = tmp_path / "c.yaml"
    cfg.write_text("attacks: [zlib, min_k]\nmin_k_fraction: 0.1\n")
    resolved = resolve_config(AuditConfig, cfg)
    assert (resolved.attacks, resolved.min_k_fraction) == (["zlib", "min_k"], 0.1)
    with pytest.raises(ConfigError, match="field 'attacks'"):
        resolve_config(AuditConfig, attacks=",")
