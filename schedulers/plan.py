"""A schedule's plan as segments: runs of steps with one stage and one rule for their rows.

`curriculum plan` must show a schedule of 1,000 tasks x 100,000 steps in about a second, so it does not
ask the scheduler for every step's `Decision` (each splits the step's rows across the tasks: O(tasks)
per step). Every scheduler also answers `nominal(total_steps)`: its decisions with no measurements, as
`Segment`s. Inside a segment every step has the same stage and asks for the same `sft` demonstrations
and `rl` prompts, split across the tasks by the same shares; only mu may change from step to step
(chord's cosine), so a segment keeps mu per step.

A task's rows over a segment are `steps x sft x share`: the exact share. The run's `Mixer` hands out
whole rows with each task within one row of that exact share at every step, so the plan's per-task
totals are within one row per task of what the step-by-step decisions give (tested for every policy
against `decide`; `curriculum.run.setup.plan_decisions` still makes those, for the run's plan.parquet).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from curriculum.records import Decision


@dataclass(frozen=True)
class Segment:
    first: int  # first step
    last: int  # last step (inclusive)
    stage: str
    mu: tuple[float, ...]  # mu at each step of the segment (Decision.mu)
    sft: int  # demonstrations per step
    rl: int  # RL prompts per step
    sft_shares: dict[str, float] = field(default_factory=dict)  # task -> share of the demonstrations (sum 1)
    rl_shares: dict[str, float] = field(default_factory=dict)  # task -> share of the prompts (sum 1)
    sft_weighting: str = "none"
    task_mu: dict[str, float] = field(default_factory=dict)  # per-task mu (the per-task policies)

    @property
    def steps(self) -> int:
        return self.last - self.first + 1

    def shifted(self, offset: int, stage: str) -> Segment:
        """The segment `offset` steps later, under another stage name (a task stage of `Staged`)."""
        return replace(self, first=self.first + offset, last=self.last + offset, stage=stage)

    def clipped(self, first: int, last: int) -> Segment | None:
        """The part of the segment inside steps first..last, or None."""
        lo, hi = max(first, self.first), min(last, self.last)
        if lo > hi:
            return None
        return replace(self, first=lo, last=hi, mu=self.mu[lo - self.first : hi - self.first + 1])


def shares(weights: dict[str, float]) -> dict[str, float]:
    """Weights as shares of 1 (the Mixer's rule: each task's credit grows by n * weight / total)."""
    total = sum(weights.values())
    return {t: w / total for t, w in weights.items() if w > 0} if total > 0 else {}


def mix_segments(
    mus: list[float],
    stage_at: Callable[[int], str],
    sft_batch: int,
    rl_batch: int,
    sft_weights: dict[str, float],
    rl_weights: dict[str, float],
    sft_weighting: str = "none",
    task_mu: dict[str, float] | None = None,
) -> list[Segment]:
    """Segments of the mixing policies (`BatchMix.rows`): a step with mu > 0 carries `sft_batch`
    demonstrations by `sft_weights`, one with mu < 1 `rl_batch` prompts by `rl_weights`; a new segment
    starts where the stage changes or mu reaches or leaves 0 or 1. With `task_mu` (the per-task policies),
    mu is only a summary: each part is there when its weights are (the policy already left out the tasks
    whose own mu rules a part out)."""
    sft_shares, rl_shares = shares(sft_weights), shares(rl_weights)
    out: list[Segment] = []
    start, key = 0, None
    for step, mu in enumerate(mus):
        k = (stage_at(step), True, True) if task_mu else (stage_at(step), mu > 0, mu < 1)
        if k != key:
            if key is not None:
                out.append(_segment(start, step - 1, key, mus, sft_batch, rl_batch, sft_shares, rl_shares))
            start, key = step, k
    if key is not None:
        out.append(_segment(start, len(mus) - 1, key, mus, sft_batch, rl_batch, sft_shares, rl_shares))
    per_task = dict(task_mu or {})
    return [replace(s, sft_weighting=sft_weighting if s.sft else "none", task_mu=per_task) for s in out]


def _segment(
    first: int,
    last: int,
    key: tuple[str, bool, bool],
    mus: list[float],
    sft_batch: int,
    rl_batch: int,
    sft_shares: dict[str, float],
    rl_shares: dict[str, float],
) -> Segment:
    stage, has_sft, has_rl = key
    sft = sft_batch if has_sft and sft_shares else 0
    rl = rl_batch if has_rl and rl_shares else 0
    return Segment(
        first, last, stage, tuple(mus[first : last + 1]), sft, rl, sft_shares if sft else {}, rl_shares if rl else {}
    )


def totals(segments: Iterable[Segment]) -> dict[str, tuple[float, float]]:
    """task -> (demonstrations, RL prompts) over the segments: steps x rows per step x share."""
    out: dict[str, list[float]] = {}
    for s in segments:
        for task, p in s.sft_shares.items():
            out.setdefault(task, [0.0, 0.0])[0] += s.steps * s.sft * p
        for task, p in s.rl_shares.items():
            out.setdefault(task, [0.0, 0.0])[1] += s.steps * s.rl * p
    return {task: (sft, rl) for task, (sft, rl) in out.items()}


def clip(segments: Iterable[Segment], first: int, last: int) -> list[Segment]:
    """The segments' parts inside steps first..last."""
    return [c for s in segments if (c := s.clipped(first, last)) is not None]


def mu_per_step(segments: Iterable[Segment]) -> list[float]:
    return [mu for s in segments for mu in s.mu]


def segments_of(decisions: Iterable[Decision]) -> list[Segment]:
    """Decisions as segments: consecutive steps with the same stage, rows per step, SFT weighting and per-task
    mu are one segment, whose shares are its tasks' exact rows over its steps (so `totals` gives the
    decisions' own counts)."""
    out: list[Segment] = []
    group: list[Decision] = []

    def close() -> None:
        if not group:
            return
        d, sft, rl = group[0], sum(x.sft_total for x in group), sum(x.rl_total for x in group)
        sft_rows: dict[str, int] = {}
        rl_rows: dict[str, int] = {}
        for x in group:
            for task, n in x.sft.items():
                sft_rows[task] = sft_rows.get(task, 0) + n
            for task, n in x.rl.items():
                rl_rows[task] = rl_rows.get(task, 0) + n
        out.append(
            Segment(
                d.step,
                group[-1].step,
                d.stage,
                tuple(x.mu for x in group),
                d.sft_total,
                d.rl_total,
                {t: n / sft for t, n in sft_rows.items()} if sft else {},
                {t: n / rl for t, n in rl_rows.items()} if rl else {},
                d.sft_weighting if d.sft_total else "none",
                dict(d.task_mu),
            )
        )

    def key(d: Decision) -> tuple:
        return (d.stage, d.sft_total, d.rl_total, d.sft_weighting if d.sft_total else "none", d.task_mu)

    for d in decisions:
        if group and key(d) != key(group[0]):
            close()
            group = []
        group.append(d)
    close()
    return out
