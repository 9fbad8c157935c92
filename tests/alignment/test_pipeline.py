"""End to end on a tiny LM: one round fine-tunes with TRL and changes the weights; the run folder
holds per-round samples, the adapter and the evaluation; a resumed run reuses finished stages."""

from __future__ import annotations

import json

import pytest

from reliant.alignment.inputs import Sample
from reliant.alignment.judge import FEWLFilter, Judge
from reliant.core.llm import LLMBackend
from tests.cli_runner import run_main


class _ScoringBackend:
    """Scores 'Yes' high for requests that mention 'good' (a stand-in for an LLM)."""

    def render_chat(self, messages):
        return messages[-1]["content"] + "\nAssistant:"

    def logprobs(self, prompts, continuations):
        return [[-0.1] if (("good" in p) == (c.strip() == "Yes")) else [-3.0] for p, c in zip(prompts, continuations)]


def test_judge_scores_are_log_yes_minus_log_no():
    scores = Judge(_ScoringBackend(), "Is it good?").scores([("a good request", "answer"), ("a bad one", "answer")])
    assert scores == pytest.approx([2.9, 2.9])  # the question itself says "good", so both prompts do
    scores = Judge(_ScoringBackend(), "Is it fine?").scores([("a good request", "x"), ("a bad one", "x")])
    assert scores == pytest.approx([2.9, -2.9])


class _Answerer(LLMBackend):
    """Answers each question from a fixed map; writes 'wrong' answers to FEWL's IW prompts."""

    name = "answerer"

    def __init__(self, answers):
        self.answers = answers

    def generate(self, prompts, *, max_new_tokens=128, temperature=0.0, top_p=1.0, n=1, seed=None, stop=None):
        out = []
        for p in prompts:
            if "intentionally wrong" in p:
                out.append(["Bananas are a kind of fish."] * n)
            else:  # the question itself, or the correction of a wrong answer to it
                out.append([next(v for k, v in self.answers.items() if k in p)] * n)
        return out

    def logprobs(self, prompts, continuations):
        raise NotImplementedError


TRUE_ANSWERS = {
    "capital of France": "Paris is the capital of France.",
    "legs does a spider": "A spider has eight legs.",
    "colour is a clear": "A clear daytime sky is blue.",
    "closest to the sun": "Mercury is the planet closest to the sun.",
}


@pytest.mark.parametrize("wrong_llm", [True, False])
def test_fewl_filter_ranks_answers_the_references_back_above_unrelated_ones(wrong_llm):
    pairs = [("What is the capital of France?", "The capital of France is Paris."),
             ("How many legs does a spider have?", "Bananas grow in tropical climates."),
             ("What colour is a clear daytime sky?", "The daytime sky is blue when it is clear."),
             ("Which planet is closest to the sun?", "Pianos have eighty-eight keys.")]
    backend = _Answerer(TRUE_ANSWERS)
    fewl = FEWLFilter([backend], backend if wrong_llm else None, n_wrong=2)
    scores = fewl.scores(pairs)
    assert min(scores[0], scores[2]) > max(scores[1], scores[3])
    assert fewl.last_result.qa.references[0] == ["Paris is the capital of France."]
    assert bool(fewl.last_result.qa.wrong[0]) is wrong_llm
    assert fewl.scores([]) == []
    assert len(fewl.scores(pairs[:1])) == 1  # a lone sample: scored without the laziness penalty


