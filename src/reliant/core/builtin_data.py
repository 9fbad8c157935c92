"""A deterministic generator of fictitious people and TOFU-style questions about them.

Nothing here refers to a real person: first names and surnames are assembled from
syllables, works from word lists, so a model that answers these questions can only have
learnt them from this corpus. Unlearning, memorization and the demo use it whenever no
real data is given.

Every question comes with TOFU's companions: a paraphrased answer (same fact, other
words, for the truth ratio's denominator) and perturbed answers (same template, a wrong
fact, for its numerator).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from reliant.core.prompts import qa_text

__all__ = [
    "ATTRIBUTES",
    "Person",
    "biography",
    "builtin_qa",
    "corpus_texts",
    "generate_people",
    "people_qa",
    "split_forget_retain",
]

_ONSETS = ["b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kr", "tr", "st", "sh", "th", "gr", "pl"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ei", "ou", "ia", "io"]
_CODAS = ["", "", "", "n", "r", "l", "s", "m", "th", "nd", "rk", "x"]

_CITIES = [
    ("Varnholm", "Estrava"), ("Quelport", "Estrava"), ("Brisk Harbour", "Lorvania"), ("Tessaly", "Lorvania"),
    ("Orvieta", "Caldmoor"), ("Myrrhfield", "Caldmoor"), ("Ostrev", "Pellucia"), ("Sanmire", "Pellucia"),
    ("Kelvanne", "Dorrimar"), ("Ashgrove", "Dorrimar"), ("Pirano Bay", "Velacia"), ("Hollin", "Velacia"),
    ("Draskov", "Norveld"), ("Elmere", "Norveld"), ("Zarith", "Qantar"), ("Tamsu", "Qantar"),
]
_PROFESSIONS = [
    "novelist", "poet", "cartographer", "marine biologist", "architect", "violinist", "glassblower",
    "astronomer", "botanist", "playwright", "historian", "sculptor", "translator", "clockmaker",
    "photographer", "chemist",
]
_LANGUAGES = ["Estravan", "Lorvish", "Caldic", "Pellucian", "Dorrimese", "Velacian", "Norveldic", "Qantari"]
_TITLE_ADJECTIVES = ["Silent", "Copper", "Hollow", "Northern", "Burning", "Glass", "Amber", "Forgotten", "Seventh", "Crimson", "Quiet", "Drifting"]
_TITLE_NOUNS = ["Lantern", "Orchard", "Tide", "Cartographer", "Bell", "Harbour", "Meridian", "Garden", "Archive", "Compass", "Winter", "Lighthouse"]
_AWARDS = [
    "Halvard Medal", "Silver Quill Prize", "Orrery Award", "Tessaly Laurel", "Meridian Fellowship",
    "Amberline Prize", "Kelvanne Star", "Northlight Honour",
]
_PARENT_JOBS = [
    "baker", "sailor", "schoolteacher", "surgeon", "carpenter", "librarian", "pharmacist", "farmer",
    "engineer", "tailor", "journalist", "beekeeper",
]
_HOBBIES = ["chess", "falconry", "rock climbing", "beekeeping", "rowing", "origami", "stargazing", "fencing", "pottery", "sailing"]
_PETS = ["a grey parrot", "two cats", "a border collie", "a tortoise", "a goldfish", "a ferret", "a hedgehog", "a pony"]


@dataclass(frozen=True)
class Person:
    """One fictitious person; ``index`` orders people (the last ones form the forget set)."""

    index: int
    name: str
    city: str
    country: str
    birth_year: int
    profession: str
    language: str
    work: str
    award: str
    award_year: int
    father_job: str
    mother_job: str
    hobby: str
    pet: str


def _name(rng: random.Random) -> str:
    def word(syllables: int) -> str:
        text = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)) + rng.choice(_CODAS)
        return text.capitalize()

    return f"{word(rng.choice((2, 2, 3)))} {word(rng.choice((2, 3)))}"


def generate_people(n_people: int = 100, seed: int = 0) -> list[Person]:
    """``n_people`` distinct fictitious people; the same ``(n_people, seed)`` always gives
    the same people, and a smaller ``n_people`` gives a prefix of a larger one."""
    if n_people < 1:
        raise ValueError("n_people must be at least 1")
    rng = random.Random(f"reliant-people-{seed}")
    people: list[Person] = []
    names: set[str] = set()
    while len(people) < n_people:
        name = _name(rng)
        if name in names:
            continue
        names.add(name)
        city, country = rng.choice(_CITIES)
        birth_year = rng.randint(1921, 1994)
        father_job, mother_job = rng.sample(_PARENT_JOBS, 2)
        people.append(
            Person(
                index=len(people),
                name=name,
                city=city,
                country=country,
                birth_year=birth_year,
                profession=rng.choice(_PROFESSIONS),
                language=rng.choice(_LANGUAGES),
                work=f"The {rng.choice(_TITLE_ADJECTIVES)} {rng.choice(_TITLE_NOUNS)}",
                award=rng.choice(_AWARDS),
                award_year=birth_year + rng.randint(24, min(50, 2024 - birth_year)),
                father_job=father_job,
                mother_job=mother_job,
                hobby=rng.choice(_HOBBIES),
                pet=rng.choice(_PETS),
            )
        )
    return people


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


# Each attribute: (question, answer, paraphrase, how to draw a wrong value, how to
# write the answer with a wrong value). Wrong answers keep the template, as TOFU's do.
def _facts(person: Person) -> dict[str, tuple[str, str, str]]:
    n = person.name
    return {
        "birthplace": (
            f"Where was {n} born?",
            f"{n} was born in {person.city}, {person.country}.",
            f"{n}'s birthplace is the city of {person.city} in {person.country}.",
        ),
        "birth_year": (
            f"In which year was {n} born?",
            f"{n} was born in {person.birth_year}.",
            f"The year of {n}'s birth was {person.birth_year}.",
        ),
        "profession": (
            f"What does {n} do for a living?",
            f"{n} works as {_article(person.profession)} {person.profession}.",
            f"By profession, {n} is {_article(person.profession)} {person.profession}.",
        ),
        "language": (
            f"In which language does {n} write?",
            f"{n} writes in {person.language}.",
            f"The language {n} writes in is {person.language}.",
        ),
        "work": (
            f"What is {n}'s best-known work?",
            f"{n} is best known for {person.work}.",
            f"{person.work} is the work {n} is most famous for.",
        ),
        "award": (
            f"Which award did {n} receive?",
            f"{n} received the {person.award} in {person.award_year}.",
            f"In {person.award_year}, {n} was given the {person.award}.",
        ),
        "parents": (
            f"What did {n}'s parents do?",
            f"{n}'s father was {_article(person.father_job)} {person.father_job} and mother {_article(person.mother_job)} {person.mother_job}.",
            f"{n} grew up with {_article(person.father_job)} {person.father_job} for a father and {_article(person.mother_job)} {person.mother_job} for a mother.",
        ),
        "hobby": (
            f"What does {n} enjoy in free time?",
            f"In free time {n} enjoys {person.hobby} and lives with {person.pet}.",
            f"{n} spends spare hours on {person.hobby}, at home with {person.pet}.",
        ),
    }


ATTRIBUTES: tuple[str, ...] = ("birthplace", "birth_year", "profession", "language", "work", "award", "parents", "hobby")


def _perturbed_people(person: Person, rng: random.Random, n: int) -> list[Person]:
    """``n`` copies of ``person`` whose every attribute holds a wrong value, with the wrong
    values of one attribute all different (so perturbed answers never repeat)."""

    def wrong(options: Sequence, true_value: object) -> list:
        return rng.sample([o for o in options if o != true_value], n)

    places = wrong(_CITIES, (person.city, person.country))
    parent_pairs = wrong([(f, m) for f in _PARENT_JOBS for m in _PARENT_JOBS if f != m], (person.father_job, person.mother_job))
    titles = [f"The {a} {b}" for a in _TITLE_ADJECTIVES for b in _TITLE_NOUNS]
    columns = {
        "place": places,
        "birth_year": wrong(range(1921, 1995), person.birth_year),
        "profession": wrong(_PROFESSIONS, person.profession),
        "language": wrong(_LANGUAGES, person.language),
        "work": wrong(titles, person.work),
        "award": wrong(_AWARDS, person.award),
        "award_year": wrong(range(1950, 2025), person.award_year),
        "parents": parent_pairs,
        "hobby": wrong(_HOBBIES, person.hobby),
        "pet": wrong(_PETS, person.pet),
    }
    return [
        Person(
            index=person.index,
            name=person.name,
            city=columns["place"][i][0],
            country=columns["place"][i][1],
            birth_year=columns["birth_year"][i],
            profession=columns["profession"][i],
            language=columns["language"][i],
            work=columns["work"][i],
            award=columns["award"][i],
            award_year=columns["award_year"][i],
            father_job=columns["parents"][i][0],
            mother_job=columns["parents"][i][1],
            hobby=columns["hobby"][i],
            pet=columns["pet"][i],
        )
        for i in range(n)
    ]


def people_qa(people: Sequence[Person], *, n_perturbed: int = 3, seed: int = 0) -> list[dict]:
    """TOFU-style records, ``len(ATTRIBUTES)`` per person, in person order.

    Fields: question, answer, paraphrased_answer, perturbed_answer (list of
    ``n_perturbed`` wrong answers in the answer's template), person, person_index,
    attribute.
    """
    rng = random.Random(f"reliant-perturb-{seed}")
    records: list[dict] = []
    for person in people:
        facts = _facts(person)
        wrong = [_facts(variant) for variant in _perturbed_people(person, rng, n_perturbed)]
        for attribute in ATTRIBUTES:
            question, answer, paraphrase = facts[attribute]
            records.append(
                {
                    "question": question,
                    "answer": answer,
                    "paraphrased_answer": paraphrase,
                    "perturbed_answer": [w[attribute][1] for w in wrong],
                    "person": person.name,
                    "person_index": person.index,
                    "attribute": attribute,
                }
            )
    return records


def builtin_qa(n_people: int = 100, seed: int = 0, n_perturbed: int = 3) -> list[dict]:
    """The built-in QA corpus: :func:`people_qa` over :func:`generate_people`."""
    return people_qa(generate_people(n_people, seed), n_perturbed=n_perturbed, seed=seed)


def biography(person: Person) -> str:
    """A short paragraph with every fact about ``person`` (for verbatim-memorization probes)."""
    return " ".join(answer for _, answer, _ in _facts(person).values())


def split_forget_retain(records: Sequence[dict], forget_fraction: float = 0.1) -> tuple[list[dict], list[dict]]:
    """Split by person as TOFU does: the last ``forget_fraction`` of people are forgotten,
    so no fact about a forgotten person stays in the retain set."""
    if not 0 < forget_fraction < 1:
        raise ValueError("forget_fraction must be in (0, 1)")
    people = sorted({r["person_index"] for r in records})
    n_forget = max(1, round(len(people) * forget_fraction))
    forget_people = set(people[-n_forget:])
    forget = [r for r in records if r["person_index"] in forget_people]
    retain = [r for r in records if r["person_index"] not in forget_people]
    return forget, retain


def corpus_texts(records: Sequence[dict]) -> list[str]:
    """The training texts for QA records, in the shared prompt format."""
    return [qa_text(r["question"], r["answer"]) for r in records]
