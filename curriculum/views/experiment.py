"""What `curriculum experiment` shows at the end: per arm, the mean final held-out score with its 95% interval
per task and overall (best of each row marked), the compute each arm used, and one verdict line per arm
against the baseline (`curriculum.experiment.results.compare` makes the data)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _cell(interval: dict | None, best: bool, signed: bool = False) -> str:
    if not interval:
        return "-"
    text = f"{interval['mean']:+.3f}" if signed else f"{interval['mean']:.3f}"
    if interval.get("half") is not None:
        text += f" ± {interval['half']:.3f}"
    return f"[bold green]{text} *[/]" if best else text


def render_experiment(comparison: dict[str, Any], console: Console, budget: float | None = None) -> None:
    arms = [a for a in comparison["arms"] if a["seeds"]]
    if not arms:
        console.print("[red]no run finished: nothing to compare[/]")
    else:
        seeds = sorted({a["seeds"] for a in arms})
        title = (
            f"final held-out score (greedy), mean ± half of the 95% t interval over {'/'.join(map(str, seeds))} "
            "seed(s); * = best mean of the row"
        )
        table = Table(title=title, title_justify="left")
        table.add_column("task", no_wrap=True)
        table.add_column("kind", no_wrap=True)
        for a in arms:
            name = a["arm"] + (" (baseline)" if a["arm"] == comparison["baseline"] else "")
            table.add_column(escape(name), justify="right", overflow="fold")
        best = comparison["best"]
        for t in comparison["tasks"]:
            cells = [_cell(a["tasks"].get(t["task"]), a["arm"] in best.get(t["task"], [])) for a in arms]
            table.add_row(t["task"], t["kind"], *cells)
        table.add_section()
        table.add_row("overall", "mean", *[_cell(a["overall"], a["arm"] in best.get("overall", [])) for a in arms])
        table.add_row("normalized", "gain", *[_cell(a["normalized"], False) for a in arms])
        table.add_section()
        table.add_row("training FLOPs", "", *[_flops(a["training_flops"]) for a in arms])
        table.add_row("steps", "", *[f"{a['steps']:.0f}" if a["steps"] is not None else "-" for a in arms])
        table.add_row("minutes", "", *[f"{a['seconds'] / 60:.1f}" if a["seconds"] else "-" for a in arms])
        console.print(table)
        console.print(
            "[dim]normalized gain = (final - start) / (1 - start), the share of the headroom gained; "
            "overall = mean over tasks per seed, then over seeds[/]"
        )
        table = Table(
            title="drift and diversity (mean over tasks per seed, then mean ± half of the 95% interval over seeds)",
            title_justify="left",
        )
        table.add_column("signal", no_wrap=True)
        for a in arms:
            table.add_column(escape(a["arm"]), justify="right", overflow="fold")
        for name in arms[0]["signals"]:
            table.add_row(name, *[_cell(a["signals"][name], False, signed=True) for a in arms])
        console.print(table)
        console.print(
            "[dim]dip = start - lowest score; forgetting = best - final score; KL to base at the last evaluation; "
            "entropy per token (nats), answer entropy per answer among k samples (nats), last - first evaluation[/]"
        )
        if budget is not None:
            realized = [b for a in arms for b in a["budgets"]]
            spread = max(abs(b / budget - 1.0) for b in realized) if realized else 0.0
            console.print(
                f"compute matched: budget {_flops(budget)} training FLOPs; the runs used "
                f"{_flops(min(realized))} to {_flops(max(realized))} (within {100 * spread:.2f}% of the budget)",
                highlight=False,
            )
        console.print(
            f"[bold]against {escape(comparison['baseline'])}[/] (paired by seed, mean {comparison['metric']}):"
        )
        for a in arms:
            if "line" in a:
                colour = {"better": "green", "worse": "red"}.get(a["verdict"], "yellow")
                console.print(f"  [{colour}]{escape(a['line'])}[/]")
    for f in comparison["failed"]:
        console.print(
            f"[red]failed:[/] {escape(f['arm'])} seed {f['seed']}: {escape(f['error'] or '')} ({f['folder']})"
        )


def _flops(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def render_arms(arms: dict[str, str], console: Console) -> None:
    """The built-in arms with their one-line descriptions."""
    table = Table(title="built-in arms", title_justify="left")
    table.add_column("arm", no_wrap=True)
    table.add_column("schedule")
    for name, doc in arms.items():
        table.add_row(name, escape(doc))
    console.print(table)
