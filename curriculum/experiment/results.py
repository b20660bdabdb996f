"""An experiment's results: one row per arm x seed x task from the run folders, and the comparison of the arms.

Per task, from the run's evaluations (greedy held-out score, `eval/<task>/score`):

    base        the score at step 0 (the starting model)
    final       the score at the last evaluation
    best        the highest score at any evaluation
    normalized  a gain as a share of the headroom, a loss as a share of the start (rewards in [0, 1]):
                (final - base) / (1 - base) when final >= base, (final - base) / base when below, so it lies
                in [-1, 1] and a task that starts near 1 cannot blow it up (0 when nothing could change)
    dip         base - the lowest score at any evaluation, if positive (the depth of a shift), else 0
    forgetting  best - final
    entropy_start / entropy_end / entropy_change   mean per-token entropy of the k samples, first -> last
    unique_start / unique_end   share of distinct answers among a prompt's k samples, first -> last
    answer_entropy_start / answer_entropy_end   entropy of those answers (nats, per answer), first -> last
    kl_base     KL(base || policy) at the last evaluation (or the k3 estimate, whichever the run measured)

Per run (repeated on its task rows): `bwt` and `fwt` (paper normalization) where the run has one stage per
task (`curriculum.report.sections.accuracy_section`; null otherwise), training and eval FLOPs, steps, seconds.

**Signals** (`compare`, `signals`): per arm, the mean over seeds (with its interval) of per-seed means over
tasks of: dip, forgetting, KL to the base, and, per task kind, the change of per-token entropy and of answer
entropy from the first to the last evaluation: how far each schedule drifts, and whether it narrows or
widens its outputs, by kind.

**Comparison** (`compare`). For each arm: per task the mean final score over seeds with its 95% t interval;
overall, per seed the mean final score over the tasks, then its mean and interval over seeds (the same for
the normalized score); the mean compute. Against the baseline, seed by seed: the paired difference of the
overall score and its interval, and the verdict (`curriculum.experiment.stats`). The best arm of each row
is the one with the highest mean (all of them on a tie). Failed runs are left out of every figure and listed.
"""

from __future__ import annotations

from typing import Any

from curriculum.experiment.runner import Outcome
from curriculum.experiment.stats import mean_interval, paired_difference, verdict, verdict_line
from curriculum.records import eval_column
from curriculum.report import load_run, run_report
from curriculum.report.load import series, task_kinds

METRIC = "final held-out score"


def run_rows(arm: str, seed: int, root: Any) -> list[dict[str, Any]]:
    """The result rows of one finished run folder, one per task."""
    run = load_run(root)
    report = run_report(run)
    evals, info = run["evals"], run["info"]
    compute = info.get("compute") or {}
    accuracy = report["accuracy"]
    bwt = (accuracy.get("bwt") or {}).get("paper")
    fwt = (accuracy.get("fwt") or {}).get("paper")
    rows = []
    for task, kind in task_kinds(run["catalog"], evals).items():
        scores = [v for _, v in series(evals, eval_column(task, "score"))]
        entropy = [v for _, v in series(evals, eval_column(task, "entropy"))]
        unique = [v for _, v in series(evals, eval_column(task, "unique"))]
        answers = [v for _, v in series(evals, eval_column(task, "answer_entropy"))]
        kl = series(evals, eval_column(task, "kl_base")) or series(evals, eval_column(task, "kl_k3"))
        if not scores:
            continue
        base, final, best = scores[0], scores[-1], max(scores)
        rows.append(
            {
                "arm": arm,
                "seed": seed,
                "task": task,
                "kind": kind,
                "base": base,
                "final": final,
                "best": best,
                "normalized": normalized(base, final),
                "dip": max(0.0, base - min(scores)),
                "forgetting": best - final,
                "entropy_start": entropy[0] if entropy else None,
                "entropy_end": entropy[-1] if entropy else None,
                "entropy_change": entropy[-1] - entropy[0] if entropy else None,
                "unique_start": unique[0] if unique else None,
                "unique_end": unique[-1] if unique else None,
                "answer_entropy_start": answers[0] if answers else None,
                "answer_entropy_end": answers[-1] if answers else None,
                "kl_base": kl[-1][1] if kl else None,
                "bwt": bwt,
                "fwt": fwt,
                "training_flops": compute.get("training_flops"),
                "eval_flops": compute.get("eval_flops"),
                "steps": info.get("steps"),
                "seconds": info.get("seconds"),
            }
        )
    return rows


