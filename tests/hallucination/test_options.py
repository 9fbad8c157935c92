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
    assert_exit_2_one_line(["hallucination", "simulate", str(out), *extra], capsys, expected, tmp_path)


def test_simulate_onto_a_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "sim").mkdir()
    assert_exit_2_one_line(["hallucination", "simulate", str(tmp_path / "sim"), "--limit", "4"], capsys,
                           "is a folder", tmp_path)
    assert list((tmp_path / "sim").iterdir()) == []


def test_fewl_params_reject_non_finite():
    from reliant.core.errors import ConfigError
    from reliant.hallucination.api import FEWLParams

    for bad in ({"temperature": float("nan")}, {"temperature": 0.0}, {"neighbors": 0}, {"threshold": "inf"},
                {"neighbor_max_sim": float("nan")}, {"penalty_weighting": "bogus"}):
        with pytest.raises(ConfigError):
            FEWLParams(**bad).check()
