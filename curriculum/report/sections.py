"""The sections of a run's report, as plain data: each a function of the run's rows (`curriculum.report.load`)
that returns lists, dicts, strings and floats (None = not measured); a section that cannot be computed
says why in a one-line "note". Sparsity, which loads models, is in `curriculum.report.sparsity`.

Sections of one run:

0. per_task: each task at a glance, from evals.parquet: its base score (the eval at step 0), best score and
   the step of the first eval that reached it, final score (the last eval); entropy and `unique` (answer
   diversity) first -> last, KL to the base at the last eval; and the mean of each over the tasks of each kind.
1. accuracy: R[stage, task] from the evals at step 0 (the base model) and at each stage end
   (`curriculum.signals.transfer`). A stage is a run of consecutive steps with one `stage` name in
   decisions.parquet; it ends at its last step + 1. ACC is the mean of the last row. A task-ordered
   ("staged") run names its stages after its tasks; its columns are put in stage order, so stage k's
   task is column k - 1. BWT and FWT (both normalizations: the paper's 1/(T-1), GEM's code 1/T) need
   every task to have had its stage; otherwise they are None with the reason.
   Forgetting (Chaudhry et al. 2018): in a staged run, f_j = best score of task j after any stage
   before the last, minus its final score, for the tasks of stages 1..K-1 (`transfer.forgetting`).
   In a joint run (stages such as warmup/decay/valley) no stage belongs to a task, and we apply the
   same formula to every task: best score at an earlier stage end minus the final score
   (`transfer.joint_forgetting`, our generalization; it needs 2 or more stages).
   Intransigence I_k = a*_k - R[k, k] (staged runs only: it needs stage k's own task). Chaudhry's
   reference a*_k (a model trained on tasks 1..k jointly) is not measured by a run, so we use the
   best score of task k in any row of R: I_k >= 0 is how far task k stood, right after its own
   stage, below the best the run ever reached on it. It is a stand-in, named as such in the output.
2. entropy: per task, `eval/<task>/entropy` first -> last eval, its least-squares slope over the last
   `window` evals (`signals.phases.slope`, nats per step), `unique` first -> last, the planning/execution
   entropy when logged, and the mean of each over the tasks of each kind (structured, creative).
3. kl: `eval/<task>/kl_base` first -> last (forward KL from the base model), when logged.
4. sparsity: the final checkpoint's weights against the base model's (from the catalog's `model`):
   the fraction of parameters changed at all and by more than `tol`, in float32 and after rounding
   both to bfloat16 (`trainer.sparsity.update_sparsity`), and the modules that moved most. Across runs
   with the same base, `overlap` compares their changed sets with chance (`changed_overlap`).
5. phases: `signals.phases.detect_phases` on each task's score curve, with the run's `train/sft_loss`.
6. order: the bwt_order scheduler's probe (order.json), when present: the transfer matrix D, the
   chosen order, and predicted against realized scores and R rows.
"""

from __future__ import annotations

import math
from typing import Any

from curriculum.records import SFT_LOSS, STEP, TASK_KINDS, eval_column
from curriculum.report.load import mean, num, series
from curriculum.signals.phases import detect_phases, slope
from curriculum.signals.transfer import (
    acc,
    accuracy_matrix,
    average_forgetting,
    bwt,
    forgetting,
    fwt,
    intransigence,
    joint_forgetting,
    mean_final,
)

WINDOW = 3  # evals in the entropy trend


