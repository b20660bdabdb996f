"""What a run measured, as plain data: the sections `curriculum report` prints.

`build_report(paths)` reads each run folder (README, "The run directory") and returns
`{"runs": [one dict per run], "overlap": [...]}` of lists, dicts, strings and floats (None = not
measured), so `--json` prints it as is and tests check it directly. Every section is a function of the
run's rows; a section that cannot be computed says why in a one-line "note". Rendering is in
`curriculum/commands/report.py`.

Sections of one run:

1. accuracy: R[stage, task] from the evals at step 0 (the base model) and at each stage end
   (`curriculum.transfer`). A stage is a run of consecutive steps with one `stage` name in
   decisions.parquet; it ends at its last step + 1. ACC is the mean of the last row. A task-ordered
   ("staged") run names its stages after its tasks; its columns are put in stage order, so stage k's
   task is column k - 1. BWT and FWT (both normalizations: the paper's 1/(T-1), GEM's code 1/T) need
   every task to have had its stage; otherwise they are None with the reason.
   Forgetting (Chaudhry et al. 2018): in a staged run, f_j = best score of task j after any stage
   before the last, minus its final score, for the tasks of stages 1..K-1 (`transfer.forgetting`).
   In a joint run (stages such as warmup/decay/valley) no stage belongs to a task, and we apply the
   same formula to every task: best score at an earlier stage end minus the final score (our
   generalization; it needs 2 or more stages).
   Intransigence I_k = a*_k - R[k, k] (staged runs only: it needs stage k's own task). Chaudhry's
   reference a*_k (a model trained on tasks 1..k jointly) is not measured by a run, so we use the
   best score of task k in any row of R: I_k >= 0 is how far task k stood, right after its own
   stage, below the best the run ever reached on it. It is a stand-in, named as such in the output.
2. entropy: per task, `eval/<task>/entropy` first -> last eval, its least-squares slope over the last
   `window` evals (`phases.slope`, nats per step), `unique` first -> last, the planning/execution
   entropy when logged, and the mean of each over the tasks of each kind (structured, creative).
3. kl: `eval/<task>/kl_base` first -> last (forward KL from the base model), when logged.
4. sparsity: the final checkpoint's weights against the base model's (from the catalog's `model`):
   the fraction of parameters changed at all and by more than `tol`, in float32 and after rounding
   both to bfloat16 (`trainer.probes.update_sparsity`), and the modules that moved most. Across runs
   with the same base, `overlap` compares their changed sets with chance (`changed_overlap`).
5. phases: `phases.detect_phases` on each task's score curve, with the run's `train/sft_loss`.
6. order: the bwt_order scheduler's probe (order.json), when present: the transfer matrix D, the
   chosen order, and predicted against realized scores and R rows.
"""

from __future__ import annotations

import json
import math
from itertools import groupby
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from curriculum.phases import detect_phases, slope
from curriculum.rundir import RunDir
from curriculum.transfer import accuracy_matrix, bwt, forgetting, fwt, intransigence

WINDOW = 3  # evals in the entropy trend
TOL = 1e-5  # |delta| beyond which a parameter counts as moved
TOP_MODULES = 5
KINDS = ("structured", "creative")
MODEL_KEYS = ("kind", "name", "revision", "dtype", "system_prompt", "trust_remote_code")


class ReportError(Exception):
    """A folder that is not a readable run; the message says which file is missing or bad."""


def _num(value: Any) -> float | None:
    """A logged number as float; None for null, NaN or a non-number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


# ------------------------------------------------------------------------------------------ loading


def _table(root: Path, name: str) -> list[dict[str, Any]]:
    """Rows of `<name>.parquet` in step order ([] when absent); a step logged twice keeps its last row."""
    path = root / f"{name}.parquet"
    if not path.is_file():
        return []
    try:
        rows = pl.read_parquet(path).to_dicts()
    except Exception as exc:  # polars raises several types for a damaged file
        raise ReportError(f"{path}: cannot read: {exc}") from None
    if rows and "step" not in rows[0]:
        raise ReportError(f"{path}: no step column")
    return sorted({int(r["step"]): r for r in rows}.values(), key=lambda r: int(r["step"]))


def load_run(path: str | Path) -> dict[str, Any]:
    """The run folder's files as plain data: root, catalog, info, decisions, steps, evals, order."""
    root = Path(path)
    if not root.is_dir():
        raise ReportError(f"{root}: no such folder")
    missing = [name for name in ("catalog.yaml", "evals.parquet") if not (root / name).is_file()]
    if missing:
        raise ReportError(f"{root} is not a run folder: no {' and no '.join(missing)} (see `curriculum train --out`)")
    try:
        catalog = yaml.safe_load((root / "catalog.yaml").read_text(encoding="utf-8"))
        info = RunDir(root).read_info()
        order = json.loads((root / "order.json").read_text()) if (root / "order.json").is_file() else None
    except (yaml.YAMLError, json.JSONDecodeError, OSError) as exc:
        raise ReportError(f"{root}: {exc}") from None
    if not isinstance(catalog, dict):
        raise ReportError(f"{root / 'catalog.yaml'}: not a catalog (a YAML mapping)")
    evals = _table(root, "evals")
    if not evals:
        raise ReportError(f"{root / 'evals.parquet'}: no evaluation rows")
    return {
        "root": root,
        "catalog": catalog,
        "info": info,
        "decisions": _table(root, "decisions"),
        "steps": _table(root, "steps"),
        "evals": evals,
        "order": order,
    }


