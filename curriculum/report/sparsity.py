"""Update sparsity of a run's final checkpoint against its base model, and the overlap of the parameters
several runs changed (section 4 of `curriculum.report.sections`; it loads models, so `--no-sparsity`
skips it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from pydantic import TypeAdapter, ValidationError

from curriculum.report.load import ReportError
from trainer.checkpoint import checkpoint_dirs
from trainer.config import ModelSpec
from trainer.model import ModelLoadError, load_model, load_pretrained
from trainer.sparsity import changed_mask, changed_overlap, snapshot, update_sparsity

TOL = 1e-5  # |delta| beyond which a parameter counts as moved
TOP_MODULES = 5
MODEL_KEYS = ("kind", "name", "revision", "dtype", "system_prompt", "trust_remote_code")


def base_model_args(run: dict) -> tuple[dict[str, Any], str]:
    """`load_model` arguments (spec, seed, base_dir) for the run's base model, and a key equal for runs
    with the same base."""
    spec = {k: v for k, v in (run["catalog"].get("model") or {}).items() if k in MODEL_KEYS}
    if not spec:
        raise ReportError("the catalog names no model")
    try:
        model = TypeAdapter(ModelSpec).validate_python(spec)
    except ValidationError as exc:
        raise ReportError(f"the catalog's model is not valid: {exc.errors()[0]['msg']}") from None
    base_dir = Path(run["info"].get("base_dir") or run["root"]).resolve()
    args = {"spec": model, "seed": int(run["catalog"].get("seed") or 0), "base_dir": base_dir}
    key = dict(spec, seed=args["seed"] if spec.get("name") == "tiny-random" else None)
    name = str(spec.get("name", ""))
    if spec.get("kind") == "hf" and name.startswith(".") and (base_dir / name).exists():
        key["name"] = str((base_dir / name).resolve())  # the same folder, however the catalog spelled it
    return args, json.dumps(key, sort_keys=True)


def sparsity_section(run: dict, bases: dict, tol: float = TOL) -> tuple[dict[str, Any], dict | None, str | None]:
    """Update sparsity of the final checkpoint against the base model (module docstring, 4).

    Returns (section, changed masks for `overlap`, base key); `bases` caches base snapshots by key.
    """
    checkpoints = checkpoint_dirs(run["root"] / "checkpoints")
    if not checkpoints or not (checkpoints[-1] / "model").is_dir():
        return {"note": "no checkpoint with a model/ folder"}, None, None
    final = checkpoints[-1]
    try:
        args, key = base_model_args(run)
        if key not in bases:
            bases[key] = snapshot(load_model(**args)[0])
        start = bases[key]
        trust = bool(getattr(args["spec"], "trust_remote_code", False))
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
