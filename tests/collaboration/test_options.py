"""Out-of-range options of ``reliant collab analyze`` fail with one line, exit 2, before reading files."""

from __future__ import annotations

import pytest

from tests.cli_runner import assert_exit_2_one_line


@pytest.mark.parametrize(("extra", "expected"), [
    (["--alpha", "inf"], "field 'alpha'"),
    (["--alpha", "nan"], "field 'alpha'"),
    (["--alpha", "0"], "field 'alpha'"),
    (["--folds", "1"], "field 'folds'"),
    (["--bins", "0"], "field 'bins'"),
    (["--annotators", "-1"], "field 'annotators'"),
])
def test_analyze_rejects_bad_numbers_before_reading(tmp_path, capsys, extra, expected):
    # The input files do not exist: the option error must come first.
    args = ["collab", "analyze", "--machine-probs", str(tmp_path / "p.npy"), "--human-votes", str(tmp_path / "v.npy"),
            "--labels", str(tmp_path / "y.npy"), "--out", str(tmp_path / "out"), *extra]
    assert_exit_2_one_line(args, capsys, expected, tmp_path)
