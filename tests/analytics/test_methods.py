"""Decomposition, citation support, c-TF-IDF, metrics and article loading: plain functions, by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from reliant.analytics.decompose import decompose
from reliant.analytics.inputs import load_articles
from reliant.analytics.metrics import citation_precision, date_accuracy, recall_at_k
from reliant.analytics.support import split_sentences, support
from reliant.analytics.trends import ctfidf_labels, period_of
from reliant.core.errors import DataError


def test_decompose_comparisons_and_multi_part_questions():
    assert decompose("Compare unemployment in 2008 and 2009") == [
        "What happened to unemployment in 2008?", "What happened to unemployment in 2009?"]
    assert decompose("Who bought Merrill Lynch? When did Lehman fail?") == ["Who bought Merrill Lynch?",
                                                                           "When did Lehman fail?"]
    # a part without its own time inherits the question's
    assert decompose("What did GM announce in 2008 and how did Ford respond?")[1] == "How did Ford respond in 2008?"
    assert decompose("What did GM and Ford announce in 2008?") == ["What did GM and Ford announce in 2008?"]


ARTICLE = ("IndyMac Bank was closed on Friday by regulators. The bank had assets of $32 billion. "
           "Depositors queued outside branches in Pasadena.")


def test_support_accepts_a_faithful_sentence_and_rejects_wrong_numbers_and_topics():
    assert support("The bank had assets of $32 billion.", ARTICLE).supported
    wrong_number = support("The bank had assets of $45 billion.", ARTICLE)
    assert not wrong_number.supported and wrong_number.missing_numbers == ("45",)
    assert not support("Apple launched a new phone in Tokyo.", ARTICLE).supported
    assert split_sentences(ARTICLE)[1] == "The bank had assets of $32 billion."


def test_ctfidf_matches_the_formula_by_hand():
    # topic 0: "oil oil price", topic 1: "bank price"; A = mean words per topic = (3 + 2) / 2
    labels = ctfidf_labels([["oil oil price"], ["bank price"]], top_n=3)
    a = 2.5
    expected0 = {"oil": 2 * math.log(1 + a / 2), "price": 1 * math.log(1 + a / 2)}
    assert dict(labels[0]) == pytest.approx(expected0)
    assert labels[1][0] == ("bank", pytest.approx(math.log(1 + a / 1)))


def test_periods_and_metrics():
    import datetime as dt

    day = dt.date(2008, 8, 3)
    assert (period_of(day, "year"), period_of(day, "quarter"), period_of(day, "month")) == ("2008", "2008-Q3", "2008-08")
    assert recall_at_k(["a", "x", "b"], {"a", "b"}, 1) == 1.0
    assert recall_at_k(["a", "x", "b"], {"a", "b"}, 2) == 0.5
    assert recall_at_k(["a", "x", "b"], {"a", "b", "c", "d"}, 3) == pytest.approx(2 / 3)
    days = [dt.date(2008, 1, 5), dt.date(2007, 1, 1)]
    assert date_accuracy(days, dt.date(2008, 1, 1), dt.date(2008, 1, 31), 2) == 0.5
    assert citation_precision(["a", "b"], {"a"}) == 0.5 and citation_precision([], {"a"}) is None


def _write(tmp_path, rows):
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_articles_load_and_keep_the_day(tmp_path):
    rows = [{"id": 1, "date": "1987-02-26T15:01:01.790", "title": "COCOA", "text": ""},
            {"id": "b", "date": "2008-01-02", "title": "", "text": "Body only."}]
    articles = load_articles(_write(tmp_path, rows))
    assert [a.id for a in articles] == ["1", "b"] and str(articles[0].day) == "1987-02-26"
    assert articles[0].content_hash != articles[1].content_hash


@pytest.mark.parametrize("row, expected", [
    ({"id": "a", "title": "t", "text": "x"}, "field 'date': missing"),
    ({"id": "a", "date": None, "title": "t", "text": "x"}, "field 'date': missing"),
    ({"id": "a", "date": "03/04/2008", "title": "t", "text": "x"}, "not ISO 8601"),
    ({"id": "a", "date": "2008-02-30", "title": "t", "text": "x"}, "not a valid ISO 8601 date"),
    ({"id": "a", "date": "2008-02-03", "title": "", "text": ""}, "neither a title nor a text"),
    ({"id": "", "date": "2008-02-03", "title": "t"}, "field 'id'"),
])
def test_bad_articles_name_line_and_field(tmp_path, row, expected):
    good = {"id": "z", "date": "2008-01-01", "title": "t", "text": "x"}
    with pytest.raises(DataError) as info:
        load_articles(_write(tmp_path, [good, row]))
    assert expected in str(info.value) and ":2:" in str(info.value)


def test_duplicate_ids_are_refused(tmp_path):
    row = {"id": "a", "date": "2008-01-01", "title": "t", "text": "x"}
    with pytest.raises(DataError, match="used twice"):
        load_articles(_write(tmp_path, [row, row]))
