"""Checkpoints, written atomically: a crash at any point leaves the last good checkpoint loadable.

Layout of `checkpoints/step-000100/`:
    model/          save_pretrained (config + safetensors) and the tokenizer
    optimizer.pt    AdamW state
    state.pt        {"step", "extra" (scheduler state, stream position, ...), "rng"}

Everything is first written to a temporary folder next to it, then renamed into place; a folder named
`step-*` is therefore always complete. Older checkpoints beyond `keep` are removed after the rename.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import torch

_NAME = re.compile(r"^step-(\d+)$")


def checkpoint_dirs(root: Path) -> list[Path]:
    """Complete checkpoints under `root`, oldest first."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def save_checkpoint(root: Path, state: dict, tokenizer: object, extra: dict, keep: int) -> Path:
    """Write model, tokenizer, optimizer, step, `extra` and RNG states to `root/step-NNNNNN`."""
    step = state["step"]
    final = root / f"step-{step:06d}"
    tmp = root / f".tmp-step-{step:06d}-{os.getpid()}"
    for stale in root.glob(".tmp-step-*") if root.is_dir() else []:  # left by a kill mid-save: never complete
        shutil.rmtree(stale, ignore_errors=True)
    tmp.mkdir(parents=True)
    state["model"].save_pretrained(tmp / "model")
    tokenizer.save_pretrained(tmp / "model")
    torch.save(state["optimizer"].state_dict(), tmp / "optimizer.pt")
    rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
    torch.save({"step": step, "extra": extra, "rng": rng}, tmp / "state.pt")
    if final.exists():  # re-saving the same step (e.g. after a resume): replace it whole
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in checkpoint_dirs(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path, state: dict) -> dict:
    """Restore model weights, optimizer, step and RNG states into `state`; return `extra`."""
    weights = _read_weights(path / "model")
    missing, unexpected = state["model"].load_state_dict(weights, strict=False)
    missing = [k for k in missing if k not in _tied_keys(state["model"])]
    if missing or unexpected:
        raise ValueError(
            f"checkpoint {path} does not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    state["optimizer"].load_state_dict(torch.load(path / "optimizer.pt", weights_only=False))
    saved = torch.load(path / "state.pt", weights_only=False)
    state["step"] = saved["step"]
    torch.set_rng_state(saved["rng"]["torch"])
    random.setstate(saved["rng"]["python"])
    return saved["extra"]


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
