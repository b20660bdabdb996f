"""Benchmark: how long a plan takes to make at scale: the schedule's decisions for N tasks x S steps (the part
of `curriculum plan` that grows with both), measured on smaller step counts and extrapolated linearly to the
target (decisions are made one step at a time, so the time is linear in the steps). Prints figures; not a test.

    python -m curriculum.bench.plan [--tasks 1000] [--steps 1000 2000 4000] [--target 100000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from curriculum.signals.measurements import Measurements
from schedulers.base import TaskInfo
from schedulers.build import build_scheduler
from schedulers.spec import ChordSchedule


def time_decisions(tasks: int, steps: int, repeats: int = 3) -> float:
    """Median seconds to make every decision of a chord schedule over `tasks` tasks and `steps` steps."""
    infos = [TaskInfo(f"t{i}", "structured" if i % 2 else "creative") for i in range(tasks)]
    spec = ChordSchedule(kind="chord", sft_batch=64, rl_batch=64, decay_steps=steps // 2)
    times = []
    for _ in range(repeats):
        scheduler = build_scheduler(spec, infos, steps)
        started = time.perf_counter()
        for step in range(steps):
            scheduler.decide(step, Measurements(step=step))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m curriculum.bench.plan", description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--steps", type=int, nargs="+", default=[1000, 2000, 4000])
    parser.add_argument("--target", type=int, default=100_000)
    args = parser.parse_args(argv)
    per_step = []
    for steps in args.steps:
        seconds = time_decisions(args.tasks, steps)
        per_step.append(seconds / steps)
        print(
            f"{args.tasks} tasks x {steps:,} steps: {seconds:.2f} s "
            f"({seconds / steps * 1e3:.3f} ms per step, median of 3)"
        )
    estimate = statistics.median(per_step) * args.target
    print(f"{args.tasks} tasks x {args.target:,} steps: about {estimate:.0f} s of decisions alone (target: under 2 s)")


if __name__ == "__main__":
    main()
