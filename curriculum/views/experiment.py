"""What `curriculum experiment` shows at the end (`curriculum.experiment.results.compare` makes the data), one
row per arm in every table so that many arms stay readable:

1. the overall final held-out score and the normalized gain, each the mean over seeds ± the half-width of its
   95% t interval, the paired difference with the baseline and its verdict, the compute each arm used;
2. the final score per task (the best arm of each column marked *);
3. drift and diversity: dip, forgetting, KL to the base, per-token and per-answer entropy change by kind;

then one verdict line per arm against the baseline."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

SHORT = {  # signal -> column header
    "dip": "dip",
    "forgetting": "forget",
    "KL to base": "KL base",
    "entropy change, structured": "ΔH tok S",
    "entropy change, creative": "ΔH tok C",
    "answer entropy change, structured": "ΔH ans S",
    "answer entropy change, creative": "ΔH ans C",
}


def _cell(interval: dict | None, best: bool = False, signed: bool = False) -> str:
    if not interval:
        return "-"
    text = f"{interval['mean']:+.3f}" if signed else f"{interval['mean']:.3f}"
    if interval.get("half") is not None:
        text += f"±{interval['half']:.3f}"
    return f"[bold green]{text}*[/]" if best else text


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("arm", no_wrap=True)
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    return table


def render_experiment(comparison: dict[str, Any], console: Console, budget: float | None = None) -> None:
    arms = [a for a in comparison["arms"] if a["seeds"]]
    baseline = comparison["baseline"]
    if not arms:
        console.print("[red]no run finished: nothing to compare[/]")
    else:
        seeds = "/".join(map(str, sorted({a["seeds"] for a in arms})))
        best = comparison["best"]
        table = _table(
            f"final held-out score (greedy), mean±half of the 95% t interval over {seeds} seed(s)",
            "overall",
            "normalized",
            f"vs {baseline}",
            "verdict",
            "train FLOPs",
            "steps",
            "min",
        )
        for a in arms:
            name = a["arm"] + (" (baseline)" if a["arm"] == baseline else "")
            table.add_row(
                escape(name),
                _cell(a["overall"], a["arm"] in best.get("overall", [])),
                _cell(a["normalized"], signed=True),
                _cell(a.get("paired"), signed=True),
                _verdict(a),
                _flops(a["training_flops"]),
                f"{a['steps']:.0f}" if a["steps"] is not None else "-",
                f"{a['seconds'] / 60:.1f}" if a["seconds"] else "-",
            )
        console.print(table)
        console.print(
            "[dim]overall: mean over tasks per seed, then over seeds; normalized: a gain as a share of the headroom "
            "(final - start) / (1 - start), a loss as a share of the start (final - start) / start, in [-1, 1]; "
            f"vs {escape(baseline)}: the mean paired difference of the overall score, seed by seed[/]"
        )
        tasks = comparison["tasks"]
        table = _table(
            "final held-out score per task (* = best mean of the column)",
            *(f"{t['task']} ({t['kind'][0].upper()})" for t in tasks),
        )
        for a in arms:
            cells = [_cell(a["tasks"].get(t["task"]), a["arm"] in best.get(t["task"], [])) for t in tasks]
            table.add_row(escape(a["arm"]), *cells)
        console.print(table)
        table = _table("drift and diversity (mean over tasks per seed, then over seeds)", *SHORT.values())
        for a in arms:
            table.add_row(escape(a["arm"]), *[_cell(a["signals"][name], signed=True) for name in SHORT])
        console.print(table)
        console.print(
            "[dim]dip: start - lowest score; forget: best - final score; KL base: KL to the base at the last "
            "evaluation; ΔH tok: per-token entropy change (nats), ΔH ans: entropy of the k sampled answers (nats), "
            "last - first evaluation; S structured, C creative tasks[/]"
        )
        if budget is not None:
            realized = [b for a in arms for b in a["budgets"]]
            spread = max(abs(b / budget - 1.0) for b in realized) if realized else 0.0
            console.print(
                f"compute matched: budget {_flops(budget)} training FLOPs; the runs used "
                f"{_flops(min(realized))} to {_flops(max(realized))} (within {100 * spread:.2f}% of the budget)",
                highlight=False,
            )
        console.print(f"[bold]against {escape(baseline)}[/] (paired by seed, mean {comparison['metric']}):")
        for a in arms:
            if "line" in a:
                colour = {"better": "green", "worse": "red"}.get(a["verdict"], "yellow")
                console.print(f"  [{colour}]{escape(a['line'])}[/]")
    for f in comparison["failed"]:
        console.print(
            f"[red]failed:[/] {escape(f['arm'])} seed {f['seed']}: {escape(f['error'] or '')} ({f['folder']})"
        )


def _verdict(arm: dict) -> str:
    said = arm.get("verdict")
    if said is None:
        return "-"
    if said.startswith("no difference"):
        return "no difference"
    return f"[{'green' if said == 'better' else 'red'}]{said}[/]"


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
