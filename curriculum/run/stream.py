"""The stream: turns each decision into a batch of tokenized SFT demonstrations and RL prompts.

Each task's demonstrations and prompts are read in epochs: epoch e of (task, part) is a permutation
drawn from a generator seeded by (catalog seed, task, part, e). The stream's position is how many
rows of each (task, part) it has handed out, so the batch of a step depends only on the seed and the
decisions before it, and checkpointing the position lets a resumed run continue with the same rows.
A decision's rows are always all present: `decision.sft[task]` demonstrations and
`decision.rl[task]` prompts, in catalog task order.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import signal
import threading
from functools import partial
from typing import Iterator

from curriculum.errors import UserError
from curriculum.records import Decision
from curriculum.seeding import py_rng
from tasks.base import Record, Reward, Task
from trainer.batch import Batch, EvalSet, RLPrompt, SFTRow
from trainer.model import Formatter


class StreamError(Exception):
    """A decision asked for rows a task does not have (a scheduler bug: schedulers ask only for rows that
    exist)."""


REWARD_TIMEOUT = 60.0  # seconds for one prompt's group of completions to be graded


class RewardFailed(UserError):
    """A task's reward raised, hung, or returned something other than one finite number per completion. Raised
    from the step before its update, so the run's last checkpoint stays the one to resume from."""


class _TimedOut(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after `seconds` (SIGALRM: in the main thread only, and only between Python
    bytecodes: a reward stuck inside one C call is not interrupted)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise _TimedOut

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _grade(task: str, reward: Reward, record: Record, completions: list[str]) -> list[float]:
    """The task's reward of each completion, contained: whatever the reward does (raise, exit, hang past
    REWARD_TIMEOUT, return None, NaN, a string or a list of the wrong length), the run gets a RewardFailed
    naming the task, the prompt and what went wrong."""
    where = f"task {task}: the reward on prompt {record.prompt[:80]!r}"
    hint = "the step stopped before its update, so the last checkpoint is intact: fix the reward, then resume"
    try:
        with _time_limit(REWARD_TIMEOUT):
            scores = reward(record, completions)
    except _TimedOut:
        raise RewardFailed(
            f"{where} took more than {REWARD_TIMEOUT:g} s for {len(completions)} completions", hint
        ) from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 -- user code: any failure is reported, not a traceback
        raise RewardFailed(f"{where} raised {type(exc).__name__}: {exc}", hint) from None
    if not isinstance(scores, (list, tuple)) or len(scores) != len(completions):
        got = f"{len(scores)} values" if isinstance(scores, (list, tuple)) else type(scores).__name__
        raise RewardFailed(f"{where} returned {got} for {len(completions)} completions", hint)
    for i, score in enumerate(scores):
        if isinstance(score, bool) or not isinstance(score, numbers.Real) or not math.isfinite(score):
            raise RewardFailed(
                f"{where} returned {score!r} for completion {completions[i][:80]!r}: a reward must be a finite number",
                hint,
            )
    return [float(x) for x in scores]


def rl_prompt(task: Task, record: Record, fmt: Formatter) -> RLPrompt:
    """A record as the trainer rolls it out: tokenized, graded by the task's reward (contained: `_grade`), with
    its demonstration."""
    grade = partial(_grade, task.id, task.reward, record)
    return RLPrompt(task.id, fmt.prompt_ids(record.prompt), grade, record.completion, task.planning)


MADE_TOKENS = 5_000_000  # tokens of tokenized rows a stream keeps for the next epochs (about 180 MB of lists)


class Stream:
    """Each task's SFT and RL rows in a seeded order, reshuffled every epoch, tokenized as the decision asks for
    them. A row is tokenized once: the stream keeps made rows (`SFTRow`, `RLPrompt`, neither changed by the
    trainer) up to MADE_TOKENS tokens in all for the epochs after, so a small pool is not tokenized again on
    every step, and a large one does not fill the memory (each `--jobs` process keeps its own)."""

    def __init__(self, tasks: list[Task], fmt: Formatter, seed: int):
        self.tasks = {t.id: t for t in tasks}
        self.fmt = fmt
        self.seed = seed
        self.position = {t.id: {"sft": 0, "rl": 0} for t in tasks}
        self._orders: dict[tuple[str, str], tuple[int, list[int]]] = {}  # (task, part) -> (epoch, permutation)
        self._made: dict[tuple[str, str, int], SFTRow | RLPrompt] = {}  # (task, part, row) -> the row, made
        self._made_tokens = 0

    def _made_row(self, task_id: str, part: str) -> SFTRow | RLPrompt:
        """The next row of a task's part, tokenized (from the kept rows when it was made before)."""
        index, record = self._next(task_id, part)
        key = (task_id, part, index)
        made = self._made.get(key)
        if made is None:
            if part == "sft":
                made = SFTRow(task_id, self.fmt.prompt_ids(record.prompt), self.fmt.completion_ids(record.completion))
            else:
                made = rl_prompt(self.tasks[task_id], record, self.fmt)
            tokens = len(made.prompt_ids) + len(getattr(made, "completion_ids", ()))
            if self._made_tokens + tokens <= MADE_TOKENS:
                self._made[key], self._made_tokens = made, self._made_tokens + tokens
        return made

    def _next(self, task_id: str, part: str) -> tuple[int, Record]:
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
        return cached[1][i], rows[cached[1][i]]

    def batch(self, decision: Decision) -> Batch:
        unknown = (set(decision.sft) | set(decision.rl)) - set(self.tasks)
        if unknown:
            raise StreamError(f"decision names unknown tasks: {', '.join(sorted(unknown))}")
        sft, rl = [], []
        for task_id in self.tasks:  # catalog order
            sft += [self._made_row(task_id, "sft") for _ in range(decision.sft.get(task_id, 0))]
            rl += [self._made_row(task_id, "rl") for _ in range(decision.rl.get(task_id, 0))]
        return Batch(decision, sft, rl)  # type: ignore[arg-type]

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
