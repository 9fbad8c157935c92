"""Bad inputs of every ``reliant unlearn`` command: exit 2, one stderr line naming the file,
line or field, and no run folder left behind.

Every case fails before a model loads or training starts (the model loader and the
benchmark's data and reference-model builders are replaced by functions that fail the test),
so the sweep is fast. The shared cases (bad ``--config`` files, ``--seed``, unknown flags)
live in tests/test_command_contract.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reliant.unlearning.methods import REGISTRY

from tests.cli_runner import assert_exit_2_one_line

GOOD = '{"question": "Who wrote it?", "answer": "Someone."}\n'
PERTURBED = json.dumps({"question": "q", "answer": "a", "paraphrased_answer": "p", "perturbed_answer": ["x", "y"]}) + "\n"


def _files(folder: Path) -> None:
    """The inputs the cases name; ``{tmp}`` in an argument is replaced by ``folder``."""
    (folder / "good.jsonl").write_text(GOOD)
    (folder / "perturbed.jsonl").write_text(PERTURBED)
    (folder / "no_answer.jsonl").write_text(GOOD + '{"question": "q2"}\n')
    (folder / "no_question.jsonl").write_text('{"answer": "a"}\n')
    (folder / "malformed.jsonl").write_text(GOOD + '{"question": "q2", "answer": \n')
    (folder / "number.jsonl").write_text('{"question": 3, "answer": "a"}\n')
    (folder / "nan.jsonl").write_text('{"question": "q", "answer": NaN}\n')
    (folder / "empty.jsonl").write_text("")
    (folder / "binary.jsonl").write_bytes(b"\x00\x01\xff\xfe" * 16)
    (folder / "latin1.jsonl").write_bytes('{"question": "caf\xe9", "answer": "a"}\n'.encode("latin-1"))
    (folder / "perturbed_text.jsonl").write_text(
        json.dumps({"question": "q", "answer": "a", "paraphrased_answer": "p", "perturbed_answer": "x"}) + "\n"
    )
    (folder / "blank_templates.txt").write_text("\n\n")
    (folder / "logs_not_json.json").write_text("{not json\n")
    (folder / "logs_list.json").write_text("[1, 2]")
    (folder / "logs_no_scores.json").write_text('{"forget_truth_ratio": {"value_by_index": {"0": {"x": 1}}}}')
    (folder / "logs_bad_auc.json").write_text('{"mia_min_k": {"agg_value": 3}}')
    (folder / "logs_empty.json").write_text('{"other_metric": {"agg_value": 1}}')
    (folder / "a_folder").mkdir()
    (folder / "muse_empty").mkdir()
    (folder / "muse_bad").mkdir()
    (folder / "muse_bad" / "knowmem_forget_qa.json").write_text('[{"question": "q"}]')
    (folder / "nested_unknown.yaml").write_text("train:\n  epochs: 2\n  nonsense: 1\n")
    (folder / "nested_type.yaml").write_text("train:\n  epochs: five\n")
    (folder / "dotted_range.yaml").write_text("train.method_params.beta: -1\n")
    (folder / "flat_unknown.yaml").write_text("flat:\n  divergence: js\n  nonsense: 1\n")


FORGET = ["--forget", "{tmp}/good.jsonl"]

RUN_CASES = {
    "missing field answer": (["--forget", "{tmp}/no_answer.jsonl"], "no_answer.jsonl:2: field 'answer': missing"),
    "missing field question": (["--forget", "{tmp}/no_question.jsonl"], "no_question.jsonl:1: field 'question': missing"),
    "malformed line": (["--forget", "{tmp}/malformed.jsonl"], "malformed.jsonl:2: invalid JSON"),
    "wrong type": (["--forget", "{tmp}/number.jsonl"], "number.jsonl:1: field 'question': expected text"),
    "NaN in the file": (["--forget", "{tmp}/nan.jsonl"], "nan.jsonl:1: field 'answer'"),
    "empty file": (["--forget", "{tmp}/empty.jsonl"], "empty.jsonl: contains no records"),
    "missing path": (["--forget", "{tmp}/nope.jsonl"], "nope.jsonl: no such file"),
    "folder instead of file": (["--forget", "{tmp}/a_folder"], "a_folder: is a folder"),
    "binary file": (["--forget", "{tmp}/binary.jsonl"], "binary.jsonl: is a binary file"),
    "not UTF-8": (["--forget", "{tmp}/latin1.jsonl"], "latin1.jsonl"),
    "bad retain file": ([*FORGET, "--method", "gd", "--retain", "{tmp}/malformed.jsonl"], "malformed.jsonl:2: invalid JSON"),
    "perturbed answers not a list": ([*FORGET, "--eval-forget", "{tmp}/perturbed_text.jsonl"],
                                     "perturbed_text.jsonl:1: field 'perturbed_answer': expected a list"),
    "empty templates": ([*FORGET, "--templates", "{tmp}/blank_templates.txt"],
                        "blank_templates.txt: field 'templates': the template answer list is empty"),
    "unknown TOFU split": (["--forget", "tofu:forget99_perturbed"], "field 'forget': unknown TOFU split 'forget99_perturbed'"),
    "method needs retain": ([*FORGET, "--method", "npo"], "field 'retain': method 'npo' needs --retain FILE"),
    "no forget set": ([], "field 'forget': --forget FILE is required"),
    "unknown method": ([*FORGET, "--method", "magic"], "field 'train.method': unknown value 'magic' (choose from: flat, ga"),
    "unknown template draw": ([*FORGET, "--template-draw", "never"], "field 'train.template_draw': unknown value 'never'"),
    "NaN flag": ([*FORGET, "--lr", "nan"], "field 'train.lr': must be a finite number > 0"),
    "inf flag": ([*FORGET, "--lr", "inf"], "field 'train.lr'"),
    "out of range": ([*FORGET, "--warmup-ratio", "2"], "field 'train.warmup_ratio': must be in [0, 1]"),
    "method param out of range": ([*FORGET, "--beta", "0"], "field 'train.method_params.beta': must be a finite number > 0"),
    "negative weight": ([*FORGET, "--retain-weight", "-1"], "field 'train.method_params.retain_weight'"),
    "resume folder missing": ([*FORGET, "--resume", "{tmp}/nowhere"], "nowhere: field 'resume': no such file or folder"),
    "checkpoint dir is a file": ([*FORGET, "--checkpoint-dir", "{tmp}/good.jsonl", "--checkpoint-every", "1"],
                                 "field 'checkpoint_dir': checkpoint folder is a file"),
    "unknown nested config key": ([*FORGET, "--config", "{tmp}/nested_unknown.yaml"],
                                  "nested_unknown.yaml: field 'train.nonsense': unknown option"),
    "wrong type in config": ([*FORGET, "--config", "{tmp}/nested_type.yaml"],
                             "nested_type.yaml: field 'train.epochs': expected int"),
    "dotted config key out of range": ([*FORGET, "--config", "{tmp}/dotted_range.yaml"],
                                       "dotted_range.yaml: field 'train.method_params.beta'"),
    "out holds an input": (["--forget", "{tmp}/out/forget.jsonl"], "holds the input"),
}

EVAL_CASES = {
    "missing field": (["--forget", "{tmp}/no_answer.jsonl"], "no_answer.jsonl:2: field 'answer': missing"),
    "malformed line": (["--real-authors", "{tmp}/malformed.jsonl"], "malformed.jsonl:2: invalid JSON"),
    "wrong type": (["--retain", "{tmp}/number.jsonl"], "number.jsonl:1: field 'question': expected text"),
    "NaN in the file": (["--forget", "{tmp}/nan.jsonl"], "nan.jsonl:1: field 'answer'"),
    "empty file": (["--retain", "{tmp}/empty.jsonl"], "empty.jsonl: contains no records"),
    "missing path": (["--world-facts", "{tmp}/nope.jsonl"], "nope.jsonl: no such file"),
    "folder instead of file": (["--forget", "{tmp}/a_folder"], "a_folder: is a folder"),
    "binary file": (["--forget", "{tmp}/binary.jsonl"], "binary.jsonl: is a binary file"),
    "perturbed answers not a list": (["--forget", "{tmp}/perturbed_text.jsonl"],
                                     "perturbed_text.jsonl:1: field 'perturbed_answer': expected a list"),
    "unknown TOFU split": (["--retain", "tofu:retain99"], "field 'retain': unknown TOFU split 'retain99'"),
    "MUSE folder missing": (["--muse", "{tmp}/nowhere"], "nowhere: field 'muse': no such file or folder"),
    "MUSE is a file": (["--muse", "{tmp}/good.jsonl"], "good.jsonl: field 'muse': is a file, expected a folder"),
    "MUSE folder without files": (["--muse", "{tmp}/muse_empty"], "muse_empty: no MUSE files found"),
    "MUSE file missing a field": (["--muse", "{tmp}/muse_bad"], "knowmem_forget_qa.json: record 1: field 'answer': missing"),
    "no evaluation set": ([], "field 'forget': give at least one evaluation set"),
    "retain logs missing": (["--forget", "{tmp}/perturbed.jsonl", "--retain-logs", "{tmp}/nope.json"],
                            "nope.json: field 'retain_logs': no such file"),
    "retain logs not JSON": (["--forget", "{tmp}/perturbed.jsonl", "--retain-logs", "{tmp}/logs_not_json.json"],
                             "logs_not_json.json:1: invalid JSON"),
    "retain logs not an object": (["--forget", "{tmp}/perturbed.jsonl", "--retain-logs", "{tmp}/logs_list.json"],
                                  "logs_list.json: retain logs must be a JSON object"),
    "retain logs without scores": (["--forget", "{tmp}/perturbed.jsonl", "--retain-logs", "{tmp}/logs_no_scores.json"],
                                   "logs_no_scores.json: field 'forget_truth_ratio': needs value_by_index"),
    "retain logs AUC out of range": (["--forget", "{tmp}/perturbed.jsonl", "--retain-logs", "{tmp}/logs_bad_auc.json"],
                                     "logs_bad_auc.json: field 'mia_min_k': agg_value must be an AUC in [0, 1]"),
    "retain logs without either metric": (["--forget", "{tmp}/perturbed.jsonl", "--retain-logs", "{tmp}/logs_empty.json"],
                                          "logs_empty.json: holds neither forget_truth_ratio nor mia_min_k"),
    "retain logs and retrained model": (["--forget", "{tmp}/perturbed.jsonl", "--retain-logs", "{tmp}/logs_empty.json",
                                         "--retrained-model", "tiny"], "field 'retain_logs': give --retrained-model or"),
    "out of range": (["--forget", "{tmp}/perturbed.jsonl", "--max-new-tokens", "0"], "field 'max_new_tokens'"),
    "negative batch size": (["--forget", "{tmp}/perturbed.jsonl", "--batch-size", "-1"], "field 'batch_size'"),
}

BENCH_CASES = {
    "unknown split": (["--split", "forget99"], "field 'split': unknown value 'forget99' (choose from: forget01"),
    "unknown method": (["--methods", "flat,magic"], "field 'methods': unknown value 'magic'"),
    "no method": (["--methods", ","], "field 'methods': give at least one method"),
    "method twice": (["--methods", "flat,ga,flat"], "field 'methods': a method is listed twice"),
    "epochs 0": (["--epochs", "0"], "field 'epochs'"),
    "NaN lr": (["--lr", "nan"], "field 'lr': must be a finite number > 0"),
    "inf lr": (["--lr", "inf"], "field 'lr'"),
    "negative lr": (["--lr", "-1"], "field 'lr'"),
    "batch size 0": (["--batch-size", "0"], "field 'batch_size'"),
    "unknown divergence": (["--divergence", "hellinger"], "field 'flat.divergence': unknown value 'hellinger'"),
    "unknown reduction": (["--reduction", "sum"], "field 'flat.reduction': unknown value 'sum'"),
    "target epochs 0": (["--target-epochs", "0"], "field 'target_epochs'"),
    "eval retain 0": (["--eval-retain", "0"], "field 'eval_retain'"),
    "negative samples": (["--samples", "-1"], "field 'samples'"),
    "max new tokens not a number": (["--max-new-tokens", "inf"], "--max-new-tokens"),
    "unknown nested config key": (["--config", "{tmp}/flat_unknown.yaml"],
                                  "flat_unknown.yaml: field 'flat.nonsense': unknown option"),
}


@pytest.fixture()
def no_models(monkeypatch):
    """Loading a model, building the benchmark's data or training a reference model fails the test."""
    from reliant.unlearning import api, bench

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded or trained before the bad input was reported")

    monkeypatch.setattr(api, "load_model", refuse)
    monkeypatch.setattr(bench, "tofu_bench_data", refuse)
    monkeypatch.setattr(bench, "train_reference_models", refuse)


