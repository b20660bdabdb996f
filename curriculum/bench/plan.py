"""Benchmark: how long `curriculum plan` takes at scale, N tasks x S steps (default 1,000 x 100,000, the
target: under 2 s). Times everything after the task data is loaded: the scheduler's plan as segments
(`Scheduler.nominal`), the plan's data (`plan_summary`), its cost (`plan_cost`, with made-up task lengths)
and the rendering to a terminal of 120 columns (into memory), for several schedules; and, for
comparison, the step-by-step decisions the run makes (`decide`), measured on fewer steps and extrapolated
linearly. Prints figures; not a test.

    python -m curriculum.bench.plan [--tasks 1000] [--steps 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from curriculum.catalog import load_catalog
from curriculum.compute import TaskLengths, plan_cost
from curriculum.report.plan import plan_summary
from curriculum.signals.measurements import Measurements
from curriculum.views.plan import render_plan
from schedulers.base import TaskInfo
from schedulers.build import build_scheduler
from schedulers.plan import totals

DEMO = Path(__file__).resolve().parents[2] / "catalogs" / "demo.yaml"  # a checkout's demo catalog
SCHEDULES = {
    "chord": ["schedule.kind=chord", "schedule.decay_steps=50000"],
    "sequential": ["schedule.kind=sequential", "schedule.sft_steps=30000"],
    "chord, kind_first stages": ["schedule.kind=chord", 'schedule.order={"kind": "kind_first"}'],
    "reward_adaptive": ["schedule.kind=reward_adaptive"],
}


def synthetic_tasks(n: int) -> list[SimpleNamespace]:
    """n tasks as the plan reads them (id, kind, weight, prerequisites, pool sizes), weights 1, 2, 3 in turn."""
    return [
        SimpleNamespace(
            id=f"t{i:04d}",
            kind="structured" if i % 2 else "creative",
            weight=float(1 + i % 3),
            requires=[f"t{i - 1:04d}"] if i % 10 == 1 else [],
            sft=[None] * 64,
            rl=[None] * 256,
            eval=[None] * 32,
        )
        for i in range(n)
    ]


def time_plan(overrides: list[str], tasks: list, steps: int) -> tuple[float, dict[str, float], int]:
    """Seconds for the whole plan, seconds per part, and the segments made."""
    catalog = load_catalog(DEMO, [*overrides, f"training.steps={steps}"])
    infos = [TaskInfo(t.id, t.kind, t.weight, requires=tuple(t.requires)) for t in tasks]
    lengths = {t.id: TaskLengths(prompt=40.0, completion=60.0) for t in tasks}
    parts, started = {}, time.perf_counter()
    scheduler = build_scheduler(catalog.schedule, infos, steps)
    segments = scheduler.nominal(steps)
    parts["segments"] = time.perf_counter() - started
    mark = time.perf_counter()
    cost = plan_cost(totals(segments), lengths, 500_000_000, catalog.training.rollout.group_size, 256)
    summary = plan_summary(catalog, tasks, segments, scheduler.adaptive, cost)  # type: ignore[arg-type]
    parts["summary + cost"] = time.perf_counter() - mark
    mark = time.perf_counter()
    render_plan(summary, Console(file=io.StringIO(), width=120, force_terminal=True))
    parts["render"] = time.perf_counter() - mark
    return time.perf_counter() - started, parts, len(segments)


def decide_seconds_per_step(tasks: list, steps: int = 500) -> float:
    """The run's step-by-step decisions (chord), per step: what `curriculum plan` used to do."""
    infos = [TaskInfo(t.id, t.kind, t.weight) for t in tasks]
    catalog = load_catalog(DEMO, [f"training.steps={steps}"])
    scheduler = build_scheduler(catalog.schedule, infos, steps)
    started = time.perf_counter()
    for step in range(steps):
        scheduler.decide(step, Measurements(step=step))
    return (time.perf_counter() - started) / steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m curriculum.bench.plan", description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    tasks = synthetic_tasks(args.tasks)
    print(f"curriculum plan, {args.tasks:,} tasks x {args.steps:,} steps (median of {args.repeats}; target < 2 s)")
    for name, overrides in SCHEDULES.items():
        runs = [time_plan(overrides, tasks, args.steps) for _ in range(args.repeats)]
        total = statistics.median(r[0] for r in runs)
        parts = ", ".join(f"{part} {statistics.median(r[1][part] for r in runs):.3f} s" for part in runs[0][1])
        print(f"  {name:26s} {total:6.3f} s  ({parts}; {runs[0][2]:,} segments)")
    per_step = decide_seconds_per_step(tasks)
    print(
        f"  the run's step-by-step decisions (chord): {per_step * 1e3:.2f} ms per step, about "
        f"{per_step * args.steps:,.0f} s for {args.steps:,} steps (measured on 500 steps)"
    )


if __name__ == "__main__":
    main()
