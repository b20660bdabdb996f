"""Rewards: exact, numeric and regex matching, the built-in verifiers (structured: right or wrong;
creative: validity x novelty within the group) and user Python rewards, on hand-made completions."""

import sys

import pytest
from pydantic import TypeAdapter

from tasks.base import Record
from tasks.build import BUILTIN_TASKS, REWARDS
from tasks.builtin import generate
from tasks.rewards import RewardError, last_number
from tasks.spec import RewardSpec, TaskSpec, reward_problem

_REWARD = TypeAdapter(RewardSpec)


def reward(builtin_name=None, base_dir=None, **data):
    return scoring(builtin_name, base_dir, **data)[0]


def extract(builtin_name=None, base_dir=None, **data):
    return scoring(builtin_name, base_dir, **data)[1]


def scoring(builtin_name=None, base_dir=None, **data):
    """(reward, extract) of a reward spec."""
    spec = _REWARD.validate_python(data)
    return REWARDS[spec.kind](spec, builtin_name, base_dir)


def rec(answer, prompt="q?", **meta):
    return Record(prompt, None, answer, meta)


@pytest.fixture(autouse=True)
def restore_sys_path(monkeypatch):
    """import_function adds folders to sys.path; undo that after each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))


# ------------------------------------------------------------------------------------------- exact


def test_exact_default_reads_after_the_last_arrow():
    score = reward(kind="exact")
    completions = ["132", " 132 \n", "7+5=12 => 13 => 132", "7+5=12 => 132", "132 => 13", "1320", "=> 132 apples"]
    assert score(rec("132"), completions) == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]


def test_exact_strips_the_reference():
    assert reward(kind="exact")(rec(" abc\n"), ["abc", "abc "]) == [1.0, 1.0]


def test_exact_custom_pattern_uses_group_one():
    score = reward(kind="exact", pattern=r"\\boxed\{([^}]*)\}")
    completions = [r"so \boxed{42}.", r"\boxed{ 42 }", r"\boxed{41}", "42", ""]
    assert score(rec("42"), completions) == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_exact_pattern_without_group_uses_whole_match():
    score = reward(kind="exact", pattern=r"[A-D]$")
    assert score(rec("C"), ["the answer is C", "C is wrong, B", "none"]) == [1.0, 0.0, 0.0]


def test_exact_ignore_case():
    assert reward(kind="exact")(rec("Paris"), ["paris", "Paris"]) == [0.0, 1.0]
    assert reward(kind="exact", ignore_case=True)(rec("Paris"), ["paris", "PARIS", "Pariss"]) == [1.0, 1.0, 0.0]
    score = reward(kind="exact", pattern=r"Answer: (\w+)", ignore_case=True)
    assert score(rec("Paris"), ["Answer: PARIS", "Answer: paRis", "Answer: Lyon"]) == [1.0, 1.0, 0.0]


def test_exact_needs_an_answer():
    with pytest.raises(RewardError, match="exact reward needs an answer for prompt 'what'"):
        reward(kind="exact")(Record("what"), ["x"])


def test_exact_pattern_whose_group_did_not_take_part_scores_zero():
    score = reward(kind="exact", pattern=r"answer is (\d+)|no answer")
    assert score(rec("42"), ["the answer is 42", "no answer"]) == [1.0, 0.0]


# ----------------------------------------------------------------------------------------- numeric


@pytest.mark.parametrize(
    "text, value",
    [
        ("72", 72.0),
        ("she sold 48 then 24, total 72.", 72.0),
        ("1,234.5 dollars", 1234.5),
        ("-3 degrees", -3.0),
        ("it costs .5", 0.5),
        ("10 - 3 = 7", 7.0),
        ("no digits", None),
        ("", None),
        (None, None),
    ],
)
def test_last_number(text, value):
    assert last_number(text) == value


def test_numeric_compares_the_last_number():
    score = reward(kind="numeric")
    completions = ["72", "first 3, then 72", "72.0", "The answer is 72.", "72 or 73", "seventy-two", "", "=> 1,072"]
    assert score(rec("72"), completions) == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]


def test_numeric_commas_in_completion_and_reference():
    score = reward(kind="numeric")
    assert score(rec("1,234"), ["1234", "1,234", "$1,234.00", "1,235"]) == [1.0, 1.0, 1.0, 0.0]


def test_numeric_gsm8k_style_reference():
    answer = (
        "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nAltogether she sold 48+24 = <<48+24=72>>72 clips.\n#### 72"
    )
    score = reward(kind="numeric")
    assert score(rec(answer), ["48 + 24 = 72", "#### 72", "24", "48+24"]) == [1.0, 1.0, 0.0, 0.0]


def test_numeric_tolerance():
    assert reward(kind="numeric")(rec("3.14159"), ["3.14159", "3.1416", "3.14159000001"]) == [1.0, 0.0, 1.0]
    loose = reward(kind="numeric", tolerance=0.01)
    assert loose(rec("3.14159"), ["3.14", "3.15", "3.152", "3.13"]) == [1.0, 1.0, 0.0, 0.0]


def test_numeric_reference_without_number_is_an_error():
    with pytest.raises(RewardError, match="numeric reward needs a number"):
        reward(kind="numeric")(rec("none"), ["1"])
    with pytest.raises(RewardError):
        reward(kind="numeric")(rec(None), ["1"])


# ------------------------------------------------------------------------------------------- regex


def test_regex_plain_search():
    score = reward(kind="regex", pattern=r"^\s*(yes|no)\b")
    assert score(rec(None), ["yes", "  no, because", "maybe yes", "nope"]) == [1.0, 1.0, 0.0, 0.0]


def test_regex_answer_substitution():
    score = reward(kind="regex", pattern=r"answer: {answer}$")
    completions = ["answer: Paris", "so answer: Paris", "answer: Paris!", "answer: Lyon"]
    assert score(rec("Paris"), completions) == [1.0, 1.0, 0.0, 0.0]


def test_regex_answer_is_escaped():
    score = reward(kind="regex", pattern=r"^{answer}$")
    # "3.5" must not match "3x5" (an unescaped dot would); "1+1" must match literally
    assert score(rec("3.5"), ["3.5", "3x5"]) == [1.0, 0.0]
    assert score(rec("1+1"), ["1+1", "11", "1+11"]) == [1.0, 0.0, 0.0]
    assert score(rec("(a)"), ["(a)", "a"]) == [1.0, 0.0]


# ----------------------------------------------------------------------------------------- builtin


WRONG = {
    "addition": lambda r: str(int(r.answer) + 1),
    "sort": lambda r: r.answer[::-1],
    "reverse": lambda r: r.answer + "x",
    "count": lambda r: str(int(r.answer) + 1),
    "word": lambda r: r.meta["first"] * (r.meta["n"] + 1),  # one letter too long
    "digits": lambda r: "9" * r.meta["n"] if 9 * r.meta["n"] != r.meta["sum"] else "0" * r.meta["n"],
}


def test_every_builtin_task_has_a_wrong_answer_case():
    assert set(WRONG) == set(BUILTIN_TASKS) == {"addition", "sort", "reverse", "count", "word", "digits"}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_builtin_verifier_scores_both_styles_and_wrong_answers(name):
    score = reward(kind="builtin", builtin_name=name)
    base = generate(BUILTIN_TASKS[name], "train", 15, seed=3, style="base")
    expert = generate(BUILTIN_TASKS[name], "train", 15, seed=3, style="expert")
    for b, e in zip(base, expert):
        assert b.prompt == e.prompt  # same problems, different demonstrations
        assert score(b, [b.completion]) == [1.0]
        assert score(e, [e.completion]) == [1.0]
        assert score(b, [WRONG[name](b)]) == [0.0]
        assert score(b, ["xyz => " + b.completion]) == [1.0]  # only the part after the last => counts
        assert score(b, [b.completion + " => "]) == [0.0]


@pytest.mark.parametrize(
    "name, record, right, wrong",
    [
        (
            "addition",
            Record("47+85=", None, "132", {"a": 47, "b": 85}),
            ["132", "7+5=12,4+8+1=13 => 132"],
            ["131", "132 => 13"],
        ),
        ("sort", Record("sort(dbca)=", None, "abcd"), ["abcd", "a<b<c<d => abcd"], ["dcba", "abc"]),
        ("reverse", Record("rev(hello)=", None, "olleh"), ["olleh", "o-l-l-e-h => olleh"], ["hello", "Olleh"]),
        (
            "count",
            Record("count(a,banana)=", None, "3", {"letter": "a", "text": "banana"}),
            ["3", "ba0 aa1 na1 aa2 na2 aa3 => 3"],
            ["2", "03"],
        ),
    ],
)
def test_builtin_structured_examples_from_the_docs(name, record, right, wrong):
    score = reward(kind="builtin", builtin_name=name)
    assert score(record, right + wrong) == [1.0] * len(right) + [0.0] * len(wrong)


def test_builtin_reward_needs_a_builtin_task():
    """The rule is `tasks.spec.reward_problem` (validate and build both ask it), at the reward's kind."""
    task = {"id": "t", "kind": "structured", "reward": {"kind": "builtin"}}
    on_file = TaskSpec.model_validate({**task, "source": {"kind": "jsonl", "path": "x.jsonl"}})
    path, message = reward_problem(on_file)
    assert path == ("reward", "kind") and "built-in source" in message
    two = {"source": {"kind": "builtin", "name": "sort"}, "eval": {"source": {"kind": "builtin", "name": "count"}}}
    assert reward_problem(TaskSpec.model_validate({**task, **two})) is not None  # RL and eval: two generators
    assert reward_problem(TaskSpec.model_validate({**task, "source": {"kind": "builtin", "name": "sort"}})) is None


