"""tasks.build.build_task: rows of each part (sizes, held-out eval prompts, seeded order), rewards, errors."""

import sys

import pytest
from helpers import write_jsonl

from tasks.build import BUILTIN_DEFAULT_SIZE, TaskBuildError, build_task
from tasks.builtin import split_of
from tasks.spec import TaskSpec

STRUCTURED = ["addition", "count", "reverse", "sort"]
CREATIVE = ["digits", "word"]


def rows_of(records):
    return [(r.prompt, r.completion, r.answer) for r in records]


pytestmark = pytest.mark.usefixtures("restore_sys_path")  # import_function adds folders to sys.path


# --------------------------------------------------------------------------------------- build_task


def task(**data):
    """A task spec with defaults for the keys a test does not care about."""
    return TaskSpec.model_validate({"id": "t", "kind": "structured", "reward": {"kind": "exact"}, **data})


def qa_rows(n, with_completion=True):
    return [
        {"prompt": f"{i}*3=", "answer": str(3 * i), **({"completion": f"{i}*3 => {3 * i}"} if with_completion else {})}
        for i in range(n)
    ]


def test_build_builtin_gives_requested_sizes_and_holds_out_eval(tmp_path):
    spec = task(
        id="add",
        source={"kind": "builtin", "name": "addition", "style": "expert"},
        sft={"size": 30},
        rl={"size": 20},
        eval={"size": 10},
        reward={"kind": "builtin"},
        requires=["warmup"],
        weight=2.5,
    )
    t = build_task(spec, seed=0, base_dir=tmp_path)

    assert (t.id, t.kind, t.weight, t.requires) == ("add", "structured", 2.5, ["warmup"])
    assert (len(t.sft), len(t.rl), len(t.eval)) == (30, 20, 10)
    eval_prompts = {r.prompt for r in t.eval}
    assert len(eval_prompts) == 10
    assert eval_prompts.isdisjoint(r.prompt for r in t.sft + t.rl)
    assert {split_of(r.prompt) for r in t.eval} == {"test"}
    assert {split_of(r.prompt) for r in t.sft + t.rl} == {"train"}
    assert all(r.completion is not None and " => " in r.completion for r in t.sft)
    # the reward is the built-in verifier
    assert t.reward(t.eval[0], [t.eval[0].answer, "nope"]) == [1.0, 0.0]


def test_build_is_deterministic_and_seeded(tmp_path):
    spec = task(source={"kind": "builtin", "name": "sort"}, sft={"size": 12}, rl={"size": 12}, eval={"size": 6})
    a, b = build_task(spec, 4, tmp_path), build_task(spec, 4, tmp_path)
    c = build_task(spec, 5, tmp_path)
    assert [rows_of(x) for x in (a.sft, a.rl, a.eval)] == [rows_of(x) for x in (b.sft, b.rl, b.eval)]
    assert rows_of(a.eval) != rows_of(c.eval)
    assert rows_of(a.sft) != rows_of(c.sft)


def test_build_builtin_eval_on_training_split_is_held_out(tmp_path):
    spec = task(
        source={"kind": "builtin", "name": "reverse"},
        sft={"size": 25},
        rl={"size": 15},
        eval={"split": "train", "size": 10},
    )
    t = build_task(spec, 0, tmp_path)
    assert (len(t.sft), len(t.rl), len(t.eval)) == (25, 15, 10)
    assert {r.prompt for r in t.eval}.isdisjoint(r.prompt for r in t.sft + t.rl)


def test_build_creative_builtin_task(tmp_path):
    spec = task(
        kind="creative",
        source={"kind": "builtin", "name": "word"},
        sft={"size": 40},
        rl={"size": 40},
        eval={"size": 8},
        reward={"kind": "builtin"},
    )
    t = build_task(spec, 0, tmp_path)
    assert (t.kind, len(t.sft), len(t.rl), len(t.eval)) == ("creative", 40, 40, 8)
    assert all(r.answer is None for r in t.sft + t.rl + t.eval)
    assert t.reward(t.eval[0], [t.eval[0].completion] * 2) == [0.5, 0.5]


