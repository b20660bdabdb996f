"""Pictures of a run (`curriculum plot`): PNG figures drawn with matplotlib from `curriculum.report.plots`
data, and an `index.md` that shows them with the key numbers. Data in, files out."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

PHASE_COLORS = {"shift": "#d62728", "readapt": "#ff7f0e", "overfit": "#9467bd", "gain": "#2ca02c"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    import matplotlib.pyplot as plt

    return plt


def _stage_lines(ax: Any, stages: list[dict], label: bool = True) -> None:
    for s in stages[:-1]:
        ax.axvline(s["end"], color="0.5", linestyle=":", linewidth=1)
    if label:
        for s in stages:
            ax.text((s["first"] + s["end"]) / 2, 1.0, s["name"], transform=ax.get_xaxis_transform(), ha="center",
                    va="bottom", fontsize=7, color="0.35")  # fmt: skip


def _xy(points: list) -> tuple[list, list]:
    return [p[0] for p in points], [p[1] for p in points]


def scores_figure(data: dict, path: Path) -> str:
    plt = _pyplot()
    tasks = list(data["curves"])
    cols = min(3, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False, sharex=True)
    seen = set()
    for ax, task in zip(axes.flat, tasks):
        curve = data["curves"][task]
        steps, labels = [s for s, _ in curve["phases"]], [lab for _, lab in curve["phases"]]
        for i in range(1, len(steps)):
            color = PHASE_COLORS.get(labels[i])
            if color:
                ax.axvspan(
                    steps[i - 1],
                    steps[i],
                    color=color,
                    alpha=0.15,
                    lw=0,
                    label=None if labels[i] in seen else labels[i],
                )
                seen.add(labels[i])
        ax.plot(*_xy(curve["score"]), marker="o", ms=3, label="greedy" if task == tasks[0] else None)
        ax.plot(*_xy(curve["sampled"]), linestyle="--", label="sampled (mean@k)" if task == tasks[0] else None)
        _stage_lines(ax, data["stages"])
        ax.set_title(f"{task} ({curve['kind']})", fontsize=10, pad=12)
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("step")
    handles, names = [], []
    for ax in axes.flat:
        h, n = ax.get_legend_handles_labels()
        handles += h
        names += n
    fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=8, frameon=False)
    fig.suptitle(f"{data['name']}: held-out score per task, phases shaded, stages marked", fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return "held-out greedy and sampled score of each task over steps; phases (shift, readapt, overfit, gain) shaded"


def _per_task_lines(data: dict, key: str, path: Path, ylabel: str, title: str) -> bool:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    drawn = False
    for task, curve in data["curves"].items():
        points = [p for p in curve[key] if p[1] is not None]
        if points:
            style = "-" if curve["kind"] == "structured" else "--"
            ax.plot(*_xy(points), style, marker="o", ms=3, label=f"{task} ({curve['kind']})")
            drawn = True
    _stage_lines(ax, data["stages"])
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11, pad=14)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=8, ncol=2)
    _save(fig, path)
    return drawn


def mu_figure(data: dict, path: Path) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3))
    if data["mu"]["planned"]:
        ax.plot(*_xy(data["mu"]["planned"]), color="0.6", linewidth=4, alpha=0.6, label="planned")
    ax.plot(*_xy(data["mu"]["executed"]), color="tab:blue", linewidth=1.2, label="executed")
    _stage_lines(ax, data["stages"])
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("step")
    ax.set_ylabel("mu (SFT weight)")
    ax.set_title(f"mu over steps ({data['schedule']})", fontsize=11, pad=14)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)
    return "the SFT weight mu the schedule planned (grey) and the one each step used (blue)"


def accuracy_figure(data: dict, path: Path) -> str | None:
    acc = data["accuracy"]
    if "rows" not in acc:
        return None
    plt = _pyplot()
    rows, tasks = acc["rows"], acc["tasks"]
    labels = ["start"] + [f"after {s}" for s in acc["stages"]]
    fig, ax = plt.subplots(figsize=(1.1 * len(tasks) + 2, 0.6 * len(rows) + 1.8))
    image = ax.imshow(rows, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(tasks)), tasks, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), labels[: len(rows)], fontsize=8)
    bwt, fwt = acc["bwt"].get("paper"), acc["fwt"].get("paper")
    extra = "".join(f", {k} {v:+.3f}" for k, v in (("BWT", bwt), ("FWT", fwt)) if v is not None)
    ax.set_title(f"accuracy matrix R (score at each stage end): ACC {acc['acc']:.3f}{extra}", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.03)
    _save(fig, path)
    return "held-out score of every task (columns) at the start and at the end of each stage (rows)"


def mix_figure(data: dict, path: Path) -> str:
    plt = _pyplot()
    tasks = list(data["mix"]["actual"])
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(tasks) + 2), 3.5))
    width = 0.2
    bars = [
        ("SFT rows planned", data["mix"]["planned"], "sft", "#aec7e8"),
        ("SFT rows actual", data["mix"]["actual"], "sft", "#1f77b4"),
        ("RL prompts planned", data["mix"]["planned"], "rl", "#ffbb78"),
        ("RL prompts actual", data["mix"]["actual"], "rl", "#ff7f0e"),
    ]
    for k, (label, mix, part, color) in enumerate(bars):
        xs = [i + (k - 1.5) * width for i in range(len(tasks))]
        ax.bar(xs, [mix.get(t, {}).get(part, 0) for t in tasks], width, label=label, color=color)
    ax.set_xticks(range(len(tasks)), tasks, fontsize=8)
    ax.set_ylim(0, 1.4 * max([1] + [m[t][p] for m in data["mix"].values() for t in tasks for p in ("sft", "rl")]))
    ax.set_ylabel("rows over the run")
    ax.set_title("planned vs actual mix per task", fontsize=11)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3, axis="y")
    _save(fig, path)
    return "SFT demonstrations and RL prompts per task over the run: planned (light) and trained (dark)"


def _save(fig, path: Path) -> None:
    """Lay the figure out, write it as a PNG and free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)


