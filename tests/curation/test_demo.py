"""The ``reliant demo`` stage of curation."""

from __future__ import annotations

import time

import pytest

from reliant.core.rundir import run_directory
from reliant.curation.api import demo_stage


@pytest.mark.slow
def test_demo_stage_headline_numbers(tmp_path):
    start = time.perf_counter()
    with run_directory("demo", {"seed": 0}, tmp_path / "demo") as run:
        headline = demo_stage(run, 0)
    assert time.perf_counter() - start < 60
    assert headline["curation_T_max_abs_error"] < 0.08
    assert abs(headline["curation_noise_rate_estimate"] - headline["curation_noise_rate_true"]) < 0.03
    assert headline["curation_simifeat_rank_f1"] > 0.9
    assert headline["curation_ds2_score_accuracy_after"] > headline["curation_ds2_score_accuracy_before"] + 0.2
    assert (tmp_path / "demo" / "report.html").exists()
