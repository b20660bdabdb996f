"""A run's held-out evaluation, first against last, as data (what `curriculum train` shows at the end)."""

from __future__ import annotations

from typing import Any

from curriculum.records import STEP, TASK_KINDS, eval_column

METRICS = ("score", "sampled", "entropy")


def eval_summary(evals: list[dict[str, Any]], kinds: dict[str, str]) -> dict[str, Any] | None:
    """Each task's score (greedy), sampled score (mean@k) and entropy at the first and the last evaluation,
    and the mean score and sampled score of each task kind; None with fewer than two evaluations."""
    if len(evals) < 2:
        return None
    first, last = evals[0], evals[-1]
    tasks = [
        {"task": t, "kind": k, **{m: (first[eval_column(t, m)], last[eval_column(t, m)]) for m in METRICS}}
        for t, k in kinds.items()
    ]
    by_kind = []
    for kind in TASK_KINDS:
        ids = [t for t, k in kinds.items() if k == kind]
        if ids:
            means = {
                m: tuple(sum(row[eval_column(t, m)] for t in ids) / len(ids) for row in (first, last))
                for m in ("score", "sampled")
            }
            by_kind.append({"kind": kind, "tasks": len(ids), **means})
    return {"first_step": first[STEP], "last_step": last[STEP], "tasks": tasks, "kinds": by_kind}
