"""Render a plan (`curriculum.report.plan.plan_summary`): the stages as a timeline with each task's share of
their rows, mu over steps, per-task totals with prerequisites, the cost; and two plans side by side
(`render_plan_diff`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from curriculum.views.charts import mu_chart, sparkline

TIMELINE_WIDTH = 24  # characters of the stage timeline bar
SHOWN_SHARES = 4  # tasks named in a stage's share column before "+N more"
SHOWN_TASKS = 40  # task and stage rows shown before the rest are summed (all with --all-tasks)
MODES = {
    "planned": "",
    "nominal": "nominal: the adaptive schedule's decisions with no measurements",
    "simulated": "simulated: the schedule reacting to surrogate learning curves, not to a model",
}


def count(x: float) -> str:
    """A planned count: whole when it is whole (the run's rows are whole, within one row of a share)."""
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-6 else f"{x:,.1f}"


def timeline_bar(first: int, last: int, steps: int, width: int = TIMELINE_WIDTH) -> str:
    """Where steps first..last fall in 0..steps-1, as `width` cells: cells round(first * width / steps) up to
    round((last + 1) * width / steps), so neighbouring stages meet without overlapping; at least one cell."""
    lo = min(round(first * width / steps), width - 1)
    hi = max(lo + 1, round((last + 1) * width / steps))
    return "·" * lo + "█" * (hi - lo) + "·" * (width - hi)


def share_text(shares: dict[str, dict[str, float]]) -> str:
    """Each task's share of a stage's demonstrations / prompts: 'a 67/50%, b 33/50%'; equal shares once."""
    if not shares:
        return "-"
    pairs = {t: (round(100 * s["sft"]), round(100 * s["rl"])) for t, s in shares.items()}
    if len(pairs) > 1 and len(set(pairs.values())) == 1:
        sft, rl = next(iter(pairs.values()))
        return f"{len(pairs)} tasks, {sft}/{rl}% each"
    ranked = sorted(pairs.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))
    text = ", ".join(f"{t} {sft}/{rl}%" for t, (sft, rl) in ranked[:SHOWN_SHARES])
    return text + (f", +{len(ranked) - SHOWN_SHARES} more" if len(ranked) > SHOWN_SHARES else "")


def render_plan(plan: dict[str, Any], console: Console, all_tasks: bool = False) -> None:
    mode = plan.get("mode", "planned")
    console.print(
        f"[bold]plan[/] {plan['name']}: schedule [bold]{plan['schedule']}[/] ([bold]{mode}[/]), {plan['steps']:,} "
        f"steps, seed {plan['seed']}, G = {plan['group_size']} rollouts per prompt"
    )
    if mode == "nominal":
        console.print(
            f"[dim]{plan['schedule']} decides from what the run measures: this plan is its decisions with no "
            "measurements (nominal); the run's decisions (decisions.parquet) follow its evals and rewards; "
            "--simulate shows it reacting to surrogate learning curves[/]"
        )
    elif mode == "simulated":
        console.print(f"[dim]{(plan.get('simulation') or {}).get('description', MODES['simulated'])}[/]")
    if plan["order"] is not None:
        note = f"task stages ({plan['order']})"
        if plan["probe_steps"]:
            note += (
                f": the order shown is the fallback (structured first); the run picks its order after a probe of "
                f"{plan['probe_steps']} steps per task ({plan['probe_compute_steps']} steps of compute)"
            )
        console.print(note)
    console.print(f"timeline: steps 0 → {plan['steps'] - 1}")
    hidden = 0 if all_tasks else max(0, len(plan["stages"]) - SHOWN_TASKS)
    for line in timeline(plan, min(console.width, 100))[: len(plan["stages"]) - hidden]:
        console.print(line, highlight=False)
    if hidden:
        console.print(f"... {hidden} more stages (--all-tasks lists every stage and task)")
    console.print(stage_table(plan, all_tasks))
    console.print("mu over steps" + (f" ({mode})" if mode != "planned" else ""))
    for line in mu_chart(plan["mu"]):
        console.print(line, highlight=False)
    console.print(task_table(plan, all_tasks))
    if plan.get("simulation"):
        console.print(simulation_table(plan["simulation"], plan["tasks"], all_tasks))
    _cost(plan.get("cost"), console)
    if plan["repeated"]:
        shown = plan["repeated"][:SHOWN_SHARES]
        repeated = ", ".join(f"{task} {epochs:.1f}x" for task, epochs in shown)
        more = len(plan["repeated"]) - len(shown)
        repeated += f" and {more} more" if more else ""
        console.print(f"[yellow]note:[/] demonstrations are trained on many times ({repeated}): expect SFT overfitting")


