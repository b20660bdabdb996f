"""The end-of-training summary: first and last evaluation per task, and the mean per task kind, by hand."""

from rich.console import Console

from curriculum.report.summary import eval_summary
from curriculum.views.train import render_summary

KINDS = {"sort": "structured", "count": "structured", "word": "creative"}


def _row(step, sort, count, word):
    row = {"step": step}
    for task, (score, sampled, entropy) in {"sort": sort, "count": count, "word": word}.items():
        row |= {f"eval/{task}/score": score, f"eval/{task}/sampled": sampled, f"eval/{task}/entropy": entropy}
    return row


def test_summary_first_against_last_and_kind_means_by_hand():
    evals = [
        _row(0, (0.5, 0.25, 1.0), (0.25, 0.5, 2.0), (1.0, 0.75, 3.0)),
        _row(5, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),  # a middle evaluation: not shown
        _row(10, (0.75, 0.5, 0.5), (0.75, 0.25, 1.5), (0.5, 0.5, 2.5)),
    ]
    s = eval_summary(evals, KINDS)
    assert (s["first_step"], s["last_step"]) == (0, 10)
    sort = s["tasks"][0]
    assert (sort["task"], sort["score"], sort["sampled"], sort["entropy"]) == (
        "sort",
        (0.5, 0.75),
        (0.25, 0.5),
        (1.0, 0.5),
    )
    structured, creative = s["kinds"]
    # structured score: (0.5 + 0.25) / 2 = 0.375 -> (0.75 + 0.75) / 2 = 0.75; sampled (0.25 + 0.5) / 2 = 0.375 -> 0.375
    assert structured == {"kind": "structured", "tasks": 2, "score": (0.375, 0.75), "sampled": (0.375, 0.375)}
    assert creative == {"kind": "creative", "tasks": 1, "score": (1.0, 0.5), "sampled": (0.75, 0.5)}
    assert eval_summary(evals[:1], KINDS) is None  # one evaluation: nothing to compare


def test_summary_view_prints_each_change():
    console = Console(width=100, record=True)
    render_summary(
        eval_summary(
            [_row(0, (0.5, 0.25, 1.0), (0, 0, 0), (1, 1, 1)), _row(3, (0.75, 0.5, 0.5), (0, 0, 0), (1, 1, 1))], KINDS
        ),
        console,
    )
    text = console.export_text()
    assert "held-out evaluation: step 0 -> 3" in text
    assert "0.500 -> 0.750" in text and "mean (2)" in text and "mean (1)" in text
