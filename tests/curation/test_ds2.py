"""DS2: rating parsing, compression, curation, long-tail score and selection rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reliant.curation.api import (
    agreement,
    clusterable_features,
    compress_rating,
    curate_scores,
    long_tail_scores,
    make_transition,
    mean_pairwise_cosine_distance,
    neighbor_graph,
    parse_rating,
    rate_samples,
    rate_samples_with_replies,
    rating_prompt,
    select_ds2,
    select_random,
    select_score_diversity,
    select_score_threshold,
)
from reliant.curation.neighbors import NeighborGraph

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
DS2_SCORES = SHARED / "ds2_scores"


@pytest.mark.parametrize(("text", "overall"), [
    ('{"rarity": 3, "complexity": 4, "informativeness": 6, "overall": 7}', 7),
    ('Sure! Here it is: {"overall": "9", "rarity": 2} Hope that helps.', 9),
    ('{"overall": 11}', None),
    ('{"overall": 6.5}', None),
    ("no json here", None),
    ('{"rarity": 5} then {"overall": 4}', 4),
    ("", None),
])
def test_parse_rating(text, overall):
    parsed = parse_rating(text)
    assert (parsed or {}).get("overall") == overall


def test_compress_rating_levels():
    assert [compress_rating(v) for v in [1, 4, 5, 6, 7, 8, 9, 10, None]] == [0, 0, 1, 2, 3, 4, 5, 5, 0]


class FakeBackend:
    """Replies in turn from a script per prompt, to test retries."""

    def __init__(self, scripts):
        self.scripts = scripts
        self.calls = []

    def chat(self, chats, **kwargs):
        self.calls.append((len(chats), kwargs["temperature"]))
        replies = []
        for chat in chats:
            key = chat[-1]["content"]
            replies.append([self.scripts[key].pop(0)])
        return replies


def test_rate_samples_retries_unparsable_replies():
    records = [{"instruction": f"task {i}", "input": "", "output": "answer"} for i in range(3)]
    prompts = [rating_prompt(r) for r in records]
    backend = FakeBackend({
        prompts[0]: ['{"overall": 8}'],
        prompts[1]: ["garbage", '{"overall": 10, "rarity": 3}'],
        prompts[2]: ["nope", "still nope", "never"],
    })
    scores, ratings = rate_samples(records, backend, max_retries=2)
    assert scores.tolist() == [4, 5, 0]
    assert ratings[1] == {"overall": 10, "rarity": 3} and ratings[2] is None
    assert backend.calls == [(3, 0.0), (2, 0.7), (1, 0.7)]
    backend = FakeBackend({prompts[0]: ['{"overall": 8}'], prompts[1]: ["garbage", '{"overall": 10}'],
                           prompts[2]: ["nope", "still nope", "never"]})
    _, _, replies = rate_samples_with_replies(records, backend, max_retries=2)
    assert replies == [None, None, "never"]  # the last reply of the record that never parsed, only
    assert "task 0" in prompts[0] and "not overly concentrated" in prompts[0]
    assert "(none)" in rating_prompt(records[0], prompt="reliant")


def test_long_tail_score_by_hand():
    graph = NeighborGraph(sims=np.array([[0.9, 0.7], [0.8, 0.8], [0.2, 0.0]], dtype=np.float32),
                          idx=np.array([[1, 2], [0, 2], [0, 1]]), backend="exact")
    d = np.array([0.2, 0.2, 0.9])  # mean cosine distances
    expected = d / (d + 0.2)
    assert long_tail_scores(graph, 2) == pytest.approx(expected)
    assert long_tail_scores(graph, 2)[0] == pytest.approx(0.5)


def test_select_ds2_levels_first_then_long_tail():
    curated = np.array([5, 4, 5, 3, 4, 4])
    long_tail = np.array([0.1, 0.9, 0.2, 0.99, 0.3, 0.5])
    assert select_ds2(curated, long_tail, 4).tolist() == [0, 1, 2, 5]
    assert select_ds2(curated, long_tail, 100).tolist() == list(range(6))


def test_baselines():
    raw = np.array([0, 5, 5, 3, 1])
    assert select_score_threshold(raw, 2).tolist() == [1, 2]
    assert len(select_random(5, 3, seed=1)) == 3
    emb = np.array([[1, 0], [1, 0.01], [0, 1], [0.7, 0.7], [-1, 0]], dtype=np.float32)
    chosen = select_score_diversity(np.array([5, 5, 4, 3, 0]), emb, 3, max_similarity=0.9, seed=0)
    # rows 0 and 1 are near duplicates: only one of them is kept
    assert len(set(chosen.tolist()) & {0, 1}) == 1 and 2 in chosen and len(chosen) == 3


def test_agreement_and_diversity_by_hand():
    a = agreement(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 0]))
    assert a["exact"] == 0.5 and a["within_one"] == 0.75
    chance = (0.25 * 0.5) + (0.25 * 0) + (0.5 * 0.5)
    assert a["kappa"] == pytest.approx((0.5 - chance) / (1 - chance))
    assert mean_pairwise_cosine_distance(np.array([[1, 0], [0, 1]])) == pytest.approx(1.0)


def test_curation_moves_scores_towards_the_truth():
    T = make_transition(6, 0.35, "random", seed=2)
    data = clusterable_features(2400, 6, T, dim=32, seed=2)
    graph = neighbor_graph(data.features, 16)
    curation = curate_scores(data.noisy, graph, seed=0)
    before = np.mean(data.noisy == data.clean)
    after = np.mean(curation.curated == data.clean)
    assert after > before + 0.2
    assert np.array_equal(curation.changed, curation.detection.flagged & (curation.detection.confidence >= 0.5))


@pytest.mark.slow
@pytest.mark.skipif(not DS2_SCORES.exists(), reason="DS2 released scores not present")
def test_real_ds2_scores_rater_agreement_is_low():
    """The three released raters agree exactly on only about a third of the pool."""
    names = ["gpt-4o-mini", "llama-3.1-8b-instruct", "mistral-7b-v0.3-instruct"]
    scores = [np.load(DS2_SCORES / f"{n}.npy").astype(np.int64) for n in names]
    assert all(len(s) == 300932 and s.min() >= 0 and s.max() <= 5 for s in scores)
    exact = agreement(scores[0], scores[1])["exact"]
    assert 0.2 < exact < 0.45