def task_kinds(catalog: dict, evals: list[dict]) -> dict[str, str]:
    """task id -> kind, in catalog order; without catalog tasks, the tasks that have eval scores."""
    tasks = catalog.get("tasks") or []
    if tasks:
        return {str(t["id"]): str(t.get("kind") or "-") for t in tasks}
    ids = dict.fromkeys(k.split("/")[1] for row in evals for k in row if k.startswith("eval/") and k.endswith("/score"))
    return dict.fromkeys(ids, "-")


def stages_of(rows: list[dict]) -> list[dict[str, Any]]:
    """Runs of consecutive steps with one `stage` value: name, first and last step, end = last + 1."""
    rows = [r for r in rows if r.get("stage") is not None]
    out = []
    for name, group in groupby(rows, key=lambda r: r["stage"]):
        steps = [int(r["step"]) for r in group]
        out.append({"name": str(name), "first": steps[0], "last": steps[-1], "end": steps[-1] + 1})
    return out


def series(rows: list[dict], key: str) -> list[tuple[int, float]]:
    """(step, value) of every row that logged `key` (null and NaN left out)."""
    return [(int(r["step"]), v) for r in rows if (v := _num(r.get(key))) is not None]


# ---------------------------------------------------------------------------------- 1. accuracy


def accuracy_section(tasks: list[str], stages: list[dict], evals: list[dict]) -> dict[str, Any]:
    """R, ACC, BWT and FWT under both normalizations, forgetting, intransigence (module docstring, 1)."""
    if not stages:
        return {"note": "stages unknown (no stage column in decisions.parquet or steps.parquet)"}
    evaluated = {int(r["step"]) for r in evals}
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
        "acc": sum(rows[-1]) / len(rows[-1]),
        "bwt": {n: bwt(R, norm=n) for n in transfer} if why is None else dict(transfer),
        "fwt": {n: fwt(R, norm=n) for n in transfer} if why is None else dict(transfer),
        "undefined": why,
    }

    f: dict[str, float | None] = dict.fromkeys(columns)
    if staged:
        f.update(zip(columns, forgetting(R)))  # the tasks of stages 1..K-1
        out["forgetting_rule"] = "Chaudhry: best after an earlier stage - final, for the tasks of earlier stages"
    elif K >= 2:
        f.update({t: max(r[j] for r in rows[1:K]) - rows[K][j] for j, t in enumerate(columns)})
        out["forgetting_rule"] = "joint run: best at an earlier stage end - final, every task"
    else:
        out["forgetting_rule"] = "undefined: one stage"
    out["forgetting"] = f
    out["average_forgetting"] = _mean(list(f.values()))

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
    kinds = [k for k in KINDS if any(r["kind"] == k for r in rows)]
    kinds += sorted({r["kind"] for r in rows} - set(kinds))
    out = []
    for kind in kinds:
        group = [r for r in rows if r["kind"] == kind]
        out.append({"kind": kind, "tasks": len(group), **{f: _mean([r[f] for r in group]) for f in fields}})
    return out


