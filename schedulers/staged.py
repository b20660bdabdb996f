"""Task stages: one task per stage, in an order, with the catalog's mix policy running inside each stage.

A schedule with an `order` composes two policies: the **order** picks which task each stage trains
(`fixed`, `kind_first`: structured before creative, or `bwt_order`: the best predicted order from a
measured transfer matrix), and the schedule's own **mix policy** (`chord`, `sequential`, `constant`,
the adaptive ones) decides mu and the rows inside the stage, built afresh for the stage's one task with
the stage's length as its run length, so its step counter restarts at 0 (chord's mu decays again in
every stage, sequential does SFT then RL in every stage).

Stage lengths: `stage_steps`, or `training.steps` split evenly with the remainder going to the first
stages (10 steps over 3 tasks: 4, 3, 3). Decisions carry the stage's task id as their stage name, the
mix policy's own stage in `why`: "stage 2/3 reverse (decay): mu cosine decay 3/20: 0.712".

`bwt_order` knows its order only after a probe (`needs_probe`, then `set_order`, done by the run
before step 0); until then the fallback order (structured first) stands in, e.g. for `curriculum
plan`. The order, how it was found and the probe's measurements are part of the state, so a resumed
run neither probes again nor changes its order.
"""

from __future__ import annotations

import bisect
from dataclasses import replace

from curriculum.records import Decision
from curriculum.signals.measurements import Measurements
from curriculum.signals.ordering import fallback_order
from schedulers.base import Scheduler, SchedulerError, TaskInfo
from schedulers.plan import Segment
from schedulers.registry import Builder
from schedulers.spec import ScheduleSpec


def stage_lengths(total: int, stages: int, given: list[int] | None = None) -> list[int]:
    """`given`, or `total` split evenly with the remainder to the first stages. The rule for `stage_steps`
    (`curriculum validate` asks it too): one length per task, adding up to the run's steps."""
    if given is not None:
        if len(given) != stages:
            raise SchedulerError(f"{len(given)} stage lengths for {stages} tasks (one stage per task)")
        if sum(given) != total:
            raise SchedulerError(f"stage lengths add up to {sum(given)}, training.steps is {total}")
        return list(given)
    if total < stages:
        raise SchedulerError(f"{total} steps cannot make {stages} stages (one task per stage)")
    base, extra = divmod(total, stages)
    return [base + (1 if k < extra else 0) for k in range(stages)]


class Staged:
    def __init__(self, spec: ScheduleSpec, tasks: list[TaskInfo], total_steps: int, build_inner: Builder):
        assert spec.order is not None
        self.order_spec = spec.order
        self.inner_spec = spec.model_copy(update={"order": None})
        self.tasks = {t.id: t for t in tasks}
        self.build_inner = build_inner
        self.lengths = stage_lengths(total_steps, len(tasks), self.order_spec.stage_steps)
        kinds = {t.id: t.kind for t in tasks}
        requires = {t.id: list(t.requires) for t in tasks}
        kind = self.order_spec.kind
        self.order: list[str] = (
            list(self.order_spec.tasks) if kind == "fixed" else fallback_order([t.id for t in tasks], kinds, requires)
        )
        self.method = {"fixed": "fixed", "kind_first": "kind_first"}.get(kind, "fallback")
        self.probe: dict | None = None  # bwt_order's measurements, once probed
        # refuse now, not at stage k, a stage that cannot run
        inner = [build_inner(self.inner_spec, [self.tasks[task]], n) for task, n in zip(self.order, self.lengths)]
        self.adaptive = inner[0].adaptive  # one policy in every stage
        self.current = -1
        self.inner: Scheduler | None = None

    # ------------------------------------------------------------------------------------- order
    def needs_probe(self) -> bool:
        """bwt_order with a probe budget, not yet probed."""
        return self.order_spec.kind == "bwt_order" and self.order_spec.probe_steps > 0 and self.probe is None

    def set_order(self, order: list[str], method: str, probe: dict | None = None) -> None:
        if sorted(order) != sorted(self.tasks):
            raise SchedulerError(f"order {order} must name every task once: {sorted(self.tasks)}")
        self.order, self.method, self.probe = list(order), method, probe
        self.current, self.inner = -1, None

    def boundaries(self) -> list[int]:
        """The step count at the end of each stage (where the run evaluates every task)."""
        out, total = [], 0
        for n in self.lengths:
            total += n
            out.append(total)
        return out

    # ---------------------------------------------------------------------------------- decisions
    def _locate(self, step: int) -> tuple[int, int]:
        """(stage index, step within the stage); past the end: the last stage, counting on."""
        ends = self.boundaries()
        k = min(bisect.bisect_right(ends, step), len(ends) - 1)
        return k, step - (ends[k] - self.lengths[k])

    def decide(self, step: int, measurements: Measurements) -> Decision:
        k, local = self._locate(step)
        task = self.order[k]
        if k != self.current:
            self.inner = self.build_inner(self.inner_spec, [self.tasks[task]], self.lengths[k])
            self.current = k
        assert self.inner is not None
        d = self.inner.decide(local, measurements)
        why = f"stage {k + 1}/{len(self.order)} {task} ({d.stage}): {d.why}"
        return replace(d, step=step, stage=task, why=why)

    def nominal(self, total_steps: int) -> list[Segment]:
        """Each stage's policy's own plan, one task per stage, in the current order (the fallback order
        until a bwt_order probe has run)."""
        out, start = [], 0
        for task, n in zip(self.order, self.lengths):
            inner = self.build_inner(self.inner_spec, [self.tasks[task]], n)
            out += [s.shifted(start, task) for s in inner.nominal(n)]
            start += n
        return out

    def state_dict(self) -> dict:
        return {
            "order": list(self.order),
            "method": self.method,
            "probe": self.probe,
            "current": self.current,
            "inner": self.inner.state_dict() if self.inner is not None else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.order, self.method, self.probe = list(state["order"]), state["method"], state["probe"]
        self.current, self.inner = state["current"], None
        if self.current >= 0:
            task = self.order[self.current]
            self.inner = self.build_inner(self.inner_spec, [self.tasks[task]], self.lengths[self.current])
            self.inner.load_state_dict(state["inner"])