WORD = Record("word(k..a,5)=", meta={"first": "k", "last": "a", "n": 5})
DIGITS = Record("digits(4,17)=", meta={"n": 4, "sum": 17})
CREATIVE = {
    # name: (record, 4 distinct valid answers, invalid answers)
    "word": (
        WORD,
        ["keloa", "kabca", "kzzza", "k-e-l-l-a => kella"],
        ["kelo", "Keloa", "keloz", "kel1a", "kéloa", "kelloa"],
    ),
    "digits": (
        DIGITS,
        ["8900", "0089", "4454", "9+8+0+0=17 => 9800"],
        ["890", "89000", "8901", "89 0", "-8900", "８900"],
    ),
}


@pytest.mark.parametrize("name", ["word", "digits"])
def test_creative_identical_valid_answers_share_the_reward(name):
    record, valid, _ = CREATIVE[name]
    score = reward(kind="builtin", builtin_name=name)
    assert score(record, [valid[0]] * 4) == [0.25] * 4
    assert score(record, [valid[0]] * 2) == [0.5, 0.5]
    assert score(record, [valid[0]]) == [1.0]


@pytest.mark.parametrize("name", ["word", "digits"])
def test_creative_distinct_valid_answers_each_get_one(name):
    record, valid, _ = CREATIVE[name]
    assert reward(kind="builtin", builtin_name=name)(record, valid) == [1.0] * 4


