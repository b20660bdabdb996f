"""Render a report (`curriculum.report.build_report`), what `curriculum inspect` prints: each task's base, best
and final score, entropy and answer diversity first -> last and KL to the base model, with means per task kind;
the accuracy matrix R as a heat table with ACC, BWT, FWT (both normalizations), forgetting and intransigence;
the entropy trend (and planning / execution entropy when logged); update sparsity in float32 and bfloat16 (and,
for runs from one base, the overlap of their changed parameters); each task's score curve and its phases; the
bwt_order probe against what the run realized; planned vs actual mix. The KL section's first value (0 at the
base) is in the JSON only."""

from __future__ import annotations

from typing import Any, Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from curriculum.views.charts import HEAT, heat_style, sparkline


def _f(value: Any, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.3g}%"


def _change(start: Any, end: Any, spec: str = ".3f") -> str:
    return "-" if start is None and end is None else f"{_f(start, spec)} -> {_f(end, spec)}"


def _table(title: str, columns: list[str], left: int = 1) -> Table:
    """A table whose first `left` columns are text (left-aligned), the rest numbers."""
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i < left else "right", no_wrap=i < left)
    return table


def _note(console: Console, what: str, note: str) -> None:
    console.print(f"[dim]{escape(what)}: {escape(note)}[/]")


def render_report(report: dict, console: Console) -> None:
    for run in report["runs"]:
        render_run(run, console)
    if len(report["runs"]) > 1:
        render_overlap(report["overlap"], console)


def render_run(r: dict, console: Console) -> None:
    model = r.get("model") or {}
    seconds = f", {r['seconds']:g} s" if isinstance(r.get("seconds"), (int, float)) else ""
    if r.get("ranks"):
        seconds += f", {r['ranks']['world']} processes ({r['ranks']['parallel']})"
    console.print(
        f"[bold]run[/] {escape(str(r.get('name')))}: {escape(r['run'])}\n"
        f"schedule {r.get('schedule') or '-'}, model {escape(str(model.get('name', '-')))}, "
        f"seed {r.get('seed')}, status {r.get('status') or '-'}{seconds}"
    )
    if r["stages"]:
        console.print("stages: " + ", ".join(f"{s['name']} {s['first']}-{s['last']}" for s in r["stages"]))
    render_per_task(r["per_task"], console)
    render_accuracy(r["accuracy"], console)
    render_entropy_trend(r["entropy"], console)
    render_sparsity(r["sparsity"], console)
    render_phases(r["phases"], console)
    if r["order"] is not None:
        render_order(r["order"], console)
    if r.get("mix"):
        render_mix(r["mix"], console)
    console.print()


def render_per_task(p: dict, console: Console) -> None:
    """Each task's score base, best (at its step) and final, entropy and unique first -> last, KL to base at the
    last eval; the means per kind below."""
    columns = ["task", "kind", "base", "best @step", "final", "entropy", "unique", "KL"]
    steps = f"step {p['first_step']} -> {p['last_step']}"
    table = _table(f"per task: score, entropy (nats), unique, KL to base (last), {steps}", columns, left=2)

    def cells(row: dict) -> list[str]:
        best = _f(row["best"]) + (f" @{row['best_step']}" if row.get("best_step") is not None else "")
        entropy, unique = (_change(row[f"{m}_start"], row[f"{m}_end"]) for m in ("entropy", "unique"))
        return [_f(row["base"]), best, _f(row["final"]), entropy, unique, _f(row["kl_end"], ".4f")]

    _task_and_kind_rows(table, p, cells)
    console.print(table)


def _task_and_kind_rows(table: Table, section: dict, cells: Callable[[dict], list]) -> None:
    """A row per task, then a row per task kind with its mean ("mean (4)"), each task's or kind's cells."""
    for row in section["tasks"]:
        table.add_row(row["task"], row["kind"], *cells(row))
    table.add_section()
    for row in section["kinds"]:
        table.add_row(f"mean ({row['tasks']})", row["kind"], *cells(row))


def _heat_cell(value: float | None) -> Text:
    """A score cell of a heat table: the number as printed, on the colour of its band (of the printed number)."""
    return Text(_f(value), style=heat_style(None if value is None else round(value, 3)), justify="right")


def _heat_legend() -> Text:
    legend = Text("colour of a score: ")
    for i, style in enumerate(HEAT):
        legend.append(f" {i / len(HEAT):.1f}-{(i + 1) / len(HEAT):.1f} ", style=style)
    return legend