def entropy_section(kinds: dict[str, str], evals: list[dict], window: int = WINDOW) -> dict[str, Any]:
    """Entropy, its recent slope, and diversity per task and per kind (module docstring, 2)."""
    if not any(series(evals, f"eval/{t}/entropy") for t in kinds):
        return {"note": "no eval/<task>/entropy columns"}
    rows = []
    for task, kind in kinds.items():
        key = f"eval/{task}/entropy"
        row: dict[str, Any] = {"task": task, "kind": kind}
        row["start"], row["end"] = _start_end(evals, key)
        row["slope"] = slope(series(evals, key), window)
        for metric in ("unique", "entropy_plan", "entropy_exec"):
            row[f"{metric}_start"], row[f"{metric}_end"] = _start_end(evals, f"eval/{task}/{metric}")
        rows.append(row)
    fields = [k for k in rows[0] if k not in ("task", "kind")]
    planning = any(r["entropy_plan_start"] is not None or r["entropy_exec_start"] is not None for r in rows)
    return {
        "window": window,
        "first_step": int(evals[0]["step"]),
        "last_step": int(evals[-1]["step"]),
        "tasks": rows,
        "kinds": _by_kind(rows, fields),
        "planning": planning,
    }


def kl_section(kinds: dict[str, str], evals: list[dict]) -> dict[str, Any]:
    """Forward KL from the base model per task and per kind, first -> last eval (module docstring, 3)."""
    if not any(series(evals, f"eval/{t}/kl_base") for t in kinds):
        return {"note": "not measured (no eval/<task>/kl_base columns)"}
    rows = []
    for task, kind in kinds.items():
        start, end = _start_end(evals, f"eval/{task}/kl_base")
        rows.append({"task": task, "kind": kind, "start": start, "end": end})
    return {"tasks": rows, "kinds": _by_kind(rows, ["start", "end"])}


# -------------------------------------------------------------------------------------- 5. phases


def phases_section(kinds: dict[str, str], evals: list[dict], steps: list[dict]) -> dict[str, Any]:
    """`detect_phases` label of every eval point of each task's score curve (module docstring, 5)."""
    loss = series(steps, "train/sft_loss")
    rows = []
    for task, kind in kinds.items():
        points = series(evals, f"eval/{task}/score")
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
    realized = {t: _start_end(evals, f"eval/{t}/score")[1] for t in tasks}
    scores = []
    for t in tasks:
        p, r = _num(predicted.get(t)), realized[t]
        scores.append({"task": t, "predicted": p, "realized": r, "diff": None if None in (p, r) else r - p})
    out: dict[str, Any] = {
        "method": order.get("method"),
        "order": list(order.get("order") or []),
        "realized_order": accuracy.get("stages"),
        "objective": _num(order.get("objective")),
        "probe_steps": order.get("probe_steps"),
        "probe_compute_steps": order.get("probe_compute_steps"),
        "D": {"tasks": tasks, "rows": [[_num((D.get(j) or {}).get(i)) for i in tasks] for j in tasks]} if D else None,
        "scores": scores,
        "mean_predicted": _mean([s["predicted"] for s in scores]),
        "mean_realized": _mean([s["realized"] for s in scores]),
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
            "predicted": [[_num(row[tasks.index(t)]) for t in columns] for row in pred_rows],
            "realized": accuracy["rows"],
        }
    return out


# ------------------------------------------------------------------------------------ 4. sparsity


def base_model_args(run: dict) -> tuple[dict[str, Any], str]:
    """`load_model` arguments for the run's base model, and a key equal for runs with the same base."""
    spec = {k: v for k, v in (run["catalog"].get("model") or {}).items() if k in MODEL_KEYS}
    if not spec:
        raise ReportError("the catalog names no model")
    base_dir = Path(run["info"].get("base_dir") or run["root"]).resolve()
    args = {**spec, "seed": int(run["catalog"].get("seed") or 0), "base_dir": base_dir}
    key = dict(spec, seed=args["seed"] if spec.get("name") == "tiny-random" else None)
    name = str(spec.get("name", ""))
    if spec.get("kind") == "hf" and name.startswith(".") and (base_dir / name).exists():
        key["name"] = str((base_dir / name).resolve())  # the same folder, however the catalog spelled it
    return args, json.dumps(key, sort_keys=True)


