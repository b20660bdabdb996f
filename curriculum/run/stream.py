"""The stream: turns each decision into a batch of tokenized SFT demonstrations and RL prompts.

Each task's demonstrations and prompts are read in epochs: epoch e of (task, part) is a permutation
drawn from a generator seeded by (catalog seed, task, part, e). The stream's position is how many
rows of each (task, part) it has handed out, so the batch of a step depends only on the seed and the
decisions before it, and checkpointing the position lets a resumed run continue with the same rows.
A decision's rows are always all present: `decision.sft[task]` demonstrations and
`decision.rl[task]` prompts, in catalog task order.
"""

from __future__ import annotations

from functools import partial

from curriculum.records import Decision
from curriculum.seeding import py_rng
from tasks.base import Record, Reward, Task
from trainer.batch import Batch, EvalSet, RLPrompt, SFTRow
from trainer.model import Formatter


class StreamError(Exception):
    """A decision asked for rows a task does not have (a scheduler bug: schedulers ask only for rows that
    exist)."""


def _grade(reward: Reward, record: Record, completions: list[str]) -> list[float]:
    return reward(record, completions)


def rl_prompt(task: Task, record: Record, fmt: Formatter) -> RLPrompt:
    """A record as the trainer rolls it out: tokenized, graded by the task's reward, with its demonstration."""
    grade = partial(_grade, task.reward, record)
    return RLPrompt(task.id, fmt.prompt_ids(record.prompt), grade, record.completion, task.planning)


class Stream:
    def __init__(self, tasks: list[Task], fmt: Formatter, seed: int):
        self.tasks = {t.id: t for t in tasks}
        self.fmt = fmt
        self.seed = seed
        self.position = {t.id: {"sft": 0, "rl": 0} for t in tasks}
        self._orders: dict[tuple[str, str], tuple[int, list[int]]] = {}  # (task, part) -> (epoch, permutation)

    def _next(self, task_id: str, part: str) -> Record:
        rows: list[Record] = getattr(self.tasks[task_id], part)
        if not rows:
            raise StreamError(f"decision asks for {part} rows of task {task_id!r}, which has none")
        k = self.position[task_id][part]
        epoch, i = divmod(k, len(rows))
        cached = self._orders.get((task_id, part))
        if cached is None or cached[0] != epoch:
            order = list(range(len(rows)))
            py_rng(self.seed, "stream", task_id, part, epoch).shuffle(order)
            cached = (epoch, order)
            self._orders[(task_id, part)] = cached
        self.position[task_id][part] = k + 1
        return rows[cached[1][i]]

    def batch(self, decision: Decision) -> Batch:
        unknown = (set(decision.sft) | set(decision.rl)) - set(self.tasks)
        if unknown:
            raise StreamError(f"decision names unknown tasks: {', '.join(sorted(unknown))}")
        sft, rl = [], []
        for task_id, task in self.tasks.items():  # catalog order
            for _ in range(decision.sft.get(task_id, 0)):
                record = self._next(task_id, "sft")
                sft.append(
                    SFTRow(task_id, self.fmt.prompt_ids(record.prompt), self.fmt.completion_ids(record.completion))
                )
            for _ in range(decision.rl.get(task_id, 0)):
                rl.append(rl_prompt(task, self._next(task_id, "rl"), self.fmt))
        return Batch(decision, sft, rl)

    def state_dict(self) -> dict:
        return {"position": {t: dict(p) for t, p in self.position.items()}}

    def load_state_dict(self, state: dict) -> None:
        saved = state["position"]
        if set(saved) != set(self.tasks):
            raise StreamError(f"stream position is for tasks {sorted(saved)}, this run has {sorted(self.tasks)}")
        self.position = {t: dict(p) for t, p in saved.items()}
        self._orders.clear()


def eval_sets(tasks: list[Task], fmt: Formatter) -> list[EvalSet]:
    """Every task's held-out prompts, tokenized, graded one completion at a time, read by its own extraction."""
    return [EvalSet(t.id, t.kind, [rl_prompt(t, r, fmt) for r in t.eval], t.extract, t.planning) for t in tasks]
