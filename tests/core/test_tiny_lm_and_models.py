import json

import pytest
import torch

from reliant.core.builtin_data import builtin_qa
from reliant.core.errors import UserError
from reliant.core.models import (
    IGNORE_INDEX,
    LoraSettings,
    answer_token_logprobs,
    apply_lora,
    build_qa_batch,
    encode_prompt_answer,
    greedy_generate,
    load_causal_lm,
    mean_answer_nll,
)
from reliant.core.prompts import qa_prompt, qa_text
from reliant.core.tiny_lm import TinyLMSettings, build_tiny_lm, cache_root, resolve_tiny_name

RECORDS = builtin_qa(n_people=10)
PROMPTS = [qa_prompt(r["question"]) for r in RECORDS]
ANSWERS = [r["answer"] for r in RECORDS]


def test_small_lm_recalls_its_training_answers(small_lm):
    model, tokenizer = small_lm
    generated = greedy_generate(model, tokenizer, PROMPTS, max_new_tokens=40, batch_size=32)
    recall = sum(g == a for g, a in zip(generated, ANSWERS)) / len(ANSWERS)
    assert recall >= 0.9


def test_trained_answers_beat_perturbed_ones(small_lm):
    model, tokenizer = small_lm
    true_nll = mean_answer_nll(model, tokenizer, PROMPTS, ANSWERS)
    wrong_nll = mean_answer_nll(model, tokenizer, PROMPTS, [r["perturbed_answer"][0] for r in RECORDS])
    assert sum(t < w for t, w in zip(true_nll, wrong_nll)) / len(true_nll) > 0.9


def test_build_is_cached_and_recorded(small_lm_dir, tmp_path):
    info = json.loads((small_lm_dir / "tiny_lm.json").read_text())
    assert info["examples"] == len(RECORDS)
    history = json.loads((small_lm_dir / "train_history.json").read_text())["loss"]
    assert history[-1] < history[0] / 10
    assert not list(small_lm_dir.parent.glob("*.partial"))


def test_same_data_same_directory_without_training(monkeypatch, tmp_path):
    settings = TinyLMSettings(vocab_size=300, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, epochs=1, batch_size=8)
    first = build_tiny_lm(PROMPTS[:8], ANSWERS[:8], name="cachetest", settings=settings, cache_dir=tmp_path)
    import reliant.core.tiny_lm as tiny_lm

    monkeypatch.setattr(tiny_lm, "train_causal_lm", lambda *a, **k: pytest.fail("retrained a cached model"))
    assert build_tiny_lm(PROMPTS[:8], ANSWERS[:8], name="cachetest", settings=settings, cache_dir=tmp_path) == first
    with pytest.raises(BaseException):
        build_tiny_lm(PROMPTS[:9], ANSWERS[:9], name="cachetest", settings=settings, cache_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.name]


def test_named_tiny_models_resolve(monkeypatch, tmp_path):
    monkeypatch.setenv("RELIANT_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    settings = TinyLMSettings(vocab_size=300, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, epochs=1, batch_size=8)
    built = build_tiny_lm(PROMPTS[:8], ANSWERS[:8], name="mine", settings=settings)
    assert resolve_tiny_name("tiny:mine") == built
    model, tokenizer = load_causal_lm("tiny:mine", device="cpu")
    assert model.config.hidden_size == 32
    with pytest.raises(UserError, match="no tiny LM named 'other'"):
        resolve_tiny_name("tiny:other")


def test_bad_model_names_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_causal_lm(str(tmp_path / "missing"))
    (tmp_path / "weights.bin").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        load_causal_lm(str(tmp_path / "weights.bin"))
    with pytest.raises(UserError, match="no config.json"):
        load_causal_lm(str(tmp_path))


def test_answer_boundary_and_training_labels(small_lm):
    _, tokenizer = small_lm
    ids, start = encode_prompt_answer(tokenizer, PROMPTS[0], ANSWERS[0])
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids[start:]).strip() == ANSWERS[0]
    assert tokenizer.decode(ids, skip_special_tokens=True) == qa_text(RECORDS[0]["question"], ANSWERS[0])
    batch = build_qa_batch(tokenizer, PROMPTS[:3], ANSWERS[:3], max_length=128)
    labels = batch["labels"]
    assert (labels[:, :start] == IGNORE_INDEX).all()
    for row in range(3):
        scored = labels[row][labels[row] != IGNORE_INDEX].tolist()
        assert scored[-1] == tokenizer.eos_token_id
        assert tokenizer.decode(scored[:-1]).strip() == ANSWERS[row]


def test_batched_scores_equal_one_at_a_time(small_lm):
    model, tokenizer = small_lm
    batched = answer_token_logprobs(model, tokenizer, PROMPTS[:12], ANSWERS[:12], batch_size=5)
    for i in range(12):
        alone = answer_token_logprobs(model, tokenizer, [PROMPTS[i]], [ANSWERS[i]], batch_size=1)[0]
        torch.testing.assert_close(batched[i], alone, atol=1e-4, rtol=1e-4)
    whole_text = answer_token_logprobs(model, tokenizer, [""], [ANSWERS[0]])[0]
    assert len(whole_text) == len(tokenizer(ANSWERS[0], add_special_tokens=False)["input_ids"])


def test_greedy_generation_is_batch_independent(small_lm):
    model, tokenizer = small_lm
    batched = greedy_generate(model, tokenizer, PROMPTS[:6], max_new_tokens=20, batch_size=6)
    alone = [greedy_generate(model, tokenizer, [p], max_new_tokens=20, batch_size=1)[0] for p in PROMPTS[:6]]
    assert batched == alone


def test_lora_trains_only_adapters(small_lm_dir):
    model, _ = load_causal_lm(str(small_lm_dir), device="cpu")
    wrapped = apply_lora(model, LoraSettings(r=4))
    trainable = [n for n, p in wrapped.named_parameters() if p.requires_grad]
    assert trainable and all("lora" in n for n in trainable)


@pytest.mark.slow
def test_default_tiny_lm_recalls_built_in_corpus():
    """The product promise: the default tiny LM really learned the built-in corpus."""
    model, tokenizer = load_causal_lm("tiny", device="cpu")
    records = builtin_qa(n_people=100)
    generated = greedy_generate(model, tokenizer, [qa_prompt(r["question"]) for r in records], max_new_tokens=48, batch_size=64)
    recall = sum(g == r["answer"] for g, r in zip(generated, records)) / len(records)
    assert recall >= 0.9
