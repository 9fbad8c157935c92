import json
from pathlib import Path

import numpy as np
import pytest
import torch
from reliant.core.builtin_data import builtin_qa, split_forget_retain
from reliant.core.data import save_records
from reliant.core.models import load_causal_lm, mean_answer_nll
from reliant.core.prompts import qa_prompt
from reliant.unlearning import api
from reliant.unlearning.bench import tofu_bench_data
from reliant.unlearning.config import bench_methods
from reliant.unlearning.methods import available_methods

RECORDS = builtin_qa(n_people=10)
FORGET, RETAIN = split_forget_retain(RECORDS, 0.1)
MUSE = Path(__file__).resolve().parents[3] / "shared" / "data" / "muse_news"


def forget_nll(model, tokenizer):
    return float(np.mean(mean_answer_nll(model, tokenizer, [qa_prompt(r["question"]) for r in FORGET], [r["answer"] for r in FORGET])))


@pytest.mark.parametrize("method", sorted(available_methods()))
def test_every_method_trains_and_moves_the_model(small_lm_dir, method):
    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = api.unlearn(model, tokenizer, FORGET, method=method, retain=RETAIN, epochs=1, lr=5e-4, batch_size=4)
    assert result.steps >= 2 and all(np.isfinite(h["loss"]) for h in result.history)
    changed = any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert changed


@pytest.mark.parametrize("method", ["flat", "ga", "npo_forget", "simnpo_forget"])
def test_unlearning_raises_forget_loss(small_lm_dir, method):
    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    start = forget_nll(model, tokenizer)
    api.unlearn(model, tokenizer, FORGET, method=method, epochs=3, lr=1e-3, batch_size=4)
    assert forget_nll(model, tokenizer) > start + 1.0


def test_flat_makes_template_answers_likelier(small_lm_dir):
    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    template = ["I don't know."]
    prompts = [qa_prompt(r["question"]) for r in FORGET]
    before = np.mean(mean_answer_nll(model, tokenizer, prompts, template * len(prompts)))
    api.unlearn(model, tokenizer, FORGET, method="flat", templates=template, epochs=3, lr=1e-3, batch_size=4)
    after = np.mean(mean_answer_nll(model, tokenizer, prompts, template * len(prompts)))
    assert after < before


def test_checkpoint_and_resume_reach_the_same_model(small_lm_dir, tmp_path):
    kwargs = dict(method="ga", epochs=2, lr=5e-4, batch_size=4, seed=3)
    straight, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    api.unlearn(straight, tokenizer, FORGET, **kwargs)
    first, _ = load_causal_lm(str(small_lm_dir), device="cpu")
    api.unlearn(first, tokenizer, FORGET, checkpoint_dir=tmp_path, checkpoint_every=1, **kwargs)
    assert (tmp_path / "latest.json").exists()
    state = json.loads((tmp_path / "latest.json").read_text())
    assert state["epoch"] == 1
    # Resuming a finished run does no more steps and leaves the checkpointed weights.
    resumed, _ = load_causal_lm(str(small_lm_dir), device="cpu")
    result = api.unlearn(resumed, tokenizer, FORGET, checkpoint_dir=tmp_path, resume=True, checkpoint_every=1, **kwargs)
    assert result.steps == state["step"]
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)


def test_forget_quality_is_worse_for_target_than_retrained(small_lm_dir, tmp_path_factory):
    """TOFU's premise: the model trained on the forget set is far from the retain-only one."""
    from reliant.core.tiny_lm import TinyLMSettings, build_tiny_lm
    from reliant.unlearning.metrics import forget_quality

    settings = TinyLMSettings(vocab_size=512, hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128, epochs=40, batch_size=16, warmup_steps=10)
    retrained_dir = build_tiny_lm(
        [qa_prompt(r["question"]) for r in RETAIN], [r["answer"] for r in RETAIN], name="test-retain",
        settings=settings, cache_dir=tmp_path_factory.mktemp("retrained"),
    )
    truth = {}
    for name, path in (("target", small_lm_dir), ("retrained", retrained_dir)):
        model, tokenizer = load_causal_lm(str(path), device="cpu")
        truth[name] = api.evaluate_tofu(model, tokenizer, {"forget": FORGET}, max_new_tokens=8).forget_truth_ratios()
    assert forget_quality(truth["target"], truth["retrained"]) < 0.05
    assert forget_quality(truth["retrained"], truth["retrained"]) == pytest.approx(1.0)


def test_shipped_tofu_and_templates():
    assert "forget05_perturbed" in api.tofu_names()
    assert len(api.load_tofu("forget05_perturbed")) == 200
    templates = api.load_templates()
    assert len(templates) == 100 and "I don't have that information." in templates


