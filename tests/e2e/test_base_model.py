"""The tiny-base recipe runs and saves a loadable model; the shipped base works a scratchpad it does not
start by itself (the habit the demo's SFT has to change)."""

from helpers import greedy_texts, tiny_base

from curriculum.run.base_model import base_scores, build_base
from tasks.build import BUILTIN_TASKS
from tasks.builtin import generate as task_rows
from trainer.config import HFModel
from trainer.model import load_model


def test_build_base_writes_a_loadable_model(tmp_path):
    """The recipe behind the shipped tiny-base runs and saves a model that loads (a few steps here)."""
    seen = []
    scores = build_base(
        tmp_path, steps=3, batch_size=8, rows_per_task=10, eval_size=4, on_step=lambda s, loss: seen.append(s)
    )
    assert seen == [0, 1, 2]
    assert set(scores) == {"addition", "sort", "reverse", "count", "word", "digits"}
    assert all(set(s) == {"default", "worked"} for s in scores.values())
    assert all(0.0 <= v <= 1.0 for s in scores.values() for v in s.values())
    model, fmt = load_model(HFModel(kind="hf", name=str(tmp_path)))
    assert fmt.tokenizer.decode(fmt.tokenizer("rev(ab)=").input_ids) == "rev(ab)="


def test_shipped_base_works_a_scratchpad_it_does_not_start():
    """The shipped tiny-base answers tersely by itself, and adds and counts far better once its answer is
    started with the expert mark: the habit SFT has to change. One exception by construction: where the
    terse answer itself begins with `w` (`word(w..o,5)=`), writing it is writing the cue, and the model
    may go on into `work: `."""
    model, fmt = tiny_base()
    scores = base_scores(model, fmt, seed=0, size=32)
    for task in ("addition", "count"):
        assert scores[task]["worked"] > scores[task]["default"] + 0.3, scores[task]
    records = [r for t in BUILTIN_TASKS.values() for r in task_rows(t, "test", 16, 0) if r.completion[0] != "w"]
    assert len(records) > 80
    texts = greedy_texts(model, fmt, [r.prompt for r in records], max_new_tokens=8)
    started = [r.prompt for r, text in zip(records, texts) if text.startswith("w")]
    assert started == []
