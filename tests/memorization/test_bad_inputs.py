"""Bad inputs to ``reliant memorization audit``, ``canaries`` and ``counterfactual``: each exits
2 with one line naming the file, line or field, leaves no run folder behind, and is found
before any model is loaded (the model named here, ``M``, does not exist)."""

from __future__ import annotations

import pytest

from tests.cli_runner import assert_exit_2_one_line

GOOD = '{"text": "A fine member text."}\n{"question": "Who?", "answer": "Me."}\n'

# name -> (members file name, its contents (text or bytes), extra flags, expected text)
AUDIT_CASES = {
    "malformed line": ("m.jsonl", '{"text": "fine"}\n{"text": \n', [], "m.jsonl:2: invalid JSON"),
    "missing field": ("m.jsonl", '{"question": "Who?", "answer": "Me."}\n{"question": "Where?"}\n', [],
                      "m.jsonl:2: field 'answer': missing"),
    "no text field": ("m.jsonl", '{"body": "x"}\n', [], "m.jsonl:1: field 'text': missing"),
    "wrong type": ("m.jsonl", '{"text": 12}\n', [], "m.jsonl:1: field 'text': expected text, got int"),
    "empty text": ("m.csv", "text,id\nhello there,1\n   ,2\n", [], "m.csv:3: field 'text': is empty"),
    "empty file": ("m.jsonl", "", [], "m.jsonl: contains no records"),
    "binary file": ("m.jsonl", b"\x00\x01\xfe" * 30, [], "m.jsonl: is a binary file"),
    "not utf-8": ("m.jsonl", '{"text": "caf\xe9"}\n'.encode("latin-1"), [], "m.jsonl:1: not valid UTF-8"),
    "unsupported type": ("m.txt", "plain text\n", [], "m.txt: unsupported file type"),
    "missing path": (None, None, [], "missing.jsonl: no such file"),
    "unknown attack": ("m.jsonl", GOOD, ["--attacks", "loss,magic"], "field 'attacks': unknown value 'magic'"),
    "no attack": ("m.jsonl", GOOD, ["--attacks", ","], "field 'attacks': give at least one attack"),
    "fraction above 1": ("m.jsonl", GOOD, ["--min-k-fraction", "1.5"], "field 'min_k_fraction'"),
    "fraction 0": ("m.jsonl", GOOD, ["--min-k-fraction", "0"], "field 'min_k_fraction'"),
    "fraction nan": ("m.jsonl", GOOD, ["--min-k-fraction", "nan"], "field 'min_k_fraction'"),
    "limit 0": ("m.jsonl", GOOD, ["--limit", "0"], "field 'limit'"),
    "batch size 0": ("m.jsonl", GOOD, ["--batch-size", "0"], "field 'batch_size'"),
}


@pytest.mark.parametrize("name, contents, extra, expected", AUDIT_CASES.values(), ids=AUDIT_CASES.keys())
def test_audit_bad_inputs(tmp_path, capsys, name, contents, extra, expected):
    good = tmp_path / "good.jsonl"
    good.write_text(GOOD)
    members = tmp_path / (name or "missing.jsonl")
    if contents is not None:
        (members.write_bytes if isinstance(contents, bytes) else members.write_text)(contents)
    assert_exit_2_one_line(["memorization", "audit", "--model", "M", "--members", str(members), "--nonmembers",
                            str(good), "--out", str(tmp_path / "out"), *extra], capsys, expected, tmp_path)


def test_audit_needs_model_and_both_files(tmp_path, capsys):
    good = tmp_path / "good.jsonl"
    good.write_text(GOOD)
    out = ["--out", str(tmp_path / "out")]
    assert_exit_2_one_line(["memorization", "audit", "--model", "M", *out], capsys, "field 'members'", tmp_path)
    assert_exit_2_one_line(["memorization", "audit", "--members", str(good), "--nonmembers", str(good), *out], capsys,
                           "field 'model'", tmp_path)
    (tmp_path / "folder").mkdir()
    assert_exit_2_one_line(["memorization", "audit", "--model", "M", "--members", str(good), "--nonmembers",
                            str(tmp_path / "folder"), *out], capsys, "folder: is a folder", tmp_path)


CANARY_CASES = {
    "bad secret": ('{"prefix": "The code is", "secret": "12 x"}\n', [], "c.jsonl:1: field 'secret'"),
    "missing prefix": ('{"secret": "1 2"}\n', [], "c.jsonl:1: field 'prefix': missing or empty"),
    "wrong type": ('{"prefix": 3, "secret": "1 2"}\n', [], "c.jsonl:1: field 'prefix'"),
    "repetitions not a number": ('{"prefix": "p", "secret": "1", "repetitions": "many"}\n', [],
                                 "c.jsonl:1: field 'repetitions': expected an integer"),
    "repetitions fractional": ('{"prefix": "p", "secret": "1", "repetitions": 1.5}\n', [],
                               "c.jsonl:1: field 'repetitions': expected an integer"),
    "repetitions negative": ('{"prefix": "p", "secret": "1", "repetitions": -2}\n', [],
                             "c.jsonl:1: field 'repetitions': must be >= 0"),
    "repetitions nan": ('{"prefix": "p", "secret": "1", "repetitions": NaN}\n', [],
                        "c.jsonl:1: field 'repetitions': expected an integer"),
    "malformed line": ('{"prefix": "p", "secret": "1"}\n{"prefix"\n', [], "c.jsonl:2: invalid JSON"),
    "empty file": ("", [], "c.jsonl: contains no records"),
    "binary file": (b"\x00\x10" * 50, [], "c.jsonl: is a binary file"),
    "n-candidates -1": ('{"prefix": "p", "secret": "1"}\n', ["--n-candidates", "-1"], "field 'n_candidates'"),
    "batch size 0": ('{"prefix": "p", "secret": "1"}\n', ["--batch-size", "0"], "field 'batch_size'"),
}