def render_accuracy(a: dict, console: Console) -> None:
    if "rows" not in a:
        _note(console, "accuracy matrix", a["note"])
        return
    title = "accuracy matrix R: score after each stage" + (" (columns in stage order)" if a["staged"] else "")
    table = _table(title, ["row", "step", *a["tasks"]])
    if console.color_system:  # without colours the legend says nothing
        table.caption, table.caption_justify = _heat_legend(), "left"
    for name, step, row in zip(["base", *a["stages"]], a["steps"], a["rows"]):
        table.add_row(name, str(step), *(_heat_cell(v) for v in row))
    table.add_section()
    table.add_row("forgetting", "", *(_f(a["forgetting"][t]) for t in a["tasks"]))
    if a["intransigence"] is not None:
        table.add_row("intransigence", "", *(_f(a["intransigence"].get(t)) for t in a["tasks"]))
    console.print(table)
    metrics = _table("transfer", ["metric", "value"])
    metrics.add_row("ACC" if a["square"] else "mean final score", _f(a["acc"]))
    for name in ("bwt", "fwt"):
        metrics.add_row(f"{name.upper()} paper 1/(T-1)", _f(a[name]["paper"]))
        metrics.add_row(f"{name.upper()} GEM code 1/T", _f(a[name]["gem_code"]))
    metrics.add_row("average forgetting", _f(a["average_forgetting"]))
    console.print(metrics)
    if a["undefined"]:
        _note(console, "BWT, FWT undefined", a["undefined"])
    _note(console, "forgetting", a["forgetting_rule"])
    _note(console, "intransigence", a["intransigence_reference"])
    if a.get("note"):
        _note(console, "accuracy matrix", a["note"])


def render_entropy_trend(e: dict, console: Console) -> None:
    """Each task's entropy slope over the last evals, and planning and execution entropy first -> last when the
    run logged them; the means per kind below. (Entropy and unique first -> last are in the per-task table.)"""
    if "tasks" not in e:
        _note(console, "entropy", e["note"])
        return
    columns = ["task", "kind", f"slope/step (last {e['window']})"]
    columns += ["planning entropy", "execution entropy"] if e["planning"] else []
    table = _table(f"entropy trend (nats): step {e['first_step']} -> {e['last_step']}", columns, left=2)

    def cells(row: dict) -> list[str]:
        out = [_f(row["slope"], "+.2e")]
        if e["planning"]:
            out += [_change(row[f"{m}_start"], row[f"{m}_end"]) for m in ("entropy_plan", "entropy_exec")]
        return out

    _task_and_kind_rows(table, e, cells)
    console.print(table)


def render_sparsity(s: dict, console: Console) -> None:
    if "figures" not in s:
        _note(console, "update sparsity", s["note"])
        return
    tol = f"|delta| > {s['tol']:g}"
    title = f"update sparsity: {s['checkpoint']} vs the base model, {s['total']:,} parameters"
    table = _table(title, ["dtype", "changed", tol])
    for fig in s["figures"]:
        table.add_row(fig["dtype"], _pct(fig["changed"]), _pct(fig["beyond_tol"]))
    console.print(table)
    table = _table(
        "modules that moved most", ["module", "params", f"float32 {tol}", "float32 changed", "bfloat16 changed"]
    )
    for m in s["modules"]:
        cells = (_pct(m["float32_beyond_tol"]), _pct(m["float32_changed"]), _pct(m["bfloat16_changed"]))
        table.add_row(m["module"], f"{m['params']:,}", *cells)
    console.print(table)


def render_overlap(overlap: list[dict], console: Console) -> None:
    if not overlap:
        _note(console, "changed-set overlap", "needs two runs from the same base model, each with a checkpoint")
        return
    names = list(dict.fromkeys(run for o in overlap for run in o["runs"]))
    console.print("changed-set overlap between runs " + ", ".join(f"#{i + 1} {n}" for i, n in enumerate(names)))
    console.print("[dim]mask fp32: |delta| > tol in float32; bf16: any change after rounding both to bfloat16[/]")
    columns = ["runs", "mask", "|A|", "|B|", "overlap", "chance", "ratio", "jaccard"]
    table = _table("changed-set overlap: same parameters, or chance?", columns, left=2)
    for o in overlap:
        pair = " & ".join(f"#{names.index(run) + 1}" for run in o["runs"])
        if "note" in o:
            table.add_row(pair, o["mask"], *(["-"] * 5), escape(o["note"]))  # a note: shown whole
            continue
        mask = "fp32" if o["mask"].startswith("float32") else "bf16" if o["mask"].startswith("bfloat16") else o["mask"]
        numbers = (str(o["a"]), str(o["b"]), str(o["overlap"]), f"{o['expected']:.0f}")
        table.add_row(pair, mask, *numbers, _f(o["ratio"], ".3f"), _f(o["jaccard"]))
    console.print(table)


