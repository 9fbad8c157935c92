"""Bad inputs of every ``reliant curate`` command: exit 2, one stderr line naming the file,
line or field, and no run folder left behind. Every case fails before any model or
embedder is loaded, so the sweep is fast."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli_runner import assert_exit_2_one_line

ROWS = 60


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("good")
    rng = np.random.default_rng(0)
    np.save(folder / "features.npy", rng.normal(size=(ROWS, 8)).astype(np.float32))
    np.save(folder / "labels.npy", rng.integers(0, 3, ROWS))
    np.save(folder / "clean.npy", rng.integers(0, 3, ROWS))
    (folder / "texts.jsonl").write_text("".join(json.dumps({"text": f"text {i}", "label": i % 3}) + "\n"
                                                for i in range(ROWS)))
    (folder / "pool.jsonl").write_text("".join(json.dumps({"instruction": f"do {i}", "input": "", "output": f"did {i}"})
                                               + "\n" for i in range(ROWS)))
    np.save(folder / "scores.npy", rng.integers(0, 6, ROWS))
    np.save(folder / "emb.npy", rng.normal(size=(ROWS, 8)).astype(np.float32))
    (folder / "a_file.txt").write_text("not a folder\n")
    return folder


def _write(path: Path, content) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        path.write_text(content)
    return path


def _jsonl(rows) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


# Each case: (extra args, {file name in tmp_path: content}, expected text in the one error line).
# "{good}" and "{tmp}" in the args are replaced by the fixture folder and the test's own folder.

FEATURES_CASES = {
    "labels missing": (["--labels", "{tmp}/nope.npy"], {}, "nope.npy: field 'labels': no such file"),
    "labels is a folder": (["--labels", "{tmp}"], {}, "field 'labels': is a folder, expected a file"),
    "labels not an array": (["--labels", "{tmp}/bad.npy"], {"bad.npy": b"\x00\x01garbage\xff" * 8},
                            "bad.npy: field 'labels': is not a .npy file"),
    "labels fewer rows": (["--labels", "{tmp}/short.npy"], {"short.npy": np.zeros(ROWS - 1, dtype=np.int64)},
                          f"has {ROWS - 1} labels but there are {ROWS} feature rows"),
    "labels negative": (["--labels", "{tmp}/neg.npy"], {"neg.npy": np.where(np.arange(ROWS) == 4, -2, 1)},
                        "label -2 at row 5 is negative"),
    "labels not integral": (["--labels", "{tmp}/f.npy"], {"f.npy": np.full(ROWS, 0.5)},
                            "f.npy: field 'labels': expected integer values"),
    "features NaN": (["--features", "{tmp}/f.npy"],
                     {"f.npy": np.where(np.arange(ROWS * 8).reshape(ROWS, 8) == 17, np.nan, 1.0)},
                     "f.npy: field 'features': contains NaN or infinite values (first at row 3)"),
    "features inf in csv": (["--features", "{tmp}/f.csv"], {"f.csv": "1,2\n3,inf\n" + "1,1\n" * (ROWS - 2)},
                            "f.csv: field 'features': contains NaN or infinite values (first at row 2)"),
    "features empty file": (["--features", "{tmp}/f.csv"], {"f.csv": ""}, "f.csv: field 'features': array is empty"),
    "features 1-D": (["--features", "{tmp}/f.npy"], {"f.npy": np.ones(ROWS)},
                     "f.npy: field 'features': expected 2 dimensions"),
    "clean labels length": (["--clean-labels", "{tmp}/c.npy"], {"c.npy": np.zeros(ROWS + 2, dtype=np.int64)},
                            f"c.npy: field 'clean_labels': has {ROWS + 2} labels but there are {ROWS} noisy labels"),
    "clean labels out of range": (["--clean-labels", "{tmp}/c.npy"], {"c.npy": np.full(ROWS, 7)},
                                  "c.npy: field 'clean_labels': label 7 at row 1 is outside 0..2"),
    "num classes too small": (["--num-classes", "1"], {}, "field 'num_classes': must be"),
    "labels beyond num classes": (["--num-classes", "2"], {}, "is not below --num-classes 2"),
    "hoc fraction NaN": (["--hoc-fraction", "nan"], {}, "field 'hoc.hoc_fraction': must be in (0, 1], got nan"),
    "hoc rounds zero": (["--hoc-rounds", "0"], {}, "field 'hoc.hoc_rounds'"),
    "neighbors beyond rows": (["--neighbors", str(ROWS)], {}, f"must be below the number of rows ({ROWS})"),
    "knn backend unknown": (["--knn-backend", "annoy"], {}, "field 'knn_backend': unknown value 'annoy'"),
    "embedding cache is a file": (["--embedding-cache", "{good}/a_file.txt"], {},
                                  "a_file.txt: field 'embedding_cache': is a file, expected a folder"),
    "features and data": (["--data", "{good}/texts.jsonl"], {}, "field 'features': give --features or --data"),
    "unknown nested YAML key": (["--config", "{tmp}/c.yaml"], {"c.yaml": "hoc:\n  hoc_rounds: 3\n  bogus: 1\n"},
                                "field 'hoc.bogus': unknown option"),
    "YAML wrong type": (["--config", "{tmp}/c.yaml"], {"c.yaml": "hoc:\n  hoc_steps: many\n"},
                        "field 'hoc.hoc_steps': expected int"),
}


def _expand(args, good: Path, tmp: Path) -> list[str]:
    return [a.replace("{good}", str(good)).replace("{tmp}", str(tmp)) for a in args]


def _prepare(files: dict, tmp: Path) -> None:
    for name, content in files.items():
        _write(tmp / name, content)


def _replace(base: list[str], extra: list[str]) -> list[str]:
    """``base`` with each ``--flag value`` of ``extra`` replacing the same flag (or appended)."""
    args = list(base)
    for flag, value in zip(extra[::2], extra[1::2]):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    return args


@pytest.mark.parametrize("command", ["diagnose", "detect"])
@pytest.mark.parametrize("case", list(FEATURES_CASES))
def test_features_and_labels(good, tmp_path, capsys, command, case):
    extra, files, expected = FEATURES_CASES[case]
    _prepare(files, tmp_path)
    base = ["curate", command, "--features", str(good / "features.npy"), "--labels", str(good / "labels.npy"),
            "--out", str(tmp_path / "out")]
    assert_exit_2_one_line(_replace(base, _expand(extra, good, tmp_path)), capsys, expected, tmp_path)


DATA_CASES = {
    "malformed line": ({"d.jsonl": _jsonl([{"text": "a", "label": 0}, '{"text": "b", "label": 1'])},
                       [], "d.jsonl:2: invalid JSON"),
    "missing text field": ({"d.jsonl": _jsonl([{"text": "a", "label": 0}, {"label": 1}, {"text": "c", "label": 2}])},
                           [], "d.jsonl:2: field 'text': missing"),
    "label wrong type": ({"d.jsonl": _jsonl([{"text": "a", "label": 0}, {"text": "b", "label": "one"}])},
                         [], "d.jsonl:2: field 'label': expected an integer, got 'one'"),
    "label NaN": ({"d.jsonl": _jsonl([{"text": "a", "label": 0}, '{"text": "b", "label": NaN}'])},
                  [], "d.jsonl:2: field 'label': expected an integer, got nan"),
    "label negative": ({"d.jsonl": _jsonl([{"text": "a", "label": 0}, {"text": "b", "label": -1}])},
                       [], "d.jsonl:2: field 'label': value -1 is below the minimum 0"),
    "too few rows": ({"d.jsonl": _jsonl([{"text": "a", "label": 0}, {"text": "b", "label": 1}])},
                     ["--neighbors", "1"], "d.jsonl: field 'label': needs at least 3 rows, got 2"),
    "empty file": ({"d.jsonl": ""}, [], "d.jsonl: contains no records"),
    "missing path": ({}, ["--data", "{tmp}/nope.jsonl"], "nope.jsonl: no such file"),
    "folder": ({}, ["--data", "{tmp}"], "is a folder, expected a data file"),
    "binary file": ({"d.jsonl": b"\x00\x01\x02\x03\xff\xfe" * 40}, [], "d.jsonl: is a binary file"),
    "not UTF-8": ({"d.jsonl": '{"text": "caf\xe9", "label": 0}\n'.encode("latin-1")}, [],
                  "d.jsonl:1: not valid UTF-8 text"),
    "custom text field missing": ({"d.jsonl": _jsonl([{"text": "a", "label": 0}] * 5)}, ["--text-field", "body"],
                                  "d.jsonl:1: field 'body': missing"),
    "labels file shorter than data": ({"d.jsonl": _jsonl([{"text": f"t{i}"} for i in range(10)]),
                                       "l.npy": np.zeros(9, dtype=np.int64)}, ["--labels", "{tmp}/l.npy"],
                                      "l.npy: field 'labels': has 9 labels but there are 10 records"),
    "detect fraction zero": ({"d.jsonl": _jsonl([{"text": f"t{i}", "label": i % 2} for i in range(10)])},
                             ["--detect-fraction", "0"], "field 'simifeat.detect_fraction': must be"),
    "method unknown": ({"d.jsonl": _jsonl([{"text": f"t{i}", "label": i % 2} for i in range(10)])},
                       ["--method", "magic"], "field 'method': unknown value 'magic' (choose from: rank, vote, cleanlab)"),
}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_detect_from_records(tmp_path, capsys, case):
    files, extra, expected = DATA_CASES[case]
    _prepare(files, tmp_path)
    base = ["curate", "detect", "--data", str(tmp_path / "d.jsonl"), "--out", str(tmp_path / "out")]
    assert_exit_2_one_line(_replace(base, _expand(extra, tmp_path, tmp_path)), capsys, expected, tmp_path)


POOL_CASES = {
    "missing path": ({}, ["--pool", "{tmp}/nope.jsonl"], "nope.jsonl: no such file"),
    "folder": ({}, ["--pool", "{tmp}"], "is a folder, expected a data file"),
    "empty file": ({"p.jsonl": ""}, [], "p.jsonl: contains no records"),
    "malformed line": ({"p.jsonl": _jsonl([{"instruction": "a", "output": "b"}, "{oops"])}, [],
                       "p.jsonl:2: invalid JSON"),
    "missing instruction": ({"p.jsonl": _jsonl([{"instruction": "a", "output": "b"}, {"output": "c"}])}, [],
                            "p.jsonl:2: field 'instruction': missing"),
    "output wrong type": ({"p.jsonl": _jsonl([{"instruction": "a", "output": 5}])}, [],
                          "p.jsonl:1: field 'output': expected text"),
    "binary file": ({"p.jsonl": b"\x00\xff\x00\xfe" * 64}, [], "p.jsonl: is a binary file"),
    "not UTF-8": ({"p.jsonl": '{"instruction": "caf\xe9", "output": "x"}\n'.encode("latin-1")}, [],
                  "p.jsonl:1: not valid UTF-8 text"),
    "csv missing column": ({"p.csv": "instruction,input\nfoo,bar\n"}, ["--pool", "{tmp}/p.csv"],
                           "p.csv:2: field 'output': missing"),
}

RATE_ONLY = {
    "max retries negative": ({}, ["--max-retries", "-1"], "field 'rating.max_retries': must be"),
    "max new tokens zero": ({}, ["--max-new-tokens", "0"], "field 'rating.max_new_tokens': must be"),
    "max new tokens inf in YAML": ({"c.yaml": "rating:\n  max_new_tokens: .inf\n"}, ["--config", "{tmp}/c.yaml"],
                                   "field 'rating.max_new_tokens'"),
}


@pytest.mark.parametrize("case", list(POOL_CASES) + list(RATE_ONLY))
def test_rate(good, tmp_path, capsys, case):
    files, extra, expected = {**POOL_CASES, **RATE_ONLY}[case]
    _prepare(files, tmp_path)
    pool = tmp_path / "p.jsonl" if files else good / "pool.jsonl"
    base = ["curate", "rate", "--pool", str(pool), "--rater", "tiny", "--out", str(tmp_path / "out")]
    assert_exit_2_one_line(_replace(base, _expand(extra, good, tmp_path)), capsys, expected, tmp_path)


def test_rate_needs_a_rater(good, tmp_path, capsys):
    args = ["curate", "rate", "--pool", str(good / "pool.jsonl"), "--out", str(tmp_path / "out")]
    assert_exit_2_one_line(args, capsys, "field 'rater': --rater is required", tmp_path)


SELECT_ONLY = {
    "scores out of range": ({"s.npy": np.full(ROWS, 6)}, ["--scores", "{tmp}/s.npy"],
                            "s.npy: field 'scores': score 6 at row 1 is outside 0..5"),
    "scores length": ({"s.npy": np.zeros(ROWS - 3, dtype=np.int64)}, ["--scores", "{tmp}/s.npy"],
                      f"has {ROWS - 3} scores but the pool has {ROWS} samples"),
    "scores NaN": ({"s.npy": np.where(np.arange(ROWS) == 2, np.nan, 1.0)}, ["--scores", "{tmp}/s.npy"],
                   "s.npy: field 'scores': contains NaN or infinite values (first at row 3)"),
    "scores not integral": ({"s.npy": np.full(ROWS, 2.5)}, ["--scores", "{tmp}/s.npy"],
                            "s.npy: field 'scores': expected integer values"),
    "scores missing": ({}, ["--scores", "{tmp}/nope.npy"], "nope.npy: field 'scores': no such file"),
    "embeddings rows": ({"e.npy": np.ones((ROWS + 1, 4), dtype=np.float32)}, ["--embeddings", "{tmp}/e.npy"],
                        f"e.npy: field 'embeddings': has {ROWS + 1} rows but there are {ROWS} samples"),
    "embeddings inf": ({"e.npy": np.where(np.arange(ROWS * 4).reshape(ROWS, 4) == 9, np.inf, 1.0)},
                       ["--embeddings", "{tmp}/e.npy"],
                       "e.npy: field 'embeddings': contains NaN or infinite values (first at row 3)"),
    "budget beyond pool": ({}, ["--budget", str(ROWS + 1)], f"field 'budget': must be at most the pool size ({ROWS}"),
    "budget zero": ({}, ["--budget", "0"], "field 'budget': must be"),
    "threshold NaN": ({}, ["--threshold", "nan"], "field 'threshold': must be in [0, 1], got nan"),
    "max similarity above 1": ({}, ["--max-similarity", "1.5"], "field 'max_similarity': must be in [-1, 1]"),
    "scores and rater": ({}, ["--rater", "tiny"], "field 'scores': give exactly one of --scores FILE or --rater"),
    "long tail neighbors beyond pool": ({}, ["--long-tail-neighbors", str(ROWS)], "field 'long_tail_neighbors'"),
    "too few samples": ({"p.jsonl": _jsonl([{"instruction": "a", "output": "b"}] * 2)}, ["--budget", "1"],
                        "p.jsonl: needs at least 3 samples, got 2"),
    "embedding cache is a file": ({}, ["--embedding-cache", "{good}/a_file.txt"],
                                  "field 'embedding_cache': is a file, expected a folder"),
}


@pytest.mark.parametrize("case", list(POOL_CASES) + list(SELECT_ONLY))
def test_select(good, tmp_path, capsys, case):
    files, extra, expected = {**POOL_CASES, **SELECT_ONLY}[case]
    _prepare(files, tmp_path)
    pool = tmp_path / "p.jsonl" if (tmp_path / "p.jsonl").exists() else good / "pool.jsonl"
    base = ["curate", "select", "--pool", str(pool), "--scores", str(good / "scores.npy"), "--embeddings",
            str(good / "emb.npy"), "--budget", "5", "--out", str(tmp_path / "out")]
    assert_exit_2_one_line(_replace(base, _expand(extra, good, tmp_path)), capsys, expected, tmp_path)


def test_select_needs_scores_or_rater(good, tmp_path, capsys):
    args = ["curate", "select", "--pool", str(good / "pool.jsonl"), "--budget", "5", "--out", str(tmp_path / "out")]
    assert_exit_2_one_line(args, capsys, "give exactly one of --scores FILE or --rater BACKEND", tmp_path)