def timeline(plan: dict[str, Any], width: int) -> list[str]:
    """The stages as bars over the run's steps, one line each, `width` characters wide in all."""
    names = max(len(s["name"]) for s in plan["stages"])
    spans = [f"{s['first']}-{s['last']}" for s in plan["stages"]]
    bar = max(8, min(64, width - names - max(map(len, spans)) - 3))
    return [
        f"{s['name']:<{names}} {timeline_bar(s['first'], s['last'], plan['steps'], bar)} {span}"
        for s, span in zip(plan["stages"], spans)
    ]


def stage_table(plan: dict[str, Any], all_stages: bool = True) -> Table:
    table = Table(
        title="stages: rows per step, each task's share of the stage's demonstrations/prompts (SFT/RL)",
        title_justify="left",
    )
    weighted = any(w != "none" for s in plan["stages"] for w in s["sft_weighting"])
    columns = ["stage", "steps", "mu", "SFT", "RL", "rollouts"] + (["SFT weights"] if weighted else []) + ["shares"]
    for col in columns:
        left = col in ("stage", "SFT weights", "shares")
        table.add_column(col, justify="left" if left else "right", no_wrap=col != "shares")
    stages = plan["stages"] if all_stages else plan["stages"][:SHOWN_TASKS]
    for s in stages:
        first, last = s["mu"]
        mu = f"{first:.3f}" if abs(first - last) < 5e-4 else f"{first:.3f} → {last:.3f}"
        cells = [s["name"], f"{s['first']}-{s['last']}", mu]
        cells += [f"{s['sft_per_step']:g}", f"{s['rl_per_step']:g}", f"{s['rollouts_per_step']:g}"]
        cells += [", ".join(s["sft_weighting"] or ["-"])] if weighted else []
        table.add_row(*cells, share_text(s.get("shares", {})))
    if len(stages) < len(plan["stages"]):
        rest = plan["stages"][len(stages) :]
        table.add_section()
        table.add_row(f"... {len(rest)} more", f"{rest[0]['first']}-{rest[-1]['last']}", *[""] * (len(columns) - 2))
    return table


def task_table(plan: dict[str, Any], all_tasks: bool = False) -> Table:
    rows = plan["tasks"]
    requires = any(t.get("requires") for t in rows)
    table = Table(title="tasks", title_justify="left")
    columns = ["task", "kind", "weight"] + (["requires"] if requires else [])
    columns += ["SFT pool", "SFT rows", "epochs", "RL pool", "RL prompts", "rollouts", "eval"]
    for col in columns:
        left = col in ("task", "kind", "requires")
        table.add_column(col, justify="left" if left else "right", no_wrap=left)

    def add(name: str, kind: str, weight: str, req: str, sft_pool: str, t: dict, epochs: str, rl_pool: str, ev: str):
        cells = [name, kind, weight] + ([req] if requires else [])
        cells += [sft_pool, count(t["sft_rows"]), epochs, rl_pool, count(t["rl_prompts"]), count(t["rollouts"]), ev]
        table.add_row(*cells)

    shown = rows if all_tasks else rows[:SHOWN_TASKS]
    for t in shown:
        add(t["task"], t["kind"], f"{t['weight']:g}", ", ".join(t.get("requires", [])) or "-", str(t["sft_pool"]), t,
            f"{t['epochs']:.1f}", str(t["rl_pool"]), str(t["eval"]))  # fmt: skip
    if len(shown) < len(rows):
        table.add_section()
        rest = rows[len(shown) :]
        add(f"... {len(rest)} more", "(--all-tasks)", "", "", "", _sum(rest), "", "", "")
    kinds = sorted({t["kind"] for t in rows})
    table.add_section()
    if len(kinds) > 1:
        for kind in kinds:
            of_kind = [t for t in rows if t["kind"] == kind]
            add(f"{kind} ({len(of_kind)})", kind, "", "", "", _sum(of_kind), "", "", "")
    add("total", "", "", "", "", plan["totals"], "", "", "")
    return table