def accuracy_section(tasks: list[str], stages: list[dict], evals: list[dict]) -> dict[str, Any]:
    """R, ACC, BWT and FWT under both normalizations, forgetting, intransigence (module docstring, 1)."""
    if not stages:
        return {"note": "stages unknown (no stage column in decisions.parquet or steps.parquet)"}
    evaluated = {int(r[STEP]) for r in evals}
    done = [s for s in stages if s["end"] in evaluated]
    notes = []
    if len(done) < len(stages):
        skipped = [f"{s['name']} (step {s['end']})" for s in stages if s not in done]
        notes.append(f"no eval at the end of {', '.join(skipped)}: left out of R")
    if not done:
        return {"note": notes[0]}
    names = [s["name"] for s in done]
    staged = len(set(names)) == len(names) and set(names) <= set(tasks)
    columns = names + [t for t in tasks if t not in names] if staged else list(tasks)
    try:
        R = accuracy_matrix(evals, [s["end"] for s in done], columns, names)
    except ValueError as exc:
        return {"note": f"accuracy matrix undefined: {exc}"}
    rows, K = R.rows, len(names)

    square = staged and K == len(tasks)
    if not staged:
        why = f"the stages ({', '.join(names)}) are not the tasks: BWT and FWT need one stage per task"
    elif not square:
        why = f"{K} of {len(tasks)} tasks have had their stage: BWT and FWT need all of them"
    elif K == 1:
        why = "one task: BWT and FWT need two or more"
    else:
        why = None
    transfer = {"paper": None, "gem_code": None}
    out: dict[str, Any] = {
        "tasks": columns,
        "stages": names,
        "steps": [0, *(s["end"] for s in done)],
        "rows": rows,
        "staged": staged,
        "square": square,
        "acc": acc(R) if square else mean_final(R),
        "bwt": {n: bwt(R, norm=n) for n in transfer} if why is None else dict(transfer),
        "fwt": {n: fwt(R, norm=n) for n in transfer} if why is None else dict(transfer),
        "undefined": why,
    }

    f: dict[str, float | None] = dict.fromkeys(columns)
    if staged:
        f.update(zip(columns, forgetting(R)))  # the tasks of stages 1..K-1
        out["forgetting_rule"] = "Chaudhry: best after an earlier stage - final, for the tasks of earlier stages"
        out["average_forgetting"] = average_forgetting(R)
    else:
        f.update(zip(columns, joint_forgetting(R)))  # every task; none with one stage
        out["forgetting_rule"] = (
            "joint run: best at an earlier stage end - final, every task" if K >= 2 else "undefined: one stage"
        )
        out["average_forgetting"] = mean(list(f.values()))
    out["forgetting"] = f

    if staged:
        best = [max(r[k] for r in rows) for k in range(len(columns))]
        out["intransigence"] = {names[k - 1]: intransigence(R, best[k - 1], k) for k in range(1, K + 1)}
        out["intransigence_reference"] = "best score of the task in any row of R (stand-in for a*_k)"
    else:
        out["intransigence"] = None
        out["intransigence_reference"] = "undefined: needs a stage per task"
    if notes:
        out["note"] = "; ".join(notes)
    return out


# --------------------------------------------------------------------------------- 2-3. entropy, KL


def _start_end(evals: list[dict], key: str) -> tuple[float | None, float | None]:
    points = series(evals, key)
    return (points[0][1], points[-1][1]) if points else (None, None)


def _by_kind(rows: list[dict], fields: list[str]) -> list[dict[str, Any]]:
    """The mean of each field over the tasks of each kind (structured, creative, then any other)."""
    kinds = [k for k in TASK_KINDS if any(r["kind"] == k for r in rows)]
    kinds += sorted({r["kind"] for r in rows} - set(kinds))
    out = []
    for kind in kinds:
        group = [r for r in rows if r["kind"] == kind]
        out.append({"kind": kind, "tasks": len(group), **{f: mean([r[f] for r in group]) for f in fields}})
    return out


