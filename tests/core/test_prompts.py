"""Prompt formats: the chat template for instruct models, the plain QA format for tiny LMs."""

from __future__ import annotations

from reliant.core.prompts import few_shot_prompt, qa_prompt, question_prompt


class ChatTokenizer:
    """The part of a tokenizer the prompt helpers use, with a ChatML-style template."""

    chat_template = "chatml"

    def apply_chat_template(self, messages, chat_template, tokenize, add_generation_prompt):
        assert chat_template == "chatml" and not tokenize
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


class PlainTokenizer:
    chat_template = None


def test_question_prompt_uses_the_chat_template_when_there_is_one():
    assert question_prompt(ChatTokenizer(), " Who? ") == "<|im_start|>user\nWho?<|im_end|>\n<|im_start|>assistant\n"
    assert question_prompt(PlainTokenizer(), "Who?") == qa_prompt("Who?") == "Question: Who?\nAnswer:"


def test_few_shot_prompt_turns_shots_into_earlier_turns():
    shots = [("1+1?", "2"), ("2+2?", "4")]
    chat = few_shot_prompt(ChatTokenizer(), shots, "3+3?")
    assert chat == ("<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n2<|im_end|>\n"
                    "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n"
                    "<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n")
    plain = few_shot_prompt(PlainTokenizer(), shots, "3+3?")
    assert plain == "Question: 1+1?\nAnswer: 2\n\nQuestion: 2+2?\nAnswer: 4\n\nQuestion: 3+3?\nAnswer:"
    assert few_shot_prompt(PlainTokenizer(), [], "3+3?") == qa_prompt("3+3?")