def render_phases(p: dict, console: Console) -> None:
    loss = "with the SFT loss" if p["sft_loss"] else "no SFT loss logged: score alone"
    steps = sorted({s for row in p["tasks"] for s in row["steps"]})
    table = Table(title=f"phases of the held-out score ({loss}): label and score at each eval", title_justify="left")
    table.add_column("task", no_wrap=True)
    table.add_column("curve", no_wrap=True)  # the score at each eval, 0 to 1
    for step in steps:
        table.add_column(f"@{step}", justify="right", min_width=7)  # "readapt" whole
    for row in p["tasks"]:
        cells = {s: f"{label}\n{score:.2f}" for s, label, score in zip(row["steps"], row["labels"], row["scores"])}
        table.add_row(row["task"], sparkline(row["scores"]), *(cells.get(s, "-") for s in steps))
    console.print(table)


def render_order(o: dict, console: Console) -> None:
    realized = ", ".join(o["realized_order"] or []) or "-"
    console.print(
        f"[bold]bwt_order probe[/] (order.json): method {o['method']}, order {', '.join(o['order'])} "
        f"(realized: {realized}), objective {_f(o['objective'])}, probe steps per task {o['probe_steps']}, "
        f"probe compute steps {o['probe_compute_steps']}"
    )
    if o["D"] is not None:
        tasks = o["D"]["tasks"]
        table = _table("transfer matrix D: score change of each task after a probe burst", ["probe \\ task", *tasks])
        for probe, row in zip(tasks, o["D"]["rows"]):
            table.add_row(probe, *(_f(v, "+.3f") for v in row))
        console.print(table)
    table = _table("predicted vs realized final score", ["task", "predicted", "realized", "realized - predicted"])
    for s in o["scores"]:
        table.add_row(s["task"], _f(s["predicted"]), _f(s["realized"]), _f(s["diff"], "+.3f"))
    table.add_section()
    diff = None if None in (o["mean_predicted"], o["mean_realized"]) else o["mean_realized"] - o["mean_predicted"]
    table.add_row("mean", _f(o["mean_predicted"]), _f(o["mean_realized"]), _f(diff, "+.3f"))
    console.print(table)
    if "rows" in o:
        rows = o["rows"]
        table = _table("R realized / predicted: score after each stage", ["row", *rows["tasks"]])
        for name, real, pred in zip(rows["after"], rows["realized"], rows["predicted"]):
            table.add_row(name, *(f"{_f(a)} / {_f(b)}" for a, b in zip(real, pred)))
        console.print(table)
    else:
        _note(console, "predicted R", o["rows_note"])


def _drift(value: float | None) -> str:
    return "-" if value is None else f"{value:+.0%}"


def render_mix(m: dict, console: Console) -> None:
    """Planned vs actual SFT rows and RL prompts per task, drift beyond the threshold marked."""
    if "note" in m:
        _note(console, "planned vs actual mix", m["note"])
        return
    table = _table(
        f"planned vs actual mix over {m['steps']} steps (! = drift beyond {m['threshold']:.0%})",
        ["task", "SFT planned", "SFT actual", "drift", "RL planned", "RL actual", "drift", ""],
    )
    for t in m["tasks"]:
        table.add_row(
            t["task"], str(t["planned_sft"]), str(t["actual_sft"]), _drift(t["drift_sft"]), str(t["planned_rl"]),
            str(t["actual_rl"]), _drift(t["drift_rl"]), "[bold red]![/]" if t["flagged"] else "",
        )  # fmt: skip
    console.print(table)


def render_decisions(rows: list[dict], console: Console) -> None:
    """The decisions with their `why`: step, stage, mu, SFT rows / RL prompts per task."""
    table = _table("decisions", ["step", "stage", "mu", "SFT/RL per task", "why"], left=5)
    for r in rows:
        mix = "  ".join(f"{t} {s}/{p}" for t, (s, p) in r["mix"].items() if s or p)
        table.add_row(str(r["step"]), str(r["stage"]), _f(r["mu"], ".2f"), escape(mix), escape(str(r["why"] or "")))
    console.print(table)
