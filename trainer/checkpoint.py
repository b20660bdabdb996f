"""Checkpoints, written atomically: a crash at any point leaves the last good checkpoint loadable.

Layout of `checkpoints/step-000100/`:
    model/          save_pretrained (config + safetensors) and the tokenizer
    optimizer.pt    AdamW state
    state.pt        {"step", "extra" (scheduler state, stream position, ...), "rng"}

Everything is first written to a temporary folder next to it, checked (every file there and readable, every
weight finite), then renamed into place; a folder named `step-*` is therefore always complete. Older
checkpoints beyond `keep` are removed only after that. A write that fails (a full disk, an unwritable folder)
removes its temporary folder and raises `CheckpointError`; the previous checkpoint is untouched.

Reading loads tensors and plain containers only (`torch.load(weights_only=True)`): a tampered `.pt` file in a
run folder cannot run code. `read_checkpoint` refuses an incomplete, unreadable or non-finite checkpoint with
the reason, so a resume can fall back to an older one (`curriculum.run.writer.RunWriter.restore`).
"""

from __future__ import annotations

import os
import pickle
import random
import re
import shutil
from pathlib import Path

import torch

from curriculum.errors import UserError

_NAME = re.compile(r"^step-(\d+)$")


def checkpoint_dirs(root: Path) -> list[Path]:
    """Complete checkpoints under `root`, oldest first."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


class CheckpointError(UserError):
    """A checkpoint could not be written, or one on disk cannot be used; the message says which and why."""


def save_checkpoint(root: Path, state: dict, tokenizer: object, extra: dict, keep: int) -> Path:
    """Write model, tokenizer, optimizer, step, `extra` and RNG states to `root/step-NNNNNN` (module docstring)."""
    step = state["step"]
    final = root / f"step-{step:06d}"
    tmp = root / f".tmp-step-{step:06d}-{os.getpid()}"
    bad = [name for name, p in state["model"].named_parameters() if not bool(torch.isfinite(p).all())]
    if bad:
        raise CheckpointError(f"step {step}: weights are not finite ({', '.join(bad[:3])}); no checkpoint written")
    try:
        for stale in root.glob(".tmp-step-*") if root.is_dir() else []:  # left by a kill mid-save: never complete
            shutil.rmtree(stale, ignore_errors=True)
        tmp.mkdir(parents=True)
        state["model"].save_pretrained(tmp / "model")
        tokenizer.save_pretrained(tmp / "model")
        torch.save(state["optimizer"].state_dict(), tmp / "optimizer.pt")
        rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
        torch.save({"step": step, "extra": extra, "rng": rng}, tmp / "state.pt")
        read_checkpoint(tmp)  # complete and readable, before anything older goes
        if final.exists():  # re-saving the same step (e.g. after a resume): replace it whole
            shutil.rmtree(final)
        os.replace(tmp, final)
    except (OSError, CheckpointError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        previous = checkpoint_dirs(root)
        kept = f"the previous checkpoint ({previous[-1].name}) is intact" if previous else "no earlier checkpoint"
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CheckpointError(
            f"could not write the checkpoint of step {step} in {root}: {reason}",
            f"{kept}; free space or fix the folder, then `curriculum train --resume` the run",
        ) from None
    for old in checkpoint_dirs(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def read_checkpoint(path: Path) -> dict:
    """{"weights", "optimizer", "state"} of a checkpoint folder, or CheckpointError saying what is wrong: a
    missing or unreadable file, something other than tensors and plain containers in a `.pt` file (not
    loaded), or non-finite weights."""
    for name in ("model/config.json", "optimizer.pt", "state.pt"):
        if not (path / name).is_file():
            raise CheckpointError(f"{path.name}: {name} is missing")
    try:
        weights = _read_weights(path / "model")
    except Exception as exc:  # a truncated, zeroed or missing safetensors file raises several kinds of error
        raise CheckpointError(f"{path.name}: the model weights cannot be read ({type(exc).__name__}: {exc})") from None
    bad = [k for k, v in weights.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{path.name}: non-finite weights ({', '.join(bad[:3])})")
    return {"weights": weights, "optimizer": _load_pt(path, "optimizer.pt"), "state": _load_pt(path, "state.pt")}


def _load_pt(path: Path, name: str) -> dict:
    try:
        return torch.load(path / name, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path.name}: {name} holds objects other than tensors and plain containers, so it was not loaded "
            f"(a tampered or foreign file): {str(exc).splitlines()[0]}"
        ) from None
    except Exception as exc:  # truncated, zeroed: a zip or EOF error
        raise CheckpointError(f"{path.name}: {name} cannot be read ({type(exc).__name__}: {exc})") from None


def load_checkpoint(path: Path, state: dict) -> dict:
    """Restore model weights, optimizer, step and RNG states into `state`; return `extra`. Nothing is changed
    when the checkpoint cannot be read (`read_checkpoint`)."""
    saved = read_checkpoint(path)
    missing, unexpected = state["model"].load_state_dict(saved["weights"], strict=False)
    missing = [k for k in missing if k not in _tied_keys(state["model"])]
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {path} does not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    state["optimizer"].load_state_dict(saved["optimizer"])
    state["step"] = saved["state"]["step"]
    torch.set_rng_state(saved["state"]["rng"]["torch"])
    random.setstate(saved["state"]["rng"]["python"])
    return saved["state"]["extra"]


def _tied_keys(model: torch.nn.Module) -> set[str]:
    tied = getattr(model, "_tied_weights_keys", None) or {}
    return set(tied if isinstance(tied, (list, set)) else tied.keys())


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The tensors of a `save_pretrained` folder, one safetensors file or several shards."""
    import json

    from safetensors.torch import load_file

    index = folder / "model.safetensors.index.json"
    if not index.exists():
        return load_file(str(folder / "model.safetensors"))
    shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    weights: dict[str, torch.Tensor] = {}
    for shard in shards:
        weights.update(load_file(str(folder / shard)))
    return weights
