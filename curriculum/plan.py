"""Render a schedule plan in the terminal: stages, mu over steps, per-task SFT/RL mix and totals."""

from __future__ import annotations

from itertools import groupby

from rich.console import Console
from rich.table import Table

from curriculum.schema import Catalog
from schedulers.base import Decision
from tasks.build import DataTask

BLOCKS = " ▁▂▃▄▅▆▇█"


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
        lo, hi = c * len(values) // width, max((c + 1) * len(values) // width, c * len(values) // width + 1)
        chunk = values[lo:hi]
        cols.append(sum(chunk) / len(chunk))
    rows = []
    for r in range(height - 1, -1, -1):  # top row first
        line = ""
        for v in cols:
            fill = v * height - r  # how much of this row's cell is under the curve
            line += BLOCKS[max(0, min(8, round(fill * 8)))]
        label = f"{(r + 1) / height:4.1f} " if r in (height - 1, 0) else "     "
        rows.append(label + "│" + line)
    rows.append("     └" + "─" * width)
    last = str(len(values) - 1)
    rows.append("      0" + " " * max(1, width - len(last) - 1) + last)
    return rows


def render_plan(catalog: Catalog, tasks: list[DataTask], decisions: list[Decision], console: Console) -> None:
    G = catalog.training.rollout.group_size
    sched = catalog.schedule
    console.print(
        f"[bold]plan[/] {catalog.name}: schedule [bold]{sched.kind}[/], {len(decisions)} steps, "
        f"seed {catalog.seed}, G = {G} rollouts per prompt"
    )

    table = Table(title="stages", title_justify="left")
    for col in ("stage", "steps", "mu", "SFT rows/step", "RL prompts/step", "rollouts/step", "SFT weighting"):
        table.add_column(col, justify="left" if col in ("stage", "SFT weighting") else "right")
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
    for col in ("task", "kind", "weight", "SFT pool", "SFT rows", "SFT epochs", "RL pool", "RL prompts", "rollouts", "eval"):
        table.add_column(col, justify="left" if col in ("task", "kind") else "right")
    totals = {"sft": 0, "rl": 0}
    warnings = []
    for task in tasks:
        sft = sum(d.sft.get(task.id, 0) for d in decisions)
        rl = sum(d.rl.get(task.id, 0) for d in decisions)
        totals["sft"] += sft
        totals["rl"] += rl
        epochs = sft / len(task.sft) if task.sft else 0.0
        if epochs > 3:
            warnings.append(f"{task.id}: each demonstration is trained on {epochs:.1f} times (expect SFT overfitting)")
        table.add_row(
            task.id, task.kind, f"{task.weight:g}", str(len(task.sft)), str(sft), f"{epochs:.1f}",
            str(len(task.rl)), str(rl), str(rl * G), str(len(task.eval)),
        )
    table.add_section()
    table.add_row("total", "", "", "", str(totals["sft"]), "", "", str(totals["rl"]), str(totals["rl"] * G), "")
    console.print(table)
    for w in warnings:
        console.print(f"[yellow]note:[/] {w}")