def sparsity_section(run: dict, bases: dict, tol: float = TOL) -> tuple[dict[str, Any], dict | None, str | None]:
    """Update sparsity of the final checkpoint against the base model (module docstring, 4).

    Returns (section, changed masks for `overlap`, base key); `bases` caches base snapshots by key.
    """
    import torch

    from trainer.checkpoint import checkpoint_dirs
    from trainer.model import ModelLoadError, load_model, load_pretrained
    from trainer.probes import changed_mask, snapshot, update_sparsity

    checkpoints = checkpoint_dirs(run["root"] / "checkpoints")
    if not checkpoints or not (checkpoints[-1] / "model").is_dir():
        return {"note": "no checkpoint with a model/ folder"}, None, None
    final = checkpoints[-1]
    try:
        args, key = base_model_args(run)
        if key not in bases:
            bases[key] = snapshot(load_model(**args)[0])
        start = bases[key]
        trust = bool(args.get("trust_remote_code"))
        now = snapshot(load_pretrained(final / "model", trust_remote_code=trust)[0])
        reports = [update_sparsity(start, now, tol=tol, dtype=d) for d in (torch.float32, torch.bfloat16)]
        masks = {
            f"float32 |delta| > {tol:g}": changed_mask(start, now, tol, torch.float32),
            "bfloat16 any change": changed_mask(start, now, 0.0, torch.bfloat16),
        }
    except (ReportError, ModelLoadError, ValueError, OSError) as exc:
        return {"note": f"cannot compare with the base model: {exc}"}, None, None
    fp32, bf16 = reports

    def module(name: str) -> dict[str, Any]:
        a, b = fp32.per_module[name], bf16.per_module[name]
        return {
            "module": name,
            "params": a.total,
            "float32_changed": a.changed,
            "float32_beyond_tol": a.beyond_tol,
            "bfloat16_changed": b.changed,
        }

    moved = [m for m in fp32.per_module if fp32.per_module[m].changed > 0 or bf16.per_module[m].changed > 0]

    top = sorted(moved, key=lambda m: (-fp32.per_module[m].beyond_tol, -bf16.per_module[m].changed, m))
    section = {
        "checkpoint": final.name,
        "base": json.loads(key),
        "tol": tol,
        "total": fp32.total,
        "figures": [{"dtype": r.dtype, "changed": r.changed, "beyond_tol": r.beyond_tol} for r in reports],
        "modules": [module(m) for m in top[:TOP_MODULES]],  # the modules that moved at all, most first
    }
    return section, masks, key


def overlap_section(names: list[str], keys: list[str | None], masks: list[dict | None]) -> list[dict[str, Any]]:
    """`changed_overlap` of every pair of runs with the same base model, for each kind of changed mask."""
    if sum(m is not None for m in masks) < 2:
        return []
    from trainer.probes import changed_overlap

    out = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if keys[i] is None or keys[i] != keys[j] or masks[i] is None or masks[j] is None:
                continue
            for kind in masks[i]:
                try:
                    result = changed_overlap(masks[i][kind], masks[j][kind])
                except ValueError as exc:
                    out.append({"runs": [names[i], names[j]], "mask": kind, "note": str(exc)})
                    continue
                out.append({"runs": [names[i], names[j]], "mask": kind, **result})
    return out


# ----------------------------------------------------------------------------------------- report


def run_report(run: dict, window: int = WINDOW) -> dict[str, Any]:
    """Every section of one run but sparsity (which loads models)."""
    catalog, evals = run["catalog"], run["evals"]
    kinds = task_kinds(catalog, evals)
    stages = stages_of(run["decisions"] or run["steps"])
    accuracy = accuracy_section(list(kinds), stages, evals)
    return {
        "run": str(run["root"]),
        "name": catalog.get("name"),
        "status": run["info"].get("status"),
        "seconds": run["info"].get("seconds"),
        "schedule": (catalog.get("schedule") or {}).get("kind"),
        "model": catalog.get("model"),
        "seed": catalog.get("seed"),
        "tasks": [{"id": t, "kind": k} for t, k in kinds.items()],
        "stages": stages,
        "accuracy": accuracy,
        "entropy": entropy_section(kinds, evals, window),
        "kl": kl_section(kinds, evals),
        "phases": phases_section(kinds, evals, run["steps"]),
        "order": order_section(run["order"], list(kinds), evals, accuracy),
    }


def build_report(
    paths: list[str | Path], *, sparsity: bool = True, window: int = WINDOW, tol: float = TOL
) -> dict[str, Any]:
    """The whole report of one or more run folders: {"runs": [...], "overlap": [...]}."""
    runs = [load_run(p) for p in paths]  # every folder checked before any model is loaded
    reports, keys, masks, bases = [], [], [], {}
    for run in runs:
        report = run_report(run, window)
        if sparsity:
            report["sparsity"], mask, key = sparsity_section(run, bases, tol)
        else:
            report["sparsity"], mask, key = {"note": "skipped (--no-sparsity)"}, None, None
        reports.append(report)
        keys.append(key)
        masks.append(mask)
    return _plain({"runs": reports, "overlap": overlap_section([r["run"] for r in reports], keys, masks)})


def _plain(value: Any) -> Any:
    """NaN and infinities -> None, tuples -> lists: the report is strict JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
