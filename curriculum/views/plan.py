"""Render a plan (`curriculum.report.plan.plan_summary`): stages, mu over steps, per-task SFT/RL totals."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from curriculum.views.charts import mu_chart


def render_plan(plan: dict[str, Any], console: Console) -> None:
    console.print(
        f"[bold]plan[/] {plan['name']}: schedule [bold]{plan['schedule']}[/], {plan['steps']} steps, "
        f"seed {plan['seed']}, G = {plan['group_size']} rollouts per prompt"
    )
    if plan["adaptive"]:
        console.print(
            f"[dim]{plan['schedule']} decides from what the run measures: this plan is its decisions with no "
            "measurements; the run's decisions (decisions.parquet) follow its evals and rewards[/]"
        )
    if plan["order"] is not None:
        note = f"task stages ({plan['order']})"
        if plan["probe_steps"]:
            note += (
                f": the order shown is the fallback (structured first); the run picks its order after a probe of "
                f"{plan['probe_steps']} steps per task ({plan['probe_compute_steps']} steps of compute)"
            )
        console.print(note)

    table = Table(title="stages (SFT demonstrations, RL prompts and rollouts per step)", title_justify="left")
    for col in ("stage", "steps", "mu", "SFT", "RL", "rollouts", "SFT weights"):
        left = col in ("stage", "SFT weights")
        table.add_column(col, justify="left" if left else "right", no_wrap=True)
    for s in plan["stages"]:
        first, last = s["mu"]
        mu = f"{first:.3f}" if first == last else f"{first:.3f} → {last:.3f}"
        weighting = ", ".join(s["sft_weighting"] or ["-"])
        table.add_row(
            s["name"],
            f"{s['first']}-{s['last']}",
            mu,
            f"{s['sft_per_step']:g}",
            f"{s['rl_per_step']:g}",
            f"{s['rollouts_per_step']:g}",
            weighting,
        )
    console.print(table)

    console.print("mu over steps")
    for line in mu_chart(plan["mu"]):
        console.print(line, highlight=False)

    table = Table(title="tasks", title_justify="left")
    columns = ("task", "kind", "weight", "SFT pool", "SFT rows", "epochs", "RL pool", "RL prompts", "rollouts", "eval")
    for col in columns:
        left = col in ("task", "kind")
        table.add_column(col, justify="left" if left else "right", no_wrap=left)
    for t in plan["tasks"]:
        table.add_row(
            t["task"],
            t["kind"],
            f"{t['weight']:g}",
            str(t["sft_pool"]),
            str(t["sft_rows"]),
            f"{t['epochs']:.1f}",
            str(t["rl_pool"]),
            str(t["rl_prompts"]),
            str(t["rollouts"]),
            str(t["eval"]),
        )
    table.add_section()
    totals = plan["totals"]
    table.add_row(
        "total", "", "", "", str(totals["sft_rows"]), "", "", str(totals["rl_prompts"]), str(totals["rollouts"]), ""
    )
    console.print(table)
    cost = plan.get("cost")
    if cost:
        e, u = cost["expected"], cost["upper"]
        full = u["generated_tokens"]
        console.print(
            f"cost (estimated, N = {cost['params']:,} parameters): [bold]{e['training_flops']:.3g}[/] training FLOPs "
            f"expected, {u['training_flops']:.3g} with every response max_new_tokens long; tokens trained: "
            f"SFT {e['sft_tokens']:,.0f}, RL {e['rl_tokens']:,.0f}; generated {e['generated_tokens']:,.0f} "
            f"({full:,.0f} at full length)",
            highlight=False,
        )
        console.print(
            "[dim]expected: responses as long as the task's demonstrations; full length: every response "
            "max_new_tokens; FLOPs = 6N x trained tokens + 2N x (prompt prefill + generated + KL reference) tokens; "
            "a bwt_order probe's bursts and gated demonstrations are not in these figures[/]"
        )
    for note in (cost or {}).get("truncated", []):
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    if plan["repeated"]:
        repeated = ", ".join(f"{task} {epochs:.1f}x" for task, epochs in plan["repeated"])
        console.print(f"[yellow]note:[/] demonstrations are trained on many times ({repeated}): expect SFT overfitting")