@pytest.mark.parametrize("name", ["word", "digits"])
def test_creative_invalid_answers_get_zero(name):
    record, _, invalid = CREATIVE[name]
    score = reward(kind="builtin", builtin_name=name)
    assert score(record, invalid) == [0.0] * len(invalid)
    assert score(record, [invalid[0]] * 4) == [0.0] * 4


@pytest.mark.parametrize("name", ["word", "digits"])
def test_creative_two_same_two_distinct(name):
    record, valid, invalid = CREATIVE[name]
    score = reward(kind="builtin", builtin_name=name)
    assert score(record, [valid[0], valid[0], valid[1], valid[2]]) == [0.5, 0.5, 1.0, 1.0]
    # an invalid answer scores 0 and does not dilute the valid ones
    assert score(record, [valid[0], invalid[0], valid[1], invalid[0]]) == [1.0, 0.0, 1.0, 0.0]


def test_creative_novelty_compares_final_answers_across_styles():
    # "k-e-l-o-a => keloa" and "keloa" are the same answer: 0.5 each
    score = reward(kind="builtin", builtin_name="word")
    assert score(WORD, ["k-e-l-o-a => keloa", "keloa", "kappa"]) == [0.5, 0.5, 1.0]


# ------------------------------------------------------------------------------------------ python


