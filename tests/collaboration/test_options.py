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
    # The input files exist but cannot be read as arrays: the option error must come first.
    for name in ("p.npy", "v.npy", "y.npy"):
        (tmp_path / name).write_bytes(b"not an array")
    args = ["collab", "analyze", "--machine-probs", str(tmp_path / "p.npy"), "--human-votes", str(tmp_path / "v.npy"),
            "--labels", str(tmp_path / "y.npy"), "--out", str(tmp_path / "out"), *extra]
    assert_exit_2_one_line(args, capsys, expected, tmp_path)


def test_class_names_are_a_list_field():
    from reliant.collaboration.api import CollabConfig
    from reliant.core.config import resolve_config

    config = resolve_config(CollabConfig, machine_probs=__file__, human_votes=__file__, labels=__file__,
                            class_names="cat, dog,bird")
    assert config.class_names == ["cat", "dog", "bird"]
    assert CollabConfig(class_names="a,b").class_names == ["a", "b"]  # the old string form, from Python
    assert CollabConfig().class_names == []