@pytest.mark.parametrize("contents, extra, expected", CANARY_CASES.values(), ids=CANARY_CASES.keys())
def test_canaries_bad_inputs(tmp_path, capsys, contents, extra, expected):
    canaries = tmp_path / "c.jsonl"
    (canaries.write_bytes if isinstance(contents, bytes) else canaries.write_text)(contents)
    assert_exit_2_one_line(["memorization", "canaries", "--model", "M", "--canaries", str(canaries),
                            "--out", str(tmp_path / "out"), *extra], capsys, expected, tmp_path)


def test_canaries_paths_and_pairs(tmp_path, capsys):
    out = ["--out", str(tmp_path / "out")]
    assert_exit_2_one_line(["memorization", "canaries", "--model", "M", "--canaries", str(tmp_path / "none.jsonl"),
                            *out], capsys, "none.jsonl: no such file", tmp_path)
    assert_exit_2_one_line(["memorization", "canaries", "--model", "M", *out], capsys, "field 'canaries'", tmp_path)
    (tmp_path / "c.jsonl").write_text('{"prefix": "p", "secret": "1"}\n')
    assert_exit_2_one_line(["memorization", "canaries", "--canaries", str(tmp_path / "c.jsonl"), *out], capsys,
                           "field 'model'", tmp_path)


COUNTERFACTUAL_CASES = {
    "mismatched lengths": ('{"features": [1, 2], "label": 0}\n{"features": [1], "label": 1}\n', [],
                           "p.jsonl:2: field 'features': has 1 features but the first record has 2"),
    "label out of range": ('{"features": [1, 2], "label": 0}\n{"features": [1, 2], "label": -1}\n', [],
                           "p.jsonl:2: field 'label'"),
    "label not a number": ('{"features": [1, 2], "label": "cat"}\n', [], "p.jsonl:1: field 'label'"),
    "features not a list": ('{"features": "wide", "label": 0}\n', [], "p.jsonl:1: field 'features'"),
    "nan in the file": ('{"features": [1, NaN], "label": 0}\n{"features": [1, 2], "label": 1}\n', [],
                        "p.jsonl:1: field 'features'"),
    "missing field": ('{"features": [1, 2]}\n', [], "p.jsonl:1: field 'label': missing"),
    "one label only": ('{"features": [1, 2], "label": 0}\n{"features": [3, 2], "label": 0}\n', [],
                       "p.jsonl: field 'label': needs at least two distinct labels"),
    "malformed line": ('{"features": [1, 2], "label": 0}\n{"features": [1,\n', [], "p.jsonl:2: invalid JSON"),
    "empty file": ("", [], "p.jsonl: contains no records"),
    "binary file": (b"\x00\x01" * 50, [], "p.jsonl: is a binary file"),
    "n-models 1": (None, ["--n-models", "1"], "field 'n_models'"),
    "noise 1": (None, ["--noise", "1"], "field 'noise'"),
    "noise nan": (None, ["--noise", "nan"], "field 'noise'"),
    "inclusion 0": (None, ["--inclusion", "0"], "field 'inclusion'"),
    "lr inf": (None, ["--lr", "inf"], "field 'lr'"),
    "epochs 0": (None, ["--epochs", "0"], "field 'epochs'"),
}


@pytest.mark.parametrize("contents, extra, expected", COUNTERFACTUAL_CASES.values(), ids=COUNTERFACTUAL_CASES.keys())
def test_counterfactual_bad_inputs(tmp_path, capsys, contents, extra, expected):
    flags = list(extra)
    if contents is not None:
        points = tmp_path / "p.jsonl"
        (points.write_bytes if isinstance(contents, bytes) else points.write_text)(contents)
        flags += ["--data", str(points)]
    assert_exit_2_one_line(["memorization", "counterfactual", "--out", str(tmp_path / "out"), *flags], capsys,
                           expected, tmp_path)


def test_counterfactual_paths(tmp_path, capsys):
    out = ["--out", str(tmp_path / "out")]
    assert_exit_2_one_line(["memorization", "counterfactual", "--data", str(tmp_path / "none.csv"), *out], capsys,
                           "none.csv: no such file", tmp_path)
    (tmp_path / "dir").mkdir()
    assert_exit_2_one_line(["memorization", "counterfactual", "--data", str(tmp_path / "dir"), *out], capsys,
                           "dir: is a folder", tmp_path)


def test_bad_file_fails_before_torch(tmp_path):
    """A bad input file is reported without importing torch (so within about a second)."""
    import subprocess
    import sys

    (tmp_path / "m.jsonl").write_text('{"question": "Who?"}\n')
    code = ("import sys\nfrom tests.cli_runner import run_main\n"
            f"rc = run_main(['memorization', 'audit', '--model', 'M', '--members', {str(tmp_path / 'm.jsonl')!r}, "
            f"'--nonmembers', {str(tmp_path / 'm.jsonl')!r}, '--out', {str(tmp_path / 'out')!r}])\n"
            "print(rc, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=_repo_root())
    assert done.stdout.split()[-2:] == ["2", "False"], done.stdout + done.stderr


def _repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]