def _run(command, args, expected, tmp_path, capsys):
    _files(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert_exit_2_one_line(["unlearn", command, *args, "--out", str(tmp_path / "out")], capsys, expected, tmp_path)


@pytest.mark.parametrize(("args", "expected"), list(RUN_CASES.values()), ids=list(RUN_CASES))
def test_run_bad_inputs(tmp_path, capsys, no_models, args, expected):
    if "{tmp}/out/forget.jsonl" in args:
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "forget.jsonl").write_text(GOOD)
        code_args = [a.replace("{tmp}", str(tmp_path)) for a in args]
        from tests.cli_runner import run_main

        assert run_main(["unlearn", "run", *code_args, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0], err
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["forget.jsonl"]  # the input survives
        return
    _run("run", args, expected, tmp_path, capsys)


@pytest.mark.parametrize("method", [m for m, cls in REGISTRY.items() if "retain" in cls.needs])
def test_every_retain_method_names_the_missing_input(tmp_path, capsys, no_models, method):
    """``unlearn run --method M`` without --retain: one line naming --retain, exit 2."""
    _run("run", [*FORGET, "--method", method], f"field 'retain': method '{method}' needs --retain FILE", tmp_path, capsys)


@pytest.mark.parametrize(("args", "expected"), list(EVAL_CASES.values()), ids=list(EVAL_CASES))
def test_eval_bad_inputs(tmp_path, capsys, no_models, args, expected):
    _run("eval", args, expected, tmp_path, capsys)


@pytest.mark.parametrize(("args", "expected"), list(BENCH_CASES.values()), ids=list(BENCH_CASES))
def test_bench_bad_inputs(tmp_path, capsys, no_models, args, expected):
    _run("bench", args, expected, tmp_path, capsys)


def test_a_bad_file_fails_fast_without_importing_torch(tmp_path):
    """The shell command a user types: a bad forget file is reported before torch is imported."""
    _files(tmp_path)
    script = (
        "import sys\n"
        "from reliant.cli import main\n"
        f"sys.argv = ['reliant', 'unlearn', 'run', '--forget', {str(tmp_path / 'no_answer.jsonl')!r},"
        f" '--out', {str(tmp_path / 'out')!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    print('torch' in sys.modules, exc.code)\n"
    )
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - began
    assert done.stdout.split() == ["False", "2"], done.stdout + done.stderr
    assert "no_answer.jsonl:2: field 'answer': missing" in done.stderr
    assert seconds < 10  # ~1-2 s on an idle machine; generous for a loaded CI box
