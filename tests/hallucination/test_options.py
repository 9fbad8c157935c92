"""Out-of-range options of ``reliant hallucination`` fail with one line and exit 2."""

from __future__ import annotations

import pytest

from tests.cli_runner import assert_exit_2_one_line


@pytest.mark.parametrize(("extra", "expected"), [
    (["--limit", "-5"], "field 'limit'"),
    (["--limit", "0"], "field 'limit'"),
    (["--n-models", "0"], "n_models"),
])
def test_simulate_rejects_bad_numbers(tmp_path, capsys, extra, expected):
    out = tmp_path / "out"
    assert_exit_2_one_line(["hallucination", "simulate", "--out", str(out), *extra], capsys, expected, tmp_path)


def test_simulate_onto_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "sim").write_text("keep me\n")
    assert_exit_2_one_line(["hallucination", "simulate", "--out", str(tmp_path / "sim"), "--limit", "4"], capsys,
                           "names an existing file", tmp_path)
    assert (tmp_path / "sim").read_text() == "keep me\n"


def test_fewl_params_reject_non_finite():
    from reliant.core.errors import ConfigError
    from reliant.hallucination.api import FEWLParams

    for bad in ({"temperature": float("nan")}, {"temperature": 0.0}, {"neighbors": 0}, {"threshold": "inf"},
                {"neighbor_max_sim": float("nan")}, {"penalty_weighting": "bogus"}):
        with pytest.raises(ConfigError):
            FEWLParams(**bad).check()


def test_divergence_choices_are_the_registry():
    from reliant.hallucination.config import DIVERGENCE_NAMES
    from reliant.hallucination.fewl import DIVERGENCES

    assert DIVERGENCE_NAMES == tuple(DIVERGENCES)


def test_fewl_section_is_nested_not_copied(tmp_path):
    """FEWL's parameters live once, in FEWLParams; the command config nests them."""
    import dataclasses

    from reliant.core.config import resolve_config
    from reliant.hallucination.config import FEWLParams, ScoreConfig

    own = {f.name for f in dataclasses.fields(ScoreConfig)}
    assert not own & {f.name for f in dataclasses.fields(FEWLParams)}
    assert not hasattr(ScoreConfig, "params")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: qa.jsonl\nfewl:\n  neighbors: 3\nfewl.temperature: 0.5\n")
    resolved = resolve_config(ScoreConfig, cfg, divergence="js")
    assert (resolved.fewl.neighbors, resolved.fewl.temperature, resolved.fewl.divergence) == (3, 0.5, "js")