def test_bench_data_is_disjoint_and_sized():
    data = tofu_bench_data("forget05", eval_retain=50)
    assert len(data.forget) == 200 and len(data.retain_eval) == 50
    forget_q = {r["question"] for r in data.forget}
    assert not forget_q & {r["question"] for r in data.train_retrained + data.holdout}
    assert forget_q <= {r["question"] for r in data.train_target}
    assert bench_methods()[0] == "flat" and "retain_ft" not in bench_methods()


# ----------------------------------------------------------------- CLI


@pytest.fixture()
def qa_files(tmp_path):
    save_records(FORGET, tmp_path / "forget.jsonl")
    save_records(RETAIN, tmp_path / "retain.jsonl")
    return tmp_path


def run_cli(args, capsys=None):
    """Run the console entry point (one-line errors, exit 2) in-process."""
    import sys

    from reliant.cli import main

    argv = sys.argv
    sys.argv = ["reliant", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    finally:
        sys.argv = argv
    return code


def test_cli_run_writes_model_and_report(small_lm_dir, qa_files, tmp_path):
    out = tmp_path / "run"
    code = run_cli([
        "unlearn", "run", "--method", "gd", "--model", str(small_lm_dir), "--forget", str(qa_files / "forget.jsonl"),
        "--retain", str(qa_files / "retain.jsonl"), "--epochs", "1", "--lr", "5e-4", "--out", str(out),
    ])
    assert code == 0
    assert (out / "model" / "config.json").exists() and (out / "report.html").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["after"]) == {"forget", "retain"} and metrics["steps"] > 0
    assert "<img" in (out / "report.html").read_text()
    model, _ = load_causal_lm(str(out / "model"), device="cpu")


def test_cli_eval_on_shipped_tofu_with_retrained(small_lm_dir, tmp_path):
    out = tmp_path / "eval"
    code = run_cli([
        "unlearn", "eval", "--model", str(small_lm_dir), "--forget", "tofu:forget01_perturbed",
        "--retain", "tofu:forget01_perturbed", "--real-authors", "tofu:real_authors_perturbed",
        "--world-facts", "tofu:world_facts_perturbed", "--retrained-model", str(small_lm_dir), "--out", str(out),
    ])
    assert code == 0
    tofu = json.loads((out / "metrics.json").read_text())["tofu"]
    assert tofu["forget_quality"] == pytest.approx(1.0)
    assert 0 <= tofu["model_utility"] <= 1
    for key in ("paraphrased_probability", "perturbed_probability", "paraphrased_rouge_l_recall",
                "perturbed_rouge_l_recall", "truth_ratio_prob_mean", "exact_memorization", "extraction_strength"):
        assert 0 <= tofu[f"forget/{key}"] <= 1, key
    # The run wrote its evaluation as an OpenUnlearning retain log; using it instead of
    # re-evaluating the retain model gives the same forget quality.
    logs = json.loads((out / "TOFU_EVAL.json").read_text())
    assert len(logs["forget_truth_ratio"]["value_by_index"]) == 40
    again = tmp_path / "again"
    assert run_cli(["unlearn", "eval", "--model", str(small_lm_dir), "--forget", "tofu:forget01_perturbed",
                    "--retain-logs", str(out / "TOFU_EVAL.json"), "--out", str(again)]) == 0
    assert json.loads((again / "metrics.json").read_text())["tofu"]["forget_quality"] == pytest.approx(1.0)