def per_task_section(kinds: dict[str, str], evals: list[dict]) -> dict[str, Any]:
    """Base, best and final score, entropy, diversity and KL of each task, and their means per kind (module
    docstring, 0)."""
    rows = []
    for task, kind in kinds.items():
        scores = series(evals, eval_column(task, "score"))
        best_step, best = max(scores, key=lambda p: p[1]) if scores else (None, None)  # max: the first of ties
        entropy = _start_end(evals, eval_column(task, "entropy"))
        unique = _start_end(evals, eval_column(task, "unique"))
        rows.append(
            {
                "task": task,
                "kind": kind,
                "base": scores[0][1] if scores and scores[0][0] == 0 else None,
                "best": best,
                "best_step": best_step,
                "final": scores[-1][1] if scores else None,
                "entropy_start": entropy[0],
                "entropy_end": entropy[1],
                "unique_start": unique[0],
                "unique_end": unique[1],
                "kl_end": _start_end(evals, eval_column(task, "kl_base"))[1],
            }
        )
    fields = [k for k in rows[0] if k not in ("task", "kind", "best_step")] if rows else []
    return {
        "first_step": int(evals[0][STEP]),
        "last_step": int(evals[-1][STEP]),
        "tasks": rows,
        "kinds": _by_kind(rows, fields),
    }


def entropy_section(kinds: dict[str, str], evals: list[dict], window: int = WINDOW) -> dict[str, Any]:
    """Entropy, its recent slope, and diversity per task and per kind (module docstring, 2)."""
    if not any(series(evals, eval_column(t, "entropy")) for t in kinds):
        return {"note": "no eval/<task>/entropy columns"}
    rows = []
    for task, kind in kinds.items():
        key = eval_column(task, "entropy")
        row: dict[str, Any] = {"task": task, "kind": kind}
        row["start"], row["end"] = _start_end(evals, key)
        row["slope"] = slope(series(evals, key), window)
        for metric in ("unique", "entropy_plan", "entropy_exec"):
            row[f"{metric}_start"], row[f"{metric}_end"] = _start_end(evals, eval_column(task, metric))
        rows.append(row)
    fields = [k for k in rows[0] if k not in ("task", "kind")]
    planning = any(r["entropy_plan_start"] is not None or r["entropy_exec_start"] is not None for r in rows)
    return {
        "window": window,
        "first_step": int(evals[0][STEP]),
        "last_step": int(evals[-1][STEP]),
        "tasks": rows,
        "kinds": _by_kind(rows, fields),
        "planning": planning,
    }


def kl_section(kinds: dict[str, str], evals: list[dict]) -> dict[str, Any]:
    """Forward KL from the base model per task and per kind, first -> last eval (module docstring, 3)."""
    if not any(series(evals, eval_column(t, "kl_base")) for t in kinds):
        return {"note": "not measured (no eval/<task>/kl_base columns)"}
    rows = []
    for task, kind in kinds.items():
        start, end = _start_end(evals, eval_column(task, "kl_base"))
        rows.append({"task": task, "kind": kind, "start": start, "end": end})
    return {"tasks": rows, "kinds": _by_kind(rows, ["start", "end"])}


# -------------------------------------------------------------------------------------- 5. phases


def phases_section(kinds: dict[str, str], evals: list[dict], steps: list[dict]) -> dict[str, Any]:
    """`detect_phases` label of every eval point of each task's score curve (module docstring, 5)."""
    loss = series(steps, SFT_LOSS)
    rows = []
    for task, kind in kinds.items():
        points = series(evals, eval_column(task, "score"))
        labels = detect_phases(points, loss or None) if points else []
        rows.append(
            {
                "task": task,
                "kind": kind,
                "steps": [s for s, _ in points],
                "scores": [v for _, v in points],
                "labels": labels,
            }
        )
    return {"sft_loss": bool(loss), "tasks": rows}


# --------------------------------------------------------------------------------------- 6. order


