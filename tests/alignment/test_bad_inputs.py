"""Bad inputs of ``reliant align isara`` exit 2 with one stderr line, before any model loads,
and leave no run folder."""

from __future__ import annotations

import json

import pytest

from tests.cli_runner import assert_exit_2_one_line


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def files(tmp_path):
    seeds = _jsonl(tmp_path / "seeds.jsonl", [{"prompt": f"request {i}", "response": f"reply {i}"} for i in range(5)])
    pool = _jsonl(tmp_path / "pool.jsonl", [{"instruction": "Say hi", "input": "", "output": "Hi"}])
    return tmp_path, seeds, pool


def _cases(folder, seeds, pool):
    empty = folder / "empty.jsonl"
    empty.write_text("")
    no_response = _jsonl(folder / "no_response.jsonl", [{"prompt": "a"}, {"prompt": "b", "response": "c"}])
    no_field_pool = _jsonl(folder / "pool_bad.jsonl", [{"instruction": "x", "output": "y"}, {"text": "z"}])
    blank = _jsonl(folder / "blank.jsonl", [{"prompt": "  ", "response": "r"}])
    bad_eval = _jsonl(folder / "eval.jsonl", [{"question": "no prompt field"}])
    binary = folder / "binary.jsonl"
    binary.write_bytes(b"\x00\x01\x02" * 50)
    base = ["align", "isara", "--out", str(folder / "out")]
    return {
        "empty seeds": ([*base, "--seeds", str(empty), "--pool", str(pool)], "contains no records"),
        "more seeds than the limit": ([*base, "--seeds", str(seeds), "--pool", str(pool), "--max-seeds", "3"],
                                      "more than the limit of 3"),
        "seed without response": ([*base, "--seeds", str(no_response), "--pool", str(pool)], "field 'response'"),
        "blank seed prompt": ([*base, "--seeds", str(blank), "--pool", str(pool)], "field 'prompt': is empty"),
        "pool without the needed field": ([*base, "--seeds", str(seeds), "--pool", str(no_field_pool)],
                                          "pool_bad.jsonl:2: field 'prompt'"),
        "unknown domain": ([*base, "--seeds", str(seeds), "--pool", str(pool), "--domain", "poetry"],
                           "unknown value 'poetry'"),
        "missing seeds flag": ([*base, "--pool", str(pool)], "--seeds is required"),
        "missing seeds file": ([*base, "--seeds", str(folder / "nope.jsonl"), "--pool", str(pool)], "no such file"),
        "binary seeds": ([*base, "--seeds", str(binary), "--pool", str(pool)], "binary"),
        "zero rounds": ([*base, "--seeds", str(seeds), "--pool", str(pool), "--rounds", "0"], "rounds"),
        "rouge above 1": ([*base, "--seeds", str(seeds), "--pool", str(pool), "--max-rouge-l", "1.5"], "max_rouge_l"),
        "unknown baseline": ([*base, "--seeds", str(seeds), "--pool", str(pool), "--baselines", "base,dpo"],
                             "unknown value 'dpo'"),
        "bad judge spec": ([*base, "--seeds", str(seeds), "--pool", str(pool), "--judge", "gpt9"], "unknown LLM spec"),
        "eval file without prompt": ([*base, "--seeds", str(seeds), "--pool", str(pool), "--eval-data", str(bad_eval)],
                                     "field 'prompt'"),
        "none as a FEWL reference": ([*base, "--seeds", str(seeds), "--pool", str(pool), "--fewl-references", "none"],
                                     "'none' is not a reference"),
        "FEWL reference twice": ([*base, "--seeds", str(seeds), "--pool", str(pool), "--fewl-references", "self,self"],
                                 "a reference is listed twice"),
        "bad FEWL reference spec": ([*base, "--seeds", str(seeds), "--pool", str(pool), "--fewl-references", "gpt9"],
                                    "unknown LLM spec"),
        "bad FEWL wrong-answer writer": ([*base, "--seeds", str(seeds), "--pool", str(pool), "--fewl-references",
                                          "self", "--fewl-wrong-llm", "gpt9"], "unknown LLM spec"),
        "FEWL keep of zero": ([*base, "--seeds", str(seeds), "--pool", str(pool), "--fewl-keep", "0"], "fewl_keep"),
        "resume with nothing to resume": ([*base, "--seeds", str(seeds), "--pool", str(pool), "--resume"],
                                          "nothing to resume"),
    }




@pytest.mark.parametrize("case", [
    "empty seeds", "more seeds than the limit", "seed without response", "blank seed prompt",
    "pool without the needed field", "unknown domain", "missing seeds flag", "missing seeds file", "binary seeds",
    "zero rounds", "rouge above 1", "unknown baseline", "bad judge spec", "eval file without prompt",
    "none as a FEWL reference", "FEWL reference twice", "bad FEWL reference spec", "bad FEWL wrong-answer writer",
    "FEWL keep of zero", "resume with nothing to resume",
])
def test_bad_input_exits_2_with_one_line(case, files, capsys):
    folder, seeds, pool = files
    args, expected = _cases(folder, seeds, pool)[case]
    assert_exit_2_one_line(args, capsys, expected, folder)


def test_bad_inputs_never_import_torch(files):
    import subprocess
    import sys

    folder, seeds, pool = files
    code = (
        "import sys\n"
        "from tests.cli_runner import run_main\n"
        f"code = run_main(['align', 'isara', '--seeds', {str(seeds)!r}, '--pool', {str(pool)!r}, '--max-seeds', '2',"
        f" '--out', {str(folder / 'out')!r}])\n"
        "assert code == 2, code\n"
        "assert 'torch' not in sys.modules, 'torch was imported before the input was rejected'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