def normalized(base: float, final: float) -> float:
    """The module docstring's normalized change: gains over the headroom, losses over the start."""
    if final >= base:
        return (final - base) / (1.0 - base) if base < 1.0 else 0.0
    return (final - base) / base


def collect(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """The rows of every run that finished (now or before)."""
    return [row for o in outcomes if o.status != "failed" for row in run_rows(o.arm, o.seed, o.root)]


def _by_seed(rows: list[dict], key: str) -> dict[int, float]:
    """seed -> mean of `key` over the seed's task rows (rows with no value left out)."""
    out: dict[int, list[float]] = {}
    for r in rows:
        if r.get(key) is not None:
            out.setdefault(r["seed"], []).append(float(r[key]))
    return {seed: sum(v) / len(v) for seed, v in sorted(out.items())}


SIGNALS = (  # (name, row key, task kind or None for all tasks)
    ("dip", "dip", None),
    ("forgetting", "forgetting", None),
    ("KL to base", "kl_base", None),
    ("entropy change, structured", "entropy_change", "structured"),
    ("entropy change, creative", "entropy_change", "creative"),
    ("answer entropy change, structured", "answer_entropy_change", "structured"),
    ("answer entropy change, creative", "answer_entropy_change", "creative"),
)


def signals(rows: list[dict]) -> dict[str, dict | None]:
    """The module docstring's signals of one arm's rows: name -> interval over seeds (None: not measured)."""
    rows = [{**r, "answer_entropy_change": _change(r, "answer_entropy")} for r in rows]
    out = {}
    for name, key, kind in SIGNALS:
        per_seed = _by_seed([r for r in rows if kind is None or r["kind"] == kind], key)
        out[name] = mean_interval(list(per_seed.values())).as_dict() if per_seed else None
    return out


def _change(row: dict, metric: str) -> float | None:
    start, end = row.get(f"{metric}_start"), row.get(f"{metric}_end")
    return end - start if start is not None and end is not None else None


def compare(rows: list[dict], arms: list[str], baseline: str, failed: list[Outcome] = ()) -> dict[str, Any]:
    """The comparison the terminal shows (module docstring)."""
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    kinds = {r["task"]: r["kind"] for r in rows}
    base_overall = _by_seed([r for r in rows if r["arm"] == baseline], "final")
    out_arms = []
    for arm in arms:
        mine = [r for r in rows if r["arm"] == arm]
        if not mine:
            out_arms.append({"arm": arm, "seeds": 0})
            continue
        overall = _by_seed(mine, "final")
        entry: dict[str, Any] = {
            "arm": arm,
            "seeds": len(overall),
            "tasks": {
                t: mean_interval([r["final"] for r in mine if r["task"] == t]).as_dict()
                for t in tasks
                if any(r["task"] == t for r in mine)
            },
            "overall": mean_interval(list(overall.values())).as_dict(),
            "normalized": _interval_or_none(list(_by_seed(mine, "normalized").values())),
            "training_flops": _mean([r["training_flops"] for r in mine]),
            "steps": _mean([r["steps"] for r in mine]),
            "seconds": _mean([r["seconds"] for r in mine]),
            "budgets": sorted({r["training_flops"] for r in mine if r["training_flops"] is not None}),
            "signals": signals(mine),
        }
        if arm != baseline and base_overall:
            common = sorted(set(overall) & set(base_overall))
            if common:
                diff = paired_difference(overall, base_overall)
                entry["paired"] = diff.as_dict()
                entry["verdict"] = verdict(diff)
                entry["line"] = verdict_line(arm, baseline, diff, METRIC)
        out_arms.append(entry)
    best = {}
    for key in [*tasks, "overall"]:
        means = {
            a["arm"]: (a["overall"] if key == "overall" else a["tasks"].get(key, {})).get("mean")
            for a in out_arms
            if a["seeds"]
        }
        means = {a: m for a, m in means.items() if m is not None}
        top = max(means.values(), default=None)
        best[key] = [a for a, m in means.items() if top is not None and m >= top - 1e-12]  # ties: all of them
    return {
        "baseline": baseline,
        "metric": METRIC,
        "tasks": [{"task": t, "kind": kinds[t]} for t in tasks],
        "arms": out_arms,
        "best": best,
        "failed": [{"arm": o.arm, "seed": o.seed, "error": o.error, "folder": str(o.root)} for o in failed],
    }


def _mean(values: list) -> float | None:
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _interval_or_none(values: list[float]) -> dict | None:
    return mean_interval(values).as_dict() if values else None