def order_section(order: dict | None, tasks: list[str], evals: list[dict], accuracy: dict) -> dict[str, Any] | None:
    """The bwt_order probe (order.json) against what the run realized; None without order.json."""
    if order is None:
        return None
    D = order.get("D") or {}
    predicted = order.get("predicted") or {}
    realized = {t: _start_end(evals, eval_column(t, "score"))[1] for t in tasks}
    scores = []
    for t in tasks:
        p, r = num(predicted.get(t)), realized[t]
        scores.append({"task": t, "predicted": p, "realized": r, "diff": None if None in (p, r) else r - p})
    out: dict[str, Any] = {
        "method": order.get("method"),
        "order": list(order.get("order") or []),
        "realized_order": accuracy.get("stages"),
        "objective": num(order.get("objective")),
        "probe_steps": order.get("probe_steps"),
        "probe_compute_steps": order.get("probe_compute_steps"),
        "D": {"tasks": tasks, "rows": [[num((D.get(j) or {}).get(i)) for i in tasks] for j in tasks]} if D else None,
        "scores": scores,
        "mean_predicted": mean([s["predicted"] for s in scores]),
        "mean_realized": mean([s["realized"] for s in scores]),
    }
    pred_rows, columns = order.get("predicted_rows"), accuracy.get("tasks")
    if not pred_rows:
        out["rows_note"] = "order.json has no predicted_rows"
    elif not columns or len(pred_rows) != len(accuracy["rows"]) or any(len(r) != len(tasks) for r in pred_rows):
        shape = f"{len(accuracy['rows'])} x {len(columns)}" if columns else "undefined"
        out["rows_note"] = f"predicted rows ({len(pred_rows)} x {len(pred_rows[0])}) do not match R ({shape})"
    else:  # predicted_rows columns are in catalog order; R's may be in stage order
        out["rows"] = {
            "tasks": columns,
            "after": ["base", *accuracy["stages"]],
            "predicted": [[num(row[tasks.index(t)]) for t in columns] for row in pred_rows],
            "realized": accuracy["rows"],
        }
    return out


# --------------------------------------------------------------------------------------- 7. mix

DRIFT = 0.10  # |actual / planned - 1| above this is flagged


def _totals(rows: list[dict], task: str) -> tuple[int, int]:
    return (
        int(sum(r.get(f"sft/{task}/rows") or 0 for r in rows)),
        int(sum(r.get(f"rl/{task}/prompts") or 0 for r in rows)),
    )


def mix_section(tasks: list[str], planned: list[dict], decisions: list[dict]) -> dict[str, Any]:
    """Planned vs actual mix per task over the steps the run took: SFT rows and RL prompts the plan (the
    schedule with no measurements, plan.parquet) gave each task, and what the run's decisions gave it; an
    adaptive schedule's feedback shows as drift, flagged beyond DRIFT."""
    if not planned or not decisions:
        return {"note": "no plan.parquet or decisions.parquet"}
    done = {int(r[STEP]) for r in decisions}
    planned = [r for r in planned if int(r[STEP]) in done]
    rows = []
    for task in tasks:
        (p_sft, p_rl), (a_sft, a_rl) = _totals(planned, task), _totals(decisions, task)
        drift = {
            part: (a / p - 1.0) if p else (None if not a else math.inf)
            for part, p, a in (("sft", p_sft, a_sft), ("rl", p_rl, a_rl))
        }
        flagged = any(d is not None and abs(d) > DRIFT for d in drift.values())
        rows.append(
            {"task": task, "planned_sft": p_sft, "actual_sft": a_sft, "planned_rl": p_rl, "actual_rl": a_rl,
             "drift_sft": drift["sft"], "drift_rl": drift["rl"], "flagged": flagged}
        )  # fmt: skip
    return {"steps": len(decisions), "threshold": DRIFT, "tasks": rows}


def decisions_section(
    decisions: list[dict], tasks: list[str], first: int = 0, last: int | None = None, task: str | None = None
) -> list[dict[str, Any]]:
    """The decisions of steps first..last (inclusive), with their `why`; `task`: only steps that gave it rows,
    with its own SFT rows and RL prompts."""
    out = []
    for r in decisions:
        step = int(r[STEP])
        if step < first or (last is not None and step > last):
            continue
        shown = [task] if task else tasks
        mix = {t: _totals([r], t) for t in shown}
        if task and mix[task] == (0, 0):
            continue
        out.append({"step": step, "stage": r.get("stage"), "mu": r.get("mu"), "mix": mix, "why": r.get("why")})
    return out