def simulation_table(sim: dict[str, Any], tasks: list[dict], all_tasks: bool = False) -> Table:
    """The surrogate's curves the simulated schedule reacted to: per task its score at each evaluation (a
    sparkline over 0-1), first -> last score and entropy."""
    table = Table(title="surrogate learning curves (simulated, not a model)", title_justify="left")
    for col in ("task", "kind", "score at each eval", "score", "entropy"):
        table.add_column(col, justify="left" if col in ("task", "kind", "score at each eval") else "right")
    for t in tasks if all_tasks else tasks[:SHOWN_TASKS]:
        scores, entropy = sim["scores"].get(t["task"], []), sim["entropy"].get(t["task"], [])
        if not scores:
            continue
        values = [v for _, v in scores]
        table.add_row(
            t["task"],
            t["kind"],
            sparkline(values[-48:]),
            f"{values[0]:.2f} → {values[-1]:.2f}",
            f"{entropy[0][1]:.2f} → {entropy[-1][1]:.2f}" if entropy else "-",
        )
    return table


def _sum(rows: list[dict]) -> dict[str, float]:
    return {key: sum(r[key] for r in rows) for key in ("sft_rows", "rl_prompts", "rollouts")}


def _cost(cost: dict | None, console: Console) -> None:
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


def render_plan_diff(a: dict[str, Any], b: dict[str, Any], rows: list[dict[str, Any]], console: Console) -> None:
    """Two plans side by side (`curriculum.report.plan.plan_diff`): differing rows marked `≠`, with B / A for
    numbers; then each plan's mu over steps."""
    changed = sum(r["differs"] for r in rows)
    table = Table(title=f"plan A against plan B: {changed} of {len(rows)} figures differ (≠)", title_justify="left")
    for col, justify in (("", "left"), ("figure", "left"), ("A", "right"), ("B", "right"), ("B / A", "right")):
        table.add_column(col, justify=justify, no_wrap=col in ("", "figure"))
    per_task = [r for r in rows if ": " in r["figure"]]
    hidden = []
    if len(per_task) > 2 * SHOWN_TASKS:  # many tasks: only the ones that differ
        hidden = [r for r in per_task if not r["differs"]]
        same = {id(r) for r in hidden}
        rows = [r for r in rows if id(r) not in same]
    for r in rows:
        style = "yellow" if r["differs"] else None
        ratio = ""
        if r["differs"] and isinstance(r["a"], int | float) and isinstance(r["b"], int | float) and r["a"]:
            ratio = f"{r['b'] / r['a']:.3g}x"
        table.add_row("≠" if r["differs"] else "", r["figure"], _cell(r["a"]), _cell(r["b"]), ratio, style=style)
    console.print(table)
    if hidden:
        console.print(f"[dim]{len(hidden)} per-task figures that are the same in both plans are not shown[/]")
    for name, plan in (("A", a), ("B", b)):
        console.print(f"mu over steps, plan {name} ({plan['schedule']}, {plan['mode']})")
        for line in mu_chart(plan["mu"], height=3):
            console.print(line, highlight=False)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and abs(value) >= 1e7:
        return f"{value:.3g}"
    if isinstance(value, float) and abs(value) >= 1000:
        return f"{value:,.0f}"
    if isinstance(value, float) and value < 1 and value != 0:
        return f"{value:.3f}"
    if isinstance(value, int | float):
        return count(value)
    return str(value)
