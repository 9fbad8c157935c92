"""Bad inputs to ``reliant hallucination score`` and ``simulate``: each exits 2 with one line
naming the file, line or field, and leaves no run folder behind."""

from __future__ import annotations

import json

import pytest

from tests.cli_runner import assert_exit_2_one_line

ROW = {"id": "q1", "question": "What is fact 1?", "answers": {"good": "fact 1 is true", "bad": "fact 1 is false"},
       "references": {"r1": "fact 1 is true", "r2": "fact 1 is false"},
       "wrong_answers": ["fact 1 is false"], "corrected_answers": ["fact 1 is true"],
       "hallucinated": {"good": 0, "bad": 1}}
ROW2 = {**ROW, "id": "q2", "question": "What is fact 2?"}


def _jsonl(*rows) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


# name -> (file contents (text or bytes), extra flags, expected text in the one line)
SCORE_CASES = {
    "malformed line": (_jsonl(ROW, '{"question": "What'), [], "qa.jsonl:2: invalid JSON"),
    "missing field": (_jsonl({k: v for k, v in ROW.items() if k != "question"}), [], "qa.jsonl:1: field 'question': missing"),
    "wrong type": (_jsonl(ROW, {**ROW2, "question": 7}), [], "qa.jsonl:2: field 'question': expected text"),
    "answers not an object": (_jsonl({**ROW, "answers": 3}), [], "qa.jsonl:1: field 'answers'"),
    "gold out of range": (_jsonl(ROW, {**ROW2, "hallucinated": {"good": 2, "bad": 0}}), [],
                          "qa.jsonl:2: field 'hallucinated'"),
    "nan in the file": (_jsonl(ROW, '{"question": "Q?", "answers": {"good": "a", "bad": "b"}, "references": '
                                    '{"r1": "a", "r2": "b"}, "hallucinated": {"good": NaN, "bad": 0}}'),
                        [], "qa.jsonl:2: field 'hallucinated'"),
    "mismatched reference count": (_jsonl(ROW, {**ROW2, "references": {"r1": "x"}}), [],
                                   "qa.jsonl:2: field 'references': has 1 reference answers but line 1 has 2"),
    "mismatched models": (_jsonl(ROW, {**ROW2, "answers": {"good": "x"}}), [], "qa.jsonl:2: field 'answers'"),
    "duplicate id": (_jsonl(ROW, ROW), [], "qa.jsonl:2: field 'id': duplicate id 'q1'"),
    "gold for an unknown model": (_jsonl({**ROW, "hallucinated": {"ghost": 1}}), [], "qa.jsonl:1: field 'hallucinated'"),
    "empty file": ("", [], "qa.jsonl: contains no records"),
    "binary file": (b"\x00\x01\x02\xff" * 32, [], "qa.jsonl: is a binary file"),
    "not utf-8": ('{"question": "caf\xe9"}\n'.encode("latin-1"), [], "qa.jsonl:1: not valid UTF-8"),
    "nan in a flag": (_jsonl(ROW, ROW2), ["--temperature", "nan"], "field 'fewl.temperature'"),
    "inf in a flag": (_jsonl(ROW, ROW2), ["--neighbor-max-sim", "inf"], "field 'fewl.neighbor_max_sim'"),
    "threshold not finite": (_jsonl(ROW, ROW2), ["--threshold", "inf"], "field 'fewl.threshold'"),
    "limit 0": (_jsonl(ROW, ROW2), ["--limit", "0"], "field 'limit'"),
    "n-wrong 0": (_jsonl(ROW, ROW2), ["--n-wrong", "0"], "field 'n_wrong'"),
    "unknown weighting": (_jsonl(ROW, ROW2), ["--weighting", "magic"], "field 'fewl.weighting': unknown value 'magic'"),
    "no neighbours with the penalty": (_jsonl(ROW, ROW2), ["--neighbors", "0"], "field 'fewl.neighbors'"),
    "bad wrong-llm spec": (_jsonl(ROW, ROW2), ["--wrong-llm", "gpt"], "field 'wrong_llm': unknown LLM spec 'gpt'"),
    "unknown similarity": (_jsonl(ROW, ROW2), ["--similarity", "bleu"], "field 'similarity': unknown similarity 'bleu'"),
    "nli without a model": (_jsonl(ROW, ROW2), ["--similarity", "nli:"], "field 'similarity': nli: needs a model"),
    "judge with a bad spec": (_jsonl(ROW, ROW2), ["--similarity", "judge:gpt"], "field 'similarity': unknown LLM spec"),
    "exact embedder with nli": (_jsonl(ROW, ROW2), ["--similarity", "judge:tiny"], "field 'embedder'"),
    "nli model not found": (_jsonl(ROW, ROW2), ["--embedder", "all-MiniLM-L6-v2", "--similarity", "nli:./no/such/model"],
                            "model './no/such/model' not found"),
    "answers-from with an LLM": (_jsonl(ROW, ROW2), ["--answers-from", ".", "--reference-llm", "tiny"],
                                 "field 'answers_from': --answers-from replaces"),
    "answers-from without the file": (_jsonl(ROW, ROW2), ["--answers-from", "/nonexistent-run"], "generated.jsonl"),
    "bad selfcheck llm": (_jsonl(ROW, ROW2), ["--selfcheck-llm", "gpt"], "field 'selfcheck_llm'"),
    "no IW answers": (_jsonl({k: v for k, v in ROW.items() if k not in ("wrong_answers", "corrected_answers")}), [],
                      "field 'wrong_answers'"),
}