def test_python_reward_gets_completion_and_record_dict(tmp_path, monkeypatch):
    (tmp_path / "user_reward_mod.py").write_text(
        "CALLS = []\n"
        "def score(completion, record):\n"
        "    CALLS.append((completion, record))\n"
        "    return len(completion) / 10 if record['answer'] in completion else 0\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "user_reward_mod", raising=False)

    score = reward(kind="python", function="user_reward_mod:score")
    record = Record("2+2=", "4", "4", {"level": 1})

    assert score(record, ["4", "it is 4", "5"]) == [0.1, 0.7, 0.0]
    calls = sys.modules["user_reward_mod"].CALLS
    assert [c for c, _ in calls] == ["4", "it is 4", "5"]
    assert calls[0][1] == {"prompt": "2+2=", "completion": "4", "answer": "4", "level": 1}


def test_python_reward_module_next_to_the_catalog_is_found(tmp_path, monkeypatch):
    (tmp_path / "user_reward_beside.py").write_text(
        "def score(completion, record):\n    return 0.25 if completion == record['prompt'] else -1\n"
    )
    monkeypatch.delitem(sys.modules, "user_reward_beside", raising=False)
    score = reward(kind="python", function="user_reward_beside:score", base_dir=tmp_path)
    assert score(Record("echo"), ["echo", "other"]) == [0.25, -1.0]


def test_python_reward_bad_function_is_a_reward_error():
    with pytest.raises(RewardError, match="expected `package.module:function`"):
        reward(kind="python", function="nocolon")
    with pytest.raises(RewardError, match="cannot import 'no_such_reward_mod_xyz'"):
        reward(kind="python", function="no_such_reward_mod_xyz:f")


# ------------------------------------------------------------------------------------- answer extraction


def test_each_reward_reads_the_answer_part_it_grades():
    """`extract` is what the eval's `unique` counts distinct: the answer as the reward reads it."""
    # exact: the text after the last `=>`, or the pattern's first group
    assert extract(kind="exact")("work: 7+5=12 => 12 ") == "12"
    assert extract(kind="exact", pattern=r"#### (\d+)")("so 3 + 4 = 7 #### 7") == "7"
    assert extract(kind="exact", pattern=r"#### (\d+)")("no marker") == ""
    assert extract(kind="exact", ignore_case=True)("=> Paris") == extract(kind="exact", ignore_case=True)("=> paris")
    # numeric: the last number, so two wordings of one answer are one answer, and 12.0 is 12
    numeric = extract(kind="numeric")
    assert numeric("The answer is 12.") == numeric("so 5 + 7 = 12.0") == "12"
    assert numeric("1,234.5 apples") == "1234.5"
    assert numeric("1234567") != numeric("1234568")  # every digit counts (not 6 significant ones)
    assert numeric("x = 0.1") == "0.1" and numeric("-3") == "-3"
    assert numeric("  no number  ") == "no number"
    # regex and python read the whole completion; builtin tasks their `=>` answer
    assert extract(kind="regex", pattern="a")(" whole text ") == "whole text"
    assert extract("sort", kind="builtin")("work: a<b<c => abc") == "abc"
