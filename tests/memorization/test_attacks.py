"""The attack registry (GradNorm, ReCaLL, DC-PDD, RMIA, neighbourhood beside the older five),
their formulas by hand, exact/extrapolated canary exposure, and auditing a model behind an
OpenAI-compatible completions endpoint (a fake server on 127.0.0.1)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from reliant.core.llm import LLMBackend
from reliant.memorization import metrics as M
from reliant.memorization.api import ATTACK_REGISTRY, ATTACKS, MIAParams, audit_lm
from reliant.memorization.config import ATTACK_NAMES, DEFAULT_ATTACKS
from reliant.memorization.inputs import Example
from tests.hallucination.test_cli import JSONHandler, serve
from tests.memorization.test_cli import qa_files, untrained_reference  # noqa: F401 (fixtures)


def test_registry_matches_config_and_keeps_old_names():
    assert tuple(ATTACK_REGISTRY) == ATTACK_NAMES
    assert ATTACKS == ("loss", "zlib", "reference", "min_k", "min_k_pp")  # the unlearning MIA suite's names
    assert "neighbourhood" not in DEFAULT_ATTACKS


# --------------------------------------------------------------------------- formulas by hand


def test_recall_dc_pdd_rmia_by_hand():
    assert M.recall_score([-3.0, -1.0], [-1.0, -1.0]) == pytest.approx(2.0)
    freq = M.token_frequencies([[0, 0, 1]], vocab_size=3)  # counts 2,1,0 -> (c+1)/(3+3)
    assert freq == pytest.approx([3 / 6, 2 / 6, 1 / 6])
    # tokens 1, 0, 1: first occurrences are positions 0 and 1
    alpha = [math.exp(-0.1) * -math.log(2 / 6), math.exp(-2.0) * -math.log(3 / 6)]
    assert M.dc_pdd_score([-0.1, -2.0, -0.5], [1, 0, 1], freq, bound=10) == pytest.approx(np.mean(alpha))
    assert M.dc_pdd_score([-0.1, -2.0, -0.5], [1, 0, 1], freq, bound=0.01) == pytest.approx(0.01)
    # RMIA, a = 1: p(x) = p_ref(x), LR = target / reference
    target, reference = np.array([0.8, 0.2, 0.4, 0.1]), np.array([0.4, 0.4, 0.4, 0.4])
    population = np.array([False, False, True, True])  # LRs of z: 1.0, 0.25
    scores = M.rmia_scores(target, reference, population, a=1.0, gamma=1.0)
    # x0 (LR 2) beats both z; x1 (LR 0.5) beats 0.25 only; z themselves: leave-one-out
    assert scores == pytest.approx([1.0, 0.5, 1.0, 0.0])


def test_extrapolated_exposure_passes_the_sampled_cap():
    rng = np.random.default_rng(0)
    sample = rng.normal(40.0, 3.0, size=999)
    cap = math.log2(1000)
    assert M.exposure_sampled(10.0, sample) == pytest.approx(cap)  # every strong canary reads 9.97 bits
    assert M.exposure_extrapolated(10.0, sample) > 2 * cap
    # a canary in the middle of the sample: about 1 bit either way
    assert M.exposure_extrapolated(40.0, sample) == pytest.approx(1.0, abs=0.2)


def test_default_candidates_enumerate_four_digit_secrets():
    from reliant.memorization.canaries import Canary, _candidate_secrets

    rng = np.random.default_rng(0)
    four = _candidate_secrets(Canary("p", "4 0 7 1"), 10_000, rng)
    assert four[1] and len(four[0]) == 9_999  # exact: log2(10^4) = 13.29 bits reachable
    six = _candidate_secrets(Canary("p", "1 2 3 4 5 6"), 10_000, rng)
    assert not six[1] and len(six[0]) == 10_000 and "1 2 3 4 5 6" not in six[0]


@pytest.mark.slow
def test_canary_exposure_is_exact_by_default_up_to_1e5(small_lm_dir):
    from reliant.core.models import load_causal_lm
    from reliant.memorization.canaries import Canary, canary_exposure

    model, tokenizer = load_causal_lm(str(small_lm_dir))
    canaries = [Canary("The secret code is", "4 0 7 1")]
    exact = canary_exposure(model, tokenizer, canaries)
    assert exact.exact and exact.max_exposure == pytest.approx(math.log2(10**4))  # 13.29 bits, not 9.97
    sampled = canary_exposure(model, tokenizer, canaries, n_candidates=199, exact_up_to=10, extrapolate=False)
    assert not sampled.exact and sampled.max_exposure == pytest.approx(math.log2(200))
    fitted = canary_exposure(model, tokenizer, canaries, n_candidates=199, exact_up_to=10)
    assert fitted.max_exposure == pytest.approx(math.log2(10**4))
    assert abs(fitted.exposure[0] - exact.exposure[0]) < 3  # the fit estimates the exact value


# --------------------------------------------------------------------------- every attack on a local LM


class _Paraphraser(LLMBackend):
    """Swaps word order: a cheap, deterministic "paraphrase"."""

    name = "fake-paraphraser"

    def generate(self, prompts, *, n=1, **_):
        return [[" ".join(reversed(p.rsplit("\n\n", 1)[-1].split())) + f" {i}" for i in range(n)] for p in prompts]

    def logprobs(self, prompts, continuations):
        raise AssertionError("not used")


def _examples(folder, name):
    from reliant.memorization.inputs import load_examples

    return load_examples(folder / name)


def test_every_registered_attack_runs_on_a_local_lm(small_lm_dir, untrained_reference, qa_files):
    members, nonmembers = _examples(qa_files, "members.jsonl"), _examples(qa_files, "nonmembers.jsonl")
    result = audit_lm(str(small_lm_dir), members, nonmembers, reference=str(untrained_reference),
                      attacks=list(ATTACK_NAMES), params=MIAParams(recall_shots=3, n_neighbours=2),
                      paraphraser=_Paraphraser(), n_boot=0, device="cpu")
    assert set(result.summary) == set(ATTACK_NAMES) and not result.extra["skipped_attacks"]
    for attack in ATTACK_NAMES:
        assert np.isfinite(result.member_scores[attack]).all(), attack
        assert len(result.nonmember_scores[attack]) == len(nonmembers) - 3  # ReCaLL's prefix left out
    # the small LM memorised its members: the gradient is smaller there (GradNorm) and the
    # member's likelihood stands out against the reference (RMIA)
    assert result.summary["gradnorm"]["auroc"] > 0.7
    assert result.summary["rmia"]["auroc"] > 0.7
    assert any("0.1% FPR" in w for w in result.extra["warnings"])
    # every text's paraphrases are kept beside its scores, in the order of the rows
    rows = result.per_example_rows()
    assert len(rows) == len(result.members) + len(result.nonmembers)
    for row, example in zip(rows, list(result.members) + list(result.nonmembers)):
        words = " ".join(reversed(example.target.split()))
        assert [n.rsplit(" ", 1)[1] for n in row["neighbours"]] == ["0", "1"] and words in row["neighbours"][0]


# --------------------------------------------------------------------------- an API model


MEMBER_MARK = "Paris"


class _CompletionsHandler(JSONHandler):
    """/v1/completions with echo: one token per character; a text containing the member mark
    gets log-probability -0.1 per character, others -2 (a model that "memorised" members)."""

    def reply(self, body):
        text = body["prompt"]
        value = -0.1 if MEMBER_MARK in text else -2.0
        logprobs = [None] + [value] * (len(text) - 1)
        return {"choices": [{"index": 0, "text": text,
                             "logprobs": {"token_logprobs": logprobs, "text_offset": list(range(len(text))),
                                          "tokens": list(text)}}]}


@pytest.fixture()
def completions_server():
    with serve(_CompletionsHandler) as url:
        yield url


def test_audit_a_model_behind_a_completions_endpoint(completions_server, tmp_path):
    from tests.cli_runner import run_main

    members = [{"text": f"Visitor {i} went to {MEMBER_MARK} in spring."} for i in range(12)]
    nonmembers = [{"text": f"Visitor {i} went to Lyon in spring."} for i in range(12)]
    for name, rows in (("m.jsonl", members), ("n.jsonl", nonmembers)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    code = run_main(["memorization", "audit", "--model", f"openai:fake@{completions_server}?mode=completions",
                     "--members", str(tmp_path / "m.jsonl"), "--nonmembers", str(tmp_path / "n.jsonl"),
                     "--recall-shots", "2", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"loss", "zlib", "min_k", "recall"} <= set(metrics["attacks"])
    assert metrics["attacks"]["loss"]["auroc"] == pytest.approx(1.0)
    assert set(metrics["skipped_attacks"]) == {"min_k_pp", "gradnorm", "dc_pdd", "reference", "rmia"}
    assert "extraction" not in metrics
    assert "skipped" in (out / "report.html").read_text()


def test_api_statistics_score_after_the_first_word():
    from reliant.memorization.lm import api_token_statistics

    class Recorder(LLMBackend):
        name = "recorder"

        def generate(self, prompts, **_):
            raise AssertionError

        def logprobs(self, prompts, continuations):
            self.seen = list(zip(prompts, continuations))
            return [[-1.0] for _ in prompts]

    backend = Recorder()
    stats = api_token_statistics(backend, [Example("", "one two three"), Example("Question: q\nAnswer:", "a")])
    assert backend.seen == [("one ", "two three"), ("Question: q\nAnswer:", "a")]
    assert stats[0].means is None and stats[0].logprobs.tolist() == [-1.0]