def test_one_round_fine_tunes_and_changes_the_weights(small_lm_dir, small_lm):
    import torch

    from reliant.alignment.config import SFTSettings
    from reliant.alignment.sft import fine_tune
    from reliant.core.models import load_causal_lm

    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    samples = [Sample(f"Who is person {i}?", f"Person {i} is a violinist from Bell.") for i in range(6)]
    ids = tokenizer(["Question: Who is person 1?\nAnswer:"], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        before = model(ids).logits.clone()
    tuned, result = fine_tune(model, tokenizer, samples, SFTSettings(epochs=2, batch_size=3, lr=5e-3),
                              "unused", seed=0, device="cpu")
    assert result.steps == 4 and result.tokens > 0 and len(result.losses) == 4
    with torch.no_grad():
        after = tuned(ids).logits
    assert not torch.allclose(before, after)
    lora_b = [p for n, p in tuned.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # LoRA B starts at zero


@pytest.mark.slow
def test_isara_command_end_to_end_and_resume(small_lm_dir, tmp_path, capsys):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"prompt": f"Tell me about person {i}", "response": f"Person {i} plays "
                                         "the violin in Bell."}) + "\n" for i in range(6)))
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps({"instruction": f"Describe town {i}", "input": "", "output": f"Town {i} is "
                                        "near the sea."}) + "\n" for i in range(5)))
    out = tmp_path / "run"
    args = ["align", "isara", "--model", str(small_lm_dir), "--seeds", str(seeds), "--pool", str(pool),
            "--rounds", "1", "--generations", "3", "--eval-limit", "3", "--eval-max-new-tokens", "8",
            "--max-new-tokens", "24", "--epochs", "1", "--baselines", "base,seed_sft", "--device", "cpu",
            "--out", str(out)]
    assert run_main(args) == 0, capsys.readouterr().err
    for name in ("config.yaml", "metrics.json", "report.html", "base/eval.json", "seed_sft/adapter",
                 "round-1/generated.jsonl", "round-1/kept.jsonl", "round-1/rejected.jsonl", "round-1/adapter",
                 "round-1/eval_samples.jsonl", "metric_per_round.png"):
        assert (out / name).exists(), name
    generated = [json.loads(line) for line in (out / "round-1" / "generated.jsonl").read_text().splitlines()]
    rejected = [json.loads(line) for line in (out / "round-1" / "rejected.jsonl").read_text().splitlines()]
    kept = (out / "round-1" / "kept.jsonl").read_text().splitlines()
    assert len(generated) == 3 and len(kept) + len(rejected) == 3
    assert all(row["reason"] for row in rejected)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["stages"]) == {"base", "seed_sft", "round-1"}
    # The checkpoints outlive the run; --resume with the same options reuses every stage.
    assert (tmp_path / "run.checkpoints" / "round-1" / "eval.json").is_file()
    assert run_main([*args, "--overwrite", "--resume"]) == 0, capsys.readouterr().err
    assert json.loads((out / "metrics.json").read_text())["stages"] == metrics["stages"]
    # Different options against the same checkpoints are refused in one line.
    assert run_main([*args[:-2], "--generations", "4", "--out", str(out), "--overwrite", "--resume"]) == 2
    assert "options differ" in capsys.readouterr().err


def test_truthfulness_evaluation_reports_mc_and_generation(small_lm_dir):
    from reliant.alignment.evaluation import Prompter, evaluate
    from reliant.alignment.inputs import load_eval_items
    from reliant.core.models import load_causal_lm

    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    items = load_eval_items("truthfulness", None, 3)
    metrics, samples = evaluate("truthfulness", model, tokenizer, items, Prompter(tokenizer), max_new_tokens=8,
                                batch_size=4, device="cpu")
    assert 0.0 <= metrics["mc1"] <= 1.0 and 0.0 < metrics["mc2"] < 1.0
    for key in ("gen_rougeL_acc", "gen_rougeL_diff", "gen_sim_acc", "gen_sim_diff", "gen_empty_answers"):
        assert key in metrics, key
    assert len(samples) == 3 and all("answer" in s and "mc_choice" in s for s in samples)


@pytest.mark.slow
def test_isara_command_with_the_fewl_filter(small_lm_dir, tmp_path, capsys, monkeypatch):
    from reliant.alignment import isara

    questions = ["Who is the violinist of Bell?", "Where is the town by the sea?", "What does person two play?",
                 "Which river runs through Bell?"]

    def fixed_candidates(backend, prompts, **_):
        # The generator's text is not under test here; FEWL's ranking of four parsed samples is.
        return [isara.Candidate(raw="", shots=shots, prompt=q, response=f"The answer to that is {i}.")
                for i, ((_, shots), q) in enumerate(zip(prompts, questions))]

    monkeypatch.setattr(isara, "generate_candidates", fixed_candidates)
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"prompt": f"Tell me about person {i}", "response": f"Person {i} plays "
                                         "the violin in Bell."}) + "\n" for i in range(6)))
    pool = tmp_path / "pool.jsonl"
    pool.write_text(json.dumps({"instruction": "Describe the town", "input": "", "output": "It is by the sea."}) + "\n")
    out = tmp_path / "run"
    args = ["align", "isara", "--model", str(small_lm_dir), "--seeds", str(seeds), "--pool", str(pool),
            "--rounds", "1", "--generations", "4", "--eval-limit", "2", "--eval-max-new-tokens", "4",
            "--epochs", "1", "--baselines", "", "--judge", "none", "--fewl-references", "self",
            "--fewl-wrong-llm", "self", "--fewl-n-wrong", "1", "--fewl-max-new-tokens", "8", "--fewl-keep", "0.5",
            "--device", "cpu", "--out", str(out)]
    assert run_main(args) == 0, capsys.readouterr().err
    kept = [json.loads(line) for line in (out / "round-1" / "kept.jsonl").read_text().splitlines()]
    rejected = [json.loads(line) for line in (out / "round-1" / "rejected.jsonl").read_text().splitlines()]
    assert len(kept) == 2 and len(rejected) == 2
    assert all(row["reason"].startswith("FEWL: score ") for row in rejected)
    assert min(r["fewl_score"] for r in kept) >= max(r["fewl_score"] for r in rejected)
    row = json.loads((out / "metrics.json").read_text())["rounds"][0]
    assert row["rejected_fewl"] == 2 and row["kept"] == 2
    assert "FEWL" in (out / "report.html").read_text()