def write_plots(data: dict, out: Path) -> list[tuple[str, str]]:
    """Write the run's figures and index.md into `out`; returns (file, what it shows) of each figure."""
    out.mkdir(parents=True, exist_ok=True)
    figures = [("scores.png", scores_figure(data, out / "scores.png"))]
    if _per_task_lines(data, "entropy", out / "entropy.png", "entropy (nats per token)",
                       "per-token entropy of sampled completions (structured solid, creative dashed)"):  # fmt: skip
        figures.append(("entropy.png", "per-token entropy of each task's sampled eval completions over steps"))
    if _per_task_lines(data, "kl_base", out / "kl.png", "KL(base || policy) per token", "drift from the base model"):
        figures.append(("kl.png", "forward KL from the base model on each task's eval prompts over steps"))
    figures.append(("mu.png", mu_figure(data, out / "mu.png")))
    if (text := accuracy_figure(data, out / "accuracy.png")) is not None:
        figures.append(("accuracy.png", text))
    figures.append(("mix.png", mix_figure(data, out / "mix.png")))
    (out / "index.md").write_text(_index(data, figures), encoding="utf-8")
    return figures


def _figure_sections(figures: list[tuple[str, str]]) -> list[str]:
    """index.md's part for the figures: a heading, what it shows, the image."""
    return [line for name, text in figures for line in (f"## {name}", "", text, "", f"![{name}]({name})", "")]


def _index(data: dict, figures: list[tuple[str, str]]) -> str:
    lines = [f"# {data['name']}: {data['run']}", "", f"Schedule `{data['schedule']}`.", ""]
    lines += ["| task | kind | score first -> last | sampled first -> last |", "| --- | --- | --- | --- |"]
    for task, curve in data["curves"].items():
        s, m = curve["score"], curve["sampled"]
        if s:
            lines.append(
                f"| {task} | {curve['kind']} | {s[0][1]:.3f} -> {s[-1][1]:.3f} | {m[0][1]:.3f} -> {m[-1][1]:.3f} |"
            )
    lines.append("")
    return "\n".join(lines + _figure_sections(figures))


def arms_curves_figure(data: dict, path: Path) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for arm in data["arms"]:
        steps = [p[0] for p in arm["curve"]]
        line = ax.plot(steps, [p[1] for p in arm["curve"]], marker="o", ms=3, label=f"{arm['arm']} (n={arm['seeds']})")
        if all(p[2] is not None for p in arm["curve"]):
            ax.fill_between(steps, [p[2] for p in arm["curve"]], [p[3] for p in arm["curve"]],
                            color=line[0].get_color(), alpha=0.12, lw=0)  # fmt: skip
    ax.set_xlabel("step")
    ax.set_ylabel("mean held-out score over tasks (greedy)")
    ax.set_title(f"{data['name']}: arms over steps, mean over seeds with its 95% interval", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    _save(fig, path)
    return "each arm's mean held-out score (over tasks) at every evaluation, mean over seeds, band = 95% t interval"


def final_scores_figure(data: dict, path: Path) -> str:
    plt = _pyplot()
    arms = data["arms"]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(arms) + 1.6))
    for i, arm in enumerate(arms):
        f = arm["final"]
        err = None if f["lo"] is None else [[f["mean"] - f["lo"]], [f["hi"] - f["mean"]]]
        color = "tab:red" if arm["arm"] == data["baseline"] else "tab:blue"
        ax.errorbar([f["mean"]], [i], xerr=err, fmt="o", color=color, capsize=4)
        ax.text(f["mean"], i + 0.28, f"{f['mean']:.3f}", ha="center", fontsize=8)
    ax.set_yticks(range(len(arms)), [a["arm"] + (" (baseline)" if a["arm"] == data["baseline"] else "") for a in arms],
                  fontsize=8)  # fmt: skip
    ax.invert_yaxis()
    ax.set_xlabel("final held-out score, mean over tasks and seeds (95% t interval)")
    ax.set_title(f"{data['name']}: final score per arm", fontsize=11)
    ax.grid(alpha=0.3, axis="x")
    _save(fig, path)
    return "each arm's final held-out score (mean over tasks, then over seeds) with its 95% interval; baseline in red"


def write_experiment_plots(data: dict, out: Path) -> list[tuple[str, str]]:
    """Write an experiment's figures and index.md into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    figures = [
        ("arms.png", arms_curves_figure(data, out / "arms.png")),
        ("final.png", final_scores_figure(data, out / "final.png")),
    ]
    lines = [f"# {data['name']}: {data['folder']}", "", f"Baseline `{data['baseline']}`.", ""]
    lines += ["| arm | seeds | final score | 95% interval |", "| --- | --- | --- | --- |"]
    for arm in data["arms"]:
        f = arm["final"]
        interval = "-" if f["lo"] is None else f"[{f['lo']:.3f}, {f['hi']:.3f}]"
        lines.append(f"| {arm['arm']} | {arm['seeds']} | {f['mean']:.3f} | {interval} |")
    lines.append("")
    (out / "index.md").write_text("\n".join(lines + _figure_sections(figures)), encoding="utf-8")
    return figures