@pytest.mark.slow  # 128-token VerbMem continuations of long news texts: minutes on 2 busy cores
@pytest.mark.skipif(not MUSE.exists(), reason="MUSE files not present")
def test_cli_eval_on_muse_files(small_lm_dir, tmp_path):
    subset = tmp_path / "muse"
    subset.mkdir()
    for name in ("knowmem_forget_qa", "knowmem_forget_qa_icl", "verbmem_forget", "privleak_forget", "privleak_holdout"):
        items = json.loads((MUSE / f"{name}.json").read_text())[:6]
        (subset / f"{name}.json").write_text(json.dumps(items))
    out = tmp_path / "eval"
    assert run_cli(["unlearn", "eval", "--model", str(small_lm_dir), "--muse", str(subset), "--retrained-model", str(small_lm_dir), "--out", str(out)]) == 0
    muse = json.loads((out / "metrics.json").read_text())["muse"]
    assert {"verbmem_forget", "knowmem_forget", "forget_holdout_auc", "privleak", "mia_loss", "mia_zlib", "mia_min_k",
            "mia_min_k_pp"} <= set(muse)
    assert muse["forget_holdout_auc"] == pytest.approx(1 - muse["mia_min_k"])
    assert 0 <= muse["verbmem_forget"] <= 100 and 0 <= muse["knowmem_forget"] <= 100  # MUSE's one scale
    assert muse["privleak"] == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("content", "extra", "expected"),
    [
        ('{"question": "q"}\n', [], "forget.jsonl:1: field 'answer': missing"),
        ('{"answer": "a"}\n', [], "forget.jsonl:1: field 'question': missing"),
        ("", [], "forget.jsonl: contains no records"),
        ('{"question": "q", "answer": "a"}\n', ["--divergence", "hellinger"], "field 'train.method_params.divergence': unknown value 'hellinger'"),
        ('{"question": "q", "answer": "a"}\n', ["--method", "magic"], "field 'train.method': unknown value 'magic'"),
        ('{"question": "q", "answer": "a"}\n', ["--method", "gd"], "needs --retain"),
        ('{"question": "q", "answer": "a"}\n', ["--reduction", "sum"], "field 'train.method_params.reduction': unknown value 'sum'"),
    ],
)
def test_cli_bad_inputs_exit_2_with_one_line(tmp_path, capsys, content, extra, expected):
    forget = tmp_path / "forget.jsonl"
    forget.write_text(content)
    out = tmp_path / "run"
    code = run_cli(["unlearn", "run", "--model", "tiny", "--forget", str(forget), "--out", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert expected in err and len(err.splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob(".run*"))


def test_cli_missing_forget_file(tmp_path, capsys):
    assert run_cli(["unlearn", "run", "--forget", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl: no such file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--split", "forget99"], "field 'split': unknown value 'forget99'"),
        (["--methods", "flat,magic"], "field 'methods': unknown value 'magic'"),
        (["--epochs", "0"], "field 'epochs'"),
        (["--epochs", "-1"], "field 'epochs'"),
        (["--lr", "-1"], "field 'lr'"),
        (["--lr", "0"], "field 'lr'"),
        (["--lr", "nan"], "field 'lr'"),
        (["--divergence", "bogus"], "field 'flat.divergence': unknown value 'bogus'"),
        (["--reduction", "bogus"], "field 'flat.reduction': unknown value 'bogus'"),
    ],
)
def test_cli_bench_rejects_bad_options_before_training(tmp_path, capsys, monkeypatch, extra, expected):
    from reliant.unlearning import bench

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(bench, "tofu_bench_data", no_training)
    monkeypatch.setattr(bench, "train_reference_models", no_training)
    out = tmp_path / "bench"
    assert run_cli(["unlearn", "bench", "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_cli_bench_runs_end_to_end_on_stand_in_models(small_lm_dir, tmp_path, monkeypatch):
    """The bench pipeline (stages, scoring, report) on the session's tiny LM and a few TOFU-
    format records standing in for the TOFU split; headlines compare each method with GA and
    the target with the retrained model, and every figure has a caption."""
    from reliant.unlearning import bench

    tofu = [dict(r) for r in api.load_tofu("forget01_perturbed")]
    data = bench.BenchData(train_target=[], train_retrained=RETAIN[:8], forget=tofu[:6], retain_eval=tofu[6:10],
                           real_authors=[dict(r) for r in api.load_tofu("real_authors_perturbed")][:4],
                           world_facts=[dict(r) for r in api.load_tofu("world_facts_perturbed")][:4],
                           holdout=tofu[10:16])
    monkeypatch.setattr(bench, "tofu_bench_data", lambda *a, **k: data)
    monkeypatch.setattr(bench, "train_reference_models", lambda *a, **k: (small_lm_dir, small_lm_dir))
    out = tmp_path / "bench"
    assert run_cli(["unlearn", "bench", "--split", "forget01", "--methods", "ga,flat", "--epochs", "1",
                    "--max-new-tokens", "4", "--samples", "1", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"target", "retrained", "ga", "flat"}
    assert metrics["methods"]["retrained"]["forget_quality"] == pytest.approx(1.0)
    import yaml

    recorded = yaml.safe_load((out / "config.yaml").read_text())
    assert recorded["methods"] == ["ga", "flat"] and recorded["flat"] == {"divergence": "kl", "reduction": "paper"}
    report = (out / "report.html").read_text()
    for group in ("Target (before) vs retrained (gold)", "FLAT vs GA", "GA vs before"):
        assert group in report
    assert report.count("<img") >= 2 and "Up and to the right is better" in report


def test_run_config_yaml_records_the_training_section(small_lm_dir, qa_files, tmp_path):
    out = tmp_path / "run"
    (tmp_path / "opts.yaml").write_text("train:\n  epochs: 1\n  method_params:\n    beta: 0.2\ntrain.lr: 5.0e-4\n")
    code = run_cli(["unlearn", "run", "--method", "npo_forget", "--model", str(small_lm_dir), "--forget",
                    str(qa_files / "forget.jsonl"), "--config", str(tmp_path / "opts.yaml"), "--no-save-model",
                    "--out", str(out)])
    assert code == 0
    import yaml

    recorded = yaml.safe_load((out / "config.yaml").read_text())
    assert recorded["train"]["method"] == "npo_forget" and recorded["train"]["epochs"] == 1
    assert recorded["train"]["lr"] == pytest.approx(5e-4) and recorded["train"]["method_params"]["beta"] == 0.2
    assert not (out / "model").exists()