@pytest.mark.parametrize("contents, extra, expected", SCORE_CASES.values(), ids=SCORE_CASES.keys())
def test_score_bad_data_file(tmp_path, capsys, contents, extra, expected):
    data = tmp_path / "qa.jsonl"
    (data.write_bytes if isinstance(contents, bytes) else data.write_text)(contents)
    assert_exit_2_one_line(["hallucination", "score", "--data", str(data), "--embedder", "exact",
                            "--out", str(tmp_path / "out"), *extra], capsys, expected, tmp_path)


def test_score_paths(tmp_path, capsys):
    data = tmp_path / "qa.jsonl"
    data.write_text(_jsonl(ROW, ROW2))
    base = ["hallucination", "score", "--embedder", "exact", "--out", str(tmp_path / "out")]
    assert_exit_2_one_line([*base, "--data", str(tmp_path / "nope.jsonl")], capsys, "nope.jsonl: no such file", tmp_path)
    (tmp_path / "folder").mkdir()
    assert_exit_2_one_line([*base, "--data", str(tmp_path / "folder")], capsys, "folder: is a folder", tmp_path)
    refs = tmp_path / "refs.jsonl"
    refs.write_text(_jsonl({"references": ["a", "b"]}))
    assert_exit_2_one_line([*base, "--data", str(data), "--references", str(refs)], capsys,
                           "refs.jsonl: has 1 records but", tmp_path)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("fewl:\n  nonsense: 1\n")
    assert_exit_2_one_line([*base, "--data", str(data), "--config", str(cfg)], capsys,
                           "c.yaml: field 'fewl.nonsense': unknown option", tmp_path)


CHALE = {"Question": ["Q1?", "Q2?"], "non-halu": ["a", "b"], "mid-halu": ["c", "d"], "halu": ["e", "f"]}

# name -> (file name, contents, extra flags, expected)
SIMULATE_CASES = {
    "unknown source": (None, None, ["--source", "wiki"], "field 'source': unknown value 'wiki'"),
    "source without data": (None, None, ["--source", "chale"], "field 'data': --source chale needs --data"),
    "missing file": ("nope.json", None, ["--source", "chale"], "nope.json: no such file"),
    "malformed JSON": ("chale.json", '{"Question": [', ["--source", "chale"], "chale.json: cannot read CHALE JSON"),
    "not an object": ("chale.json", "[1, 2]", ["--source", "chale"], "chale.json: expected one JSON object"),
    "missing field": ("chale.json", json.dumps({k: v for k, v in CHALE.items() if k != "halu"}), ["--source", "chale"],
                      "chale.json: field 'halu': missing"),
    "mismatched lengths": ("chale.json", json.dumps({**CHALE, "halu": ["e"]}), ["--source", "chale"],
                           "chale.json: field 'halu': has 1 entries but 'Question' has 2"),
    "wrong type": ("chale.json", json.dumps({**CHALE, "mid-halu": ["c", 4]}), ["--source", "chale"],
                   "chale.json: field 'mid-halu': expected a list of texts"),
    "binary file": ("chale.json", b"\x00\xff" * 40, ["--source", "chale"], "chale.json: is a binary file"),
    "truthfulqa missing column": ("tqa.csv", "Question,Best Answer\nQ?,A\n", ["--source", "truthfulqa"],
                                  "tqa.csv:2: field 'Correct Answers': missing"),
    "truthfulqa empty": ("tqa.csv", "", ["--source", "truthfulqa"], "tqa.csv: contains no records"),
    "limit 0": (None, None, ["--limit", "0"], "field 'limit'"),
    "n-models 0": (None, None, ["--n-models", "0"], "field 'n_models'"),
    "n-samples -1": (None, None, ["--n-samples", "-1"], "field 'n_samples'"),
    "n-wrong not a number": (None, None, ["--n-wrong", "many"], "Invalid value for '--n-wrong'"),
}


@pytest.mark.parametrize("name, contents, extra, expected", SIMULATE_CASES.values(), ids=SIMULATE_CASES.keys())
def test_simulate_bad_inputs(tmp_path, capsys, name, contents, extra, expected):
    flags = list(extra)
    if name is not None:
        path = tmp_path / name
        if contents is not None:
            (path.write_bytes if isinstance(contents, bytes) else path.write_text)(contents)
        flags += ["--data", str(path)]
    assert_exit_2_one_line(["hallucination", "simulate", "--out", str(tmp_path / "out"), *flags], capsys, expected,
                           tmp_path)


def test_simulate_data_folder(tmp_path, capsys):
    (tmp_path / "chale").mkdir()
    assert_exit_2_one_line(["hallucination", "simulate", "--source", "chale", "--data", str(tmp_path / "chale"),
                            "--out", str(tmp_path / "out")], capsys, "chale: is a folder", tmp_path)


def test_bad_file_fails_before_torch(tmp_path):
    """A bad data file is reported without importing torch or an embedding model."""
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "qa.jsonl").write_text(_jsonl({"answers": {"m": "x"}}))
    code = ("import sys\nfrom tests.cli_runner import run_main\n"
            f"rc = run_main(['hallucination', 'score', '--data', {str(tmp_path / 'qa.jsonl')!r}, "
            f"'--out', {str(tmp_path / 'out')!r}])\n"
            "print(rc, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.split()[-2:] == ["2", "False"], done.stdout + done.stderr