def test_build_builtin_null_size_makes_generated_rows(tmp_path):
    spec = task(source={"kind": "builtin", "name": "addition"}, rl={"size": 0}, eval={"size": 5})
    t = build_task(spec, 0, tmp_path)
    assert (len(t.sft), len(t.rl), len(t.eval)) == (BUILTIN_DEFAULT_SIZE, 0, 5)


def test_build_builtin_null_size_does_not_depend_on_other_parts(tmp_path):
    both_null = build_task(task(source={"kind": "builtin", "name": "addition"}, eval={"size": 5}), 0, tmp_path)
    rl_sized = build_task(
        task(source={"kind": "builtin", "name": "addition"}, rl={"size": 10}, eval={"size": 5}), 0, tmp_path
    )
    # today: 4000 / 4000 and 2010 / 10
    assert (len(both_null.sft), len(both_null.rl)) == (BUILTIN_DEFAULT_SIZE, BUILTIN_DEFAULT_SIZE)
    assert (len(rl_sized.sft), len(rl_sized.rl)) == (BUILTIN_DEFAULT_SIZE, 10)


def test_file_eval_on_train_split_holds_out_the_eval_rows(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", qa_rows(20))
    spec = task(source={"kind": "jsonl", "path": "data.jsonl"}, eval={"split": "train", "size": 5})

    t = build_task(spec, 0, tmp_path)

    eval_p, sft_p, rl_p = ({r.prompt for r in x} for x in (t.eval, t.sft, t.rl))
    assert (len(t.eval), len(t.sft), len(t.rl)) == (5, 15, 15)
    assert eval_p.isdisjoint(sft_p) and eval_p.isdisjoint(rl_p)
    assert eval_p | sft_p == {f"{i}*3=" for i in range(20)}
    assert sft_p == rl_p


def test_file_eval_order_is_a_seeded_shuffle(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", qa_rows(20))
    spec = task(source={"kind": "jsonl", "path": "data.jsonl"}, eval={"split": "train", "size": 5})
    first = [r.prompt for r in build_task(spec, 0, tmp_path).eval]
    assert first == [r.prompt for r in build_task(spec, 0, tmp_path).eval]
    assert first != [f"{i}*3=" for i in range(5)]  # not simply the head of the file
    assert first != [r.prompt for r in build_task(spec, 1, tmp_path).eval]


def test_eval_prompts_from_another_file_are_removed_from_training(tmp_path):
    rows = qa_rows(20)
    write_jsonl(tmp_path / "train.jsonl", rows)
    write_jsonl(tmp_path / "test.jsonl", rows[:3])  # contaminated: the same prompts as 3 training rows
    spec = task(source={"kind": "jsonl", "path": {"train": "train.jsonl", "test": "test.jsonl"}}, eval={"size": 3})

    t = build_task(spec, 0, tmp_path)

    assert {r.prompt for r in t.eval} == {"0*3=", "1*3=", "2*3="}
    assert len(t.sft) == len(t.rl) == 17
    assert {r.prompt for r in t.eval}.isdisjoint(r.prompt for r in t.rl)


def test_sft_takes_only_rows_with_a_completion(tmp_path):
    rows = qa_rows(20)
    for row in rows[::2]:
        del row["completion"]
    write_jsonl(tmp_path / "data.jsonl", rows)
    spec = task(source={"kind": "jsonl", "path": "data.jsonl"}, eval={"split": "train", "size": 4})

    t = build_task(spec, 0, tmp_path)

    assert all(r.completion is not None for r in t.sft)
    assert len(t.rl) == 16
    assert len(t.sft) == sum(r.completion is not None for r in t.rl)
    assert 4 <= len(t.sft) <= 10
    assert {r.prompt for r in t.sft} == {r.prompt for r in t.rl if r.completion is not None}


def test_sizes_cut_file_rows_and_zero_turns_a_part_off(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", qa_rows(30))
    spec = task(
        source={"kind": "jsonl", "path": "data.jsonl"},
        sft={"size": 0},
        rl={"size": 7},
        eval={"split": "train", "size": 5},
    )
    t = build_task(spec, 0, tmp_path)
    assert (len(t.sft), len(t.rl), len(t.eval)) == (0, 7, 5)


def test_file_without_completions_and_null_sft_size_gives_no_sft(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", qa_rows(12, with_completion=False))
    spec = task(source={"kind": "jsonl", "path": "data.jsonl"}, eval={"split": "train", "size": 2})
    t = build_task(spec, 0, tmp_path)
    assert t.sft == []
    assert len(t.rl) == 10


def test_file_without_completions_and_sft_size_is_an_error_at_sft_size(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", qa_rows(12, with_completion=False))
    spec = task(source={"kind": "jsonl", "path": "data.jsonl"}, sft={"size": 5}, eval={"split": "train", "size": 2})
    with pytest.raises(TaskBuildError) as err:
        build_task(spec, 0, tmp_path)
    assert err.value.path == ("sft", "size")
    assert "asked for 5 demonstrations" in str(err.value)


def test_exact_reward_on_rows_without_answers_is_an_error(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", [{"prompt": f"say {i}"} for i in range(10)])
    spec = task(source={"kind": "jsonl", "path": "data.jsonl"}, eval={"split": "train", "size": 3})
    with pytest.raises(TaskBuildError) as err:
        build_task(spec, 0, tmp_path)
    assert err.value.path == ("reward", "kind")
    assert str(err.value).startswith("exact reward needs an answer, but 7 rl rows of data.jsonl have none (the first: ")


def test_numeric_reward_on_answers_without_a_number_is_an_error_before_training(tmp_path):
    """A numeric reward reads the last number of the reference: an answer with none is refused when the task
    is built (`curriculum train` says so in one line), not in the middle of training."""
    rows = [{"prompt": f"{i}+1=", "answer": str(i + 1)} for i in range(9)] + [{"prompt": "x=", "answer": "none"}]
    write_jsonl(tmp_path / "data.jsonl", rows)
    spec = task(source={"kind": "jsonl", "path": "data.jsonl"}, eval={"split": "train", "size": 2})
    spec.reward = {"kind": "numeric"}
    with pytest.raises(TaskBuildError, match="numeric reward needs a number in every answer") as err:
        build_task(spec, 0, tmp_path)
    assert err.value.path == ("reward", "kind") and "'none'" in str(err.value)


def test_numeric_reward_on_eval_rows_without_answers_is_an_error(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", qa_rows(10))
    write_jsonl(tmp_path / "test.jsonl", [{"prompt": "x"}, {"prompt": "y"}])
    spec = task(
        source={"kind": "jsonl", "path": {"train": "train.jsonl", "test": "test.jsonl"}},
        eval={"size": 2},
        reward={"kind": "numeric"},
    )
    with pytest.raises(TaskBuildError, match="2 eval rows have none") as err:
        build_task(spec, 0, tmp_path)
    assert err.value.path == ("reward", "kind")


def test_regex_reward_does_not_need_answers(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", [{"prompt": f"say {i}"} for i in range(10)])
    spec = task(
        source={"kind": "jsonl", "path": "data.jsonl"},
        eval={"split": "train", "size": 3},
        reward={"kind": "regex", "pattern": "^ok$"},
    )
    t = build_task(spec, 0, tmp_path)
    assert (len(t.sft), len(t.rl), len(t.eval)) == (0, 7, 3)
    assert t.reward(t.rl[0], ["ok", "no"]) == [1.0, 0.0]


def test_regex_reward_with_answer_placeholder_needs_answers(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", [{"prompt": f"say {i}"} for i in range(10)])
    spec = task(
        source={"kind": "jsonl", "path": "data.jsonl"},
        eval={"split": "train", "size": 3},
        reward={"kind": "regex", "pattern": "^{answer}$"},
    )
    with pytest.raises(TaskBuildError) as err:
        build_task(spec, 0, tmp_path)
    assert err.value.path[0] == "reward"


def test_builtin_reward_needs_builtin_rl_and_eval_sources(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", qa_rows(10))
    file_spec = task(
        source={"kind": "jsonl", "path": "data.jsonl"}, eval={"split": "train", "size": 2}, reward={"kind": "builtin"}
    )
    with pytest.raises(TaskBuildError, match="built-in source") as err:
        build_task(file_spec, 0, tmp_path)
    assert err.value.path == ("reward", "kind")  # the same rule, and path, as `curriculum validate`

    mixed = task(
        source={"kind": "builtin", "name": "addition"},
        eval={"source": {"kind": "builtin", "name": "sort"}, "size": 2},
        reward={"kind": "builtin"},
    )
    assert mixed.builtin_generator() is None
    sft_from_file = task(source={"kind": "builtin", "name": "count"}, sft={"source": {"kind": "jsonl", "path": "x"}})
    assert sft_from_file.builtin_generator() == "count"  # only the RL and eval sources matter


def test_source_errors_name_the_part_that_failed(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", qa_rows(10))
    missing_task_file = task(source={"kind": "jsonl", "path": "nope.jsonl"}, eval={"split": "train", "size": 2})
    with pytest.raises(TaskBuildError, match="data file not found") as err:
        build_task(missing_task_file, 0, tmp_path)
    assert err.value.path == ("source",)

    missing_eval_split = task(source={"kind": "jsonl", "path": "data.jsonl"})  # eval split defaults to test
    with pytest.raises(TaskBuildError, match="no split 'test'") as err:
        build_task(missing_eval_split, 0, tmp_path)
    assert err.value.path == ("source",)

    bad_override = task(
        source={"kind": "jsonl", "path": "data.jsonl"},
        eval={"split": "train", "size": 2},
        rl={"source": {"kind": "csv", "path": "nope.csv"}},
    )
    with pytest.raises(TaskBuildError, match="nope.csv") as err:
        build_task(bad_override, 0, tmp_path)
    assert err.value.path == ("rl", "source")


def test_empty_eval_split_is_an_error(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", qa_rows(10))
    (tmp_path / "test.jsonl").write_text("", encoding="utf-8")
    spec = task(source={"kind": "jsonl", "path": {"train": "train.jsonl", "test": "test.jsonl"}})
    with pytest.raises(TaskBuildError, match="split 'test' has no rows") as err:
        build_task(spec, 0, tmp_path)
    assert err.value.path == ("eval", "split")


def test_task_with_only_eval_rows_is_an_error(tmp_path):
    write_jsonl(tmp_path / "data.jsonl", qa_rows(4))
    spec = task(source={"kind": "jsonl", "path": "data.jsonl"}, eval={"split": "train", "size": 4})
    with pytest.raises(TaskBuildError, match="neither SFT demonstrations nor RL prompts") as err:
        build_task(spec, 0, tmp_path)
    assert err.value.path == ()


def test_python_source_next_to_the_catalog_gets_the_catalog_seed(tmp_path, monkeypatch):
    (tmp_path / "user_task_rows.py").write_text(
        "def rows(split, seed):\n    return [{'prompt': f'{split}{seed}-{i}', 'answer': str(i)} for i in range(8)]\n",
        encoding="utf-8",
    )
    monkeypatch.delitem(sys.modules, "user_task_rows", raising=False)  # found through base_dir
    spec = task(source={"kind": "python", "function": "user_task_rows:rows"}, eval={"size": 3})

    t = build_task(spec, 42, tmp_path)

    assert {r.prompt.split("-")[0] for r in t.rl} == {"train42"}
    assert {r.prompt.split("-")[0] for r in t.eval} == {"test42"}
    assert (len(t.rl), len(t.eval), t.sft) == (8, 3, [])
