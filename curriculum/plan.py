"""Render a schedule plan in the terminal: stages, mu over steps, per-task SFT/RL mix and totals."""

from __future__ import annotations

from itertools import groupby

from rich.console import Console
from rich.table import Table

from curriculum.schema import Catalog
from schedulers.base import Decision
from tasks.build import DataTask

BLOCKS = " ▁▂▃▄▅▆▇█"
ADAPTIVE = ("reward_adaptive", "phase_aware", "entropy_guard", "bandit", "gate")  # decide from measurements


def stages(decisions: list[Decision]) -> list[tuple[str, list[Decision]]]:
    """Runs of consecutive steps with the same stage name."""
    return [(name, list(group)) for name, group in groupby(decisions, key=lambda d: d.stage)]


def mu_chart(values: list[float], width: int = 64, height: int = 5) -> list[str]:
    """A block chart of mu in [0, 1]: `height` text rows, `width` columns (each the mean of its steps)."""
    if not values:
        return []
    width = min(width, len(values))
    cols = []
    for c in range(width):
        lo = c * len(values) // width
        hi = max((c + 1) * len(values) // width, lo + 1)
        cols.append(sum(values[lo:hi]) / (hi - lo))
    rows = []
    for r in range(height - 1, -1, -1):  # top row first
        cells = "".join(BLOCKS[max(0, min(8, round((v * height - r) * 8)))] for v in cols)
        rows.append(("1.0 │" if r == height - 1 else "    │") + cells)
    last = str(len(values) - 1)
    rows.append("0.0 └" + "─" * width)
    rows.append("     0" + last.rjust(width - 1))
    return rows


def render_plan(catalog: Catalog, tasks: list[DataTask], decisions: list[Decision], console: Console) -> None:
    G = catalog.training.rollout.group_size
    sched = catalog.schedule
    console.print(
        f"[bold]plan[/] {catalog.name}: schedule [bold]{sched.kind}[/], {len(decisions)} steps, "
        f"seed {catalog.seed}, G = {G} rollouts per prompt"
    )
    if sched.kind in ADAPTIVE:
        console.print(
            f"[dim]{sched.kind} decides from what the run measures: this plan is its decisions with no "
            "measurements; the run's decisions (decisions.parquet) follow its evals and rewards[/]"
        )
    order = getattr(sched, "order", None)
    if order is not None:
        note = f"task stages ({order.kind})"
        if order.kind == "bwt_order" and order.probe_steps:
            note += (
                f": the order shown is the fallback (structured first); the run picks its order after a probe of "
                f"{order.probe_steps} steps per task ({order.probe_steps * len(tasks)} steps of compute)"
            )
        console.print(note)

    table = Table(title="stages", title_justify="left")
    for col in ("stage", "steps", "mu", "SFT/step", "RL/step", "rollouts/step", "SFT weights"):
        left = col in ("stage", "SFT weights")
        table.add_column(col, justify="left" if left else "right", no_wrap=True)
    for name, group in stages(decisions):
        sft = sum(d.sft_rows for d in group) / len(group)
        rl = sum(d.rl_rows for d in group) / len(group)
        mu = f"{group[0].mu:.3f}" if group[0].mu == group[-1].mu else f"{group[0].mu:.3f} → {group[-1].mu:.3f}"
        weighting = ", ".join(sorted({d.sft_weighting for d in group if d.sft_rows}) or ["-"])
        table.add_row(name, f"{group[0].step}-{group[-1].step}", mu, f"{sft:g}", f"{rl:g}", f"{rl * G:g}", weighting)
    console.print(table)

    console.print("mu over steps")
    for line in mu_chart([d.mu for d in decisions]):
        console.print(line, highlight=False)

    table = Table(title="tasks", title_justify="left")
    for col in (
        "task",
        "kind",
        "weight",
        "SFT pool",
        "SFT rows",
        "epochs",
        "RL pool",
        "RL prompts",
        "rollouts",
        "eval",
    ):
        left = col in ("task", "kind")
        table.add_column(col, justify="left" if left else "right", no_wrap=left)
    totals = {"sft": 0, "rl": 0}
    repeated = []
    for task in tasks:
        sft = sum(d.sft.get(task.id, 0) for d in decisions)
        rl = sum(d.rl.get(task.id, 0) for d in decisions)
        totals["sft"] += sft
        totals["rl"] += rl
        epochs = sft / len(task.sft) if task.sft else 0.0
        if epochs > 3:
            repeated.append(f"{task.id} {epochs:.1f}x")
        table.add_row(
            task.id,
            task.kind,
            f"{task.weight:g}",
            str(len(task.sft)),
            str(sft),
            f"{epochs:.1f}",
            str(len(task.rl)),
            str(rl),
            str(rl * G),
            str(len(task.eval)),
        )
    table.add_section()
    table.add_row("total", "", "", "", str(totals["sft"]), "", "", str(totals["rl"]), str(totals["rl"] * G), "")
    console.print(table)
    if repeated:
        console.print(
            f"[yellow]note:[/] demonstrations are trained on many times ({', '.join(repeated)}): expect SFT overfitting"
        )
