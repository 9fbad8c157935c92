from reliant.core.builtin_data import (
    ATTRIBUTES,
    biography,
    builtin_qa,
    corpus_texts,
    generate_people,
    split_forget_retain,
)


def test_deterministic_and_prefix_stable():
    assert builtin_qa(20, seed=3) == builtin_qa(20, seed=3)
    assert builtin_qa(5) == builtin_qa(50)[: 5 * len(ATTRIBUTES)]
    assert builtin_qa(5, seed=1) != builtin_qa(5, seed=2)


def test_records_have_tofu_fields_and_distinct_wrong_answers():
    records = builtin_qa(30)
    assert len(records) == 30 * len(ATTRIBUTES)
    for r in records:
        assert r["person"] in r["question"] and r["person"] in r["answer"]
        assert r["paraphrased_answer"] != r["answer"]
        assert len(set(r["perturbed_answer"])) == 3 and r["answer"] not in r["perturbed_answer"]


def test_people_are_unique_and_plausible():
    people = generate_people(200)
    assert len({p.name for p in people}) == 200
    assert all(p.birth_year + 20 <= p.award_year <= 2024 for p in people)
    assert all(p.father_job != p.mother_job for p in people)
    assert people[0].name in biography(people[0])


def test_split_by_person_leaves_no_forget_fact_in_retain():
    records = builtin_qa(40)
    forget, retain = split_forget_retain(records, 0.1)
    assert len(forget) == 4 * len(ATTRIBUTES)
    assert {r["person"] for r in forget}.isdisjoint({r["person"] for r in retain})
    assert corpus_texts(forget[:1])[0].startswith("Question: ")
