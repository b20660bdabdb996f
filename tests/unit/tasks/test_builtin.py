"""Built-in task generators: deterministic, disjoint train/test splits, base and expert demonstrations.
(`build_task`: test_build.py.)"""

import random
import re

import pytest

from tasks.base import Record, final_answer
from tasks.build import BUILTIN_TASKS
from tasks.builtin import generate, split_of

STRUCTURED = ["addition", "count", "reverse", "sort"]
CREATIVE = ["digits", "word"]
ALL = STRUCTURED + CREATIVE

PROMPT_FORMS = {
    "addition": r"\d{1,2}\+\d{1,2}=",
    "sort": r"sort\([a-z]{3,9}\)=",
    "reverse": r"rev\([a-z]{3,10}\)=",
    "count": r"count\([a-f],[a-f]{5,10}\)=",
    "word": r"word\([a-z]\.\.[a-z],[3-7]\)=",
    "digits": r"digits\([3-8],\d{1,2}\)=",
}


def rows_of(records):
    return [(r.prompt, r.completion, r.answer) for r in records]


def correct(name, record, completion):
    """The completion's final answer is right: equal to the answer, or valid for a creative task."""
    got = final_answer(completion)
    return got == record.answer if record.answer is not None else BUILTIN_TASKS[name].check(record, got)


# --------------------------------------------------------------------------------------- generators


def test_builtin_registry_has_the_six_tasks_with_their_kinds():
    assert {name: gen.kind for name, gen in BUILTIN_TASKS.items()} == {
        "addition": "structured",
        "sort": "structured",
        "reverse": "structured",
        "count": "structured",
        "word": "creative",
        "digits": "creative",
    }


@pytest.mark.parametrize("name", ALL)
def test_generation_is_deterministic_for_seed_and_split(name):
    gen = BUILTIN_TASKS[name]
    first = generate(gen, "train", 25, seed=11, style="expert")
    assert rows_of(first) == rows_of(generate(gen, "train", 25, seed=11, style="expert"))
    assert [r.meta for r in first] == [r.meta for r in generate(gen, "train", 25, seed=11, style="expert")]
    assert len(first) == 25
    assert all(re.fullmatch(PROMPT_FORMS[name], r.prompt) for r in first)


@pytest.mark.parametrize("name", ALL)
def test_generation_differs_across_seeds_and_splits(name):
    gen = BUILTIN_TASKS[name]
    seed0 = [r.prompt for r in generate(gen, "train", 25, seed=0)]
    assert seed0 != [r.prompt for r in generate(gen, "train", 25, seed=1)]
    assert seed0 != [r.prompt for r in generate(gen, "test", 25, seed=0)]


@pytest.mark.parametrize("name", ALL)
def test_train_and_test_prompts_never_overlap(name):
    gen = BUILTIN_TASKS[name]
    train = {r.prompt for seed in (0, 1) for r in generate(gen, "train", 300, seed)}
    test = {r.prompt for seed in (0, 1) for r in generate(gen, "test", 300, seed)}
    assert train and test
    assert train.isdisjoint(test)
    assert {split_of(p) for p in train} == {"train"}
    assert {split_of(p) for p in test} == {"test"}


@pytest.mark.parametrize("name", ["addition", "sort", "reverse", "count", "word"])
def test_prompts_are_distinct_while_the_space_allows(name):
    prompts = [r.prompt for r in generate(BUILTIN_TASKS[name], "train", 300, seed=2)]
    assert len(set(prompts)) == 300


def test_small_creative_space_repeats_instead_of_looping_forever():
    # digits has ~40 distinct test prompts: asking for more repeats them
    records = generate(BUILTIN_TASKS["digits"], "test", 60, seed=0)
    assert len(records) == 60
    assert 30 <= len({r.prompt for r in records}) < 60


def test_unknown_split_is_a_value_error():
    with pytest.raises(ValueError, match="splits train, test; got 'validation'"):
        generate(BUILTIN_TASKS["sort"], "validation", 1, seed=0)


@pytest.mark.parametrize("name", ALL)
def test_base_and_expert_demonstrations_are_right_and_differ_in_form(name):
    gen = BUILTIN_TASKS[name]
    base = generate(gen, "train", 40, seed=5, style="base")
    expert = generate(gen, "train", 40, seed=5, style="expert")
    assert [r.prompt for r in base] == [r.prompt for r in expert]  # the style changes demonstrations only
    for b, e in zip(base, expert):
        assert correct(name, b, b.completion), b
        assert correct(name, e, e.completion), e
        assert "=>" not in b.completion
        assert final_answer(b.completion) == b.completion
        assert e.completion.count(" => ") == 1
        assert e.completion != b.completion
        if b.answer is not None:
            assert b.completion == b.answer
            assert e.completion.endswith(f" => {e.answer}")


@pytest.mark.parametrize(
    "name, record, base, expert",
    [
        ("addition", Record("47+85=", None, "132", {"a": 47, "b": 85}), "132", "7+5=12,4+8+1=13 => 132"),
        ("addition", Record("5+98=", None, "103", {"a": 5, "b": 98}), "103", "5+8=13,0+9+1=10 => 103"),
        ("addition", Record("0+0=", None, "0", {"a": 0, "b": 0}), "0", "0+0=0 => 0"),
        ("sort", Record("sort(dbca)=", None, "abcd"), "abcd", "a<b<c<d => abcd"),
        ("reverse", Record("rev(hello)=", None, "olleh"), "olleh", "o-l-l-e-h => olleh"),
        (
            "count",
            Record("count(a,banana)=", None, "3", {"letter": "a", "text": "banana"}),
            "3",
            "ba0 aa1 na1 aa2 na2 aa3 => 3",
        ),
    ],
)
def test_structured_demonstrations_match_the_documented_forms(name, record, base, expert):
    gen, rng = BUILTIN_TASKS[name], random.Random(0)
    assert gen.solve(record, "base", rng) == base
    assert gen.solve(record, "expert", rng) == expert


@pytest.mark.parametrize("name", STRUCTURED)
def test_structured_problems_carry_the_right_answer(name):
    for r in generate(BUILTIN_TASKS[name], "test", 50, seed=1):
        inner = r.prompt[r.prompt.index("(") + 1 : -2] if "(" in r.prompt else r.prompt[:-1]
        assert r.answer == _expected_answer(name, inner), r.prompt


def _expected_answer(name: str, inner: str) -> str:
    """The answer worked out independently from the prompt's text."""
    if name == "addition":
        return str(sum(map(int, inner.split("+"))))
    if name == "sort":
        return "".join(sorted(inner))
    if name == "reverse":
        return inner[::-1]
    letter, text = inner.split(",")
    return str(text.count(letter))


@pytest.mark.parametrize("name", CREATIVE)
def test_creative_demonstrations_fit_the_prompt(name):
    for r in generate(BUILTIN_TASKS[name], "train", 50, seed=9, style="expert"):
        answer = final_answer(r.completion)
        assert r.answer is None
        if name == "word":
            first, last, n = re.fullmatch(r"word\((.)\.\.(.),(\d)\)=", r.prompt).groups()
            assert (answer[0], answer[-1], len(answer)) == (first, last, int(n))
            assert r.completion == "work: " + "-".join(answer) + f" => {answer}"
        else:
            n, total = map(int, re.fullmatch(r"digits\((\d),(\d+)\)=", r.prompt).groups())
            assert len(answer) == n and sum(map(int, answer)) == total
            assert n + 2 <= total <= 8 * n - 2
            assert r.completion == "work: " + "+".join(answer) + f"={total} => {answer}"
