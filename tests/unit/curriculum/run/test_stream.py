"""The stream: a decision's rows are all there, in order, tokenized with the loss on completions only;
same seed, same batches; epochs cover every row once; the position round-trips."""

import pytest

from curriculum.records import Decision
from curriculum.run.stream import Stream, StreamError, eval_sets
from tasks.base import Record, final_answer
from tasks.build import DataTask
from trainer.model import Formatter
from trainer.sft import pack
from trainer.tiny import tiny_tokenizer


def _task(tid, n=5):
    rows = [Record(f"q{tid}{i}=", f"a{i}", str(i)) for i in range(n)]
    grade = lambda r, cs: [float(c == r.answer) for c in cs]  # noqa: E731
    return DataTask(tid, "structured", 1.0, [], rows, rows, rows[:2], grade, final_answer)


@pytest.fixture()
def fmt():
    tok = tiny_tokenizer()
    return Formatter(tok, None, [tok.eos_token_id])


def test_batch_has_exactly_the_decided_rows_in_catalog_order(fmt):
    stream = Stream([_task("x"), _task("y")], fmt, seed=0)
    d = Decision(0, "mixed", 0.5, sft={"y": 2, "x": 1}, rl={"x": 3})
    batch = stream.batch(d)
    assert [r.task for r in batch.sft] == ["x", "y", "y"]
    assert [p.task for p in batch.rl] == ["x", "x", "x"]
    assert batch.decision is d  # the decision travels with its rows, not copied field by field


def test_sft_rows_end_with_eos_and_loss_covers_only_completion(fmt):
    stream = Stream([_task("x")], fmt, seed=0)
    row = stream.batch(Decision(0, "sft", 1.0, sft={"x": 1}, rl={})).sft[0]
    assert row.prompt_ids[0] == fmt.tokenizer.bos_token_id
    assert row.completion_ids[-1] == fmt.eos_id
    prompt_ids, prompt_mask, ids, mask = pack([row], fmt.pad_id, "cpu")
    assert prompt_ids[0][prompt_mask[0].bool()].tolist() == row.prompt_ids
    # the loss is on the completion tokens: the mask covers them all and nothing else
    targets = ids[0][mask[0].bool()].tolist()
    assert targets == row.completion_ids
    assert fmt.tokenizer.decode(targets[:-1]) == fmt.decode(row.completion_ids)


def test_same_seed_same_batches_other_seed_other_order(fmt):
    def draws(seed):
        s = Stream([_task("x", 20)], fmt, seed)
        return [tuple(r.prompt_ids) for t in range(4) for r in s.batch(Decision(t, "sft", 1.0, {"x": 3}, {})).sft]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)


def test_an_epoch_sees_every_row_once(fmt):
    stream = Stream([_task("x", 5)], fmt, seed=0)
    prompts = [fmt.tokenizer.decode(p.prompt_ids[1:]) for p in stream.batch(Decision(0, "rl", 0.0, {}, {"x": 10})).rl]
    assert sorted(prompts[:5]) == [f"qx{i}=" for i in range(5)]
    assert sorted(prompts[5:]) == [f"qx{i}=" for i in range(5)]
    assert prompts[:5] != prompts[5:]  # each epoch has its own order


def test_position_round_trip_continues_with_the_same_rows(fmt):
    one = Stream([_task("x", 7), _task("y", 3)], fmt, seed=5)
    decisions = [Decision(t, "mixed", 0.5, {"x": 2, "y": 1}, {"y": 2}) for t in range(6)]
    for d in decisions[:3]:
        one.batch(d)
    two = Stream([_task("x", 7), _task("y", 3)], fmt, seed=5)
    two.load_state_dict(one.state_dict())
    for d in decisions[3:]:
        a, b = one.batch(d), two.batch(d)
        assert [r.prompt_ids for r in a.sft] == [r.prompt_ids for r in b.sft]
        assert [r.prompt_ids for r in a.rl] == [r.prompt_ids for r in b.rl]


def test_decision_for_missing_rows_is_an_error(fmt):
    empty = DataTask("z", "structured", 1.0, [], [], [Record("p")], [Record("p")], lambda r, c: [0.0], final_answer)
    stream = Stream([empty], fmt, seed=0)
    with pytest.raises(StreamError, match="sft rows of task 'z'"):
        stream.batch(Decision(0, "sft", 1.0, {"z": 1}, {}))
    with pytest.raises(StreamError, match="unknown tasks: nope"):
        stream.batch(Decision(0, "sft", 1.0, {"nope": 1}, {}))


def test_rl_prompt_grades_against_its_own_record(fmt):
    stream = Stream([_task("x", 3)], fmt, seed=0)
    prompt = stream.batch(Decision(0, "rl", 0.0, {}, {"x": 1})).rl[0]
    text = fmt.tokenizer.decode(prompt.prompt_ids[1:])  # e.g. "qx2="
    answer = text[2:-1]
    assert prompt.grade([answer, "wrong"]) == [1.0, 0.0]


def test_eval_sets_carry_each_tasks_own_answer_extraction(fmt):
    """`unique` counts answers the way the task's reward reads them, so the eval set carries `extract`."""
    task = _task("x")
    task.extract = lambda text: text[::-1]  # any function of the task's own
    [s] = eval_sets([task], fmt)
    assert s.extract("ab") == "ba" and s.task == "x" and len(s.prompts) == 2
    assert s.prompts[0].grade(["0", "1"]) == [1.0, 0.0]  # graded by the task's reward, with its record


def test_a_row_is_tokenized_once_and_later_epochs_reuse_it(fmt, monkeypatch):
    """5 rows drawn 4 epochs over: 5 SFT rows and 5 RL prompts are made (tokenized), not 20 each; the rows
    are those of a stream that keeps nothing (MADE_TOKENS 0), in the same order."""
    import curriculum.run.stream as stream_module

    calls = []
    real = Formatter.prompt_ids
    monkeypatch.setattr(Formatter, "prompt_ids", lambda self, p: calls.append(p) or real(self, p))
    d = Decision(0, "mixed", 0.5, sft={"x": 4}, rl={"x": 4})
    stream = Stream([_task("x", 5)], fmt, seed=3)
    kept = [stream.batch(d) for _ in range(5)]  # 20 rows of each part: 4 epochs of 5
    assert len(calls) == 5 + 5
    monkeypatch.setattr(stream_module, "MADE_TOKENS", 0)
    fresh = Stream([_task("x", 5)], fmt, seed=3)
    again = [fresh.batch(d) for _ in range(5)]
    assert len(calls) == 10 + 40  # nothing kept: every draw tokenized
    assert [r.prompt_ids + r.completion_ids for b in kept for r in b.sft] == [
        r.prompt_ids + r.completion_ids for b in again for r in b.sft
    ]
    assert [p.prompt_ids for b in kept for p in b.rl] == [p.prompt_ids for b in again for p in b.rl]
