"""Checkpoints, written atomically: a crash at any point leaves the last good checkpoint loadable.

Layout of `checkpoints/step-000100/`:
    model/          save_pretrained (config + safetensors) and the tokenizer
    optimizer.pt    AdamW state (FSDP under torchrun: `optimizer/`, each rank's shard through
                    torch.distributed.checkpoint, which can load it back on another number of ranks)
    state.pt        {"step", "extra" (scheduler state, stream position, ...), "rng"}

Under torchrun rank 0 writes the folder; with FSDP every rank writes its optimizer shard into rank 0's
temporary folder, and the full weights are gathered for `model/`. Every rank reads the same checkpoint.

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
from trainer.distributed import Dist

_NAME = re.compile(r"^step-(\d+)$")


def checkpoint_dirs(root: Path) -> list[Path]:
    """Complete checkpoints under `root`, oldest first."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


class CheckpointError(UserError):
    """A checkpoint could not be written, or one on disk cannot be used; the message says which and why."""


def _ranks(state: dict) -> tuple[Dist, bool]:
    """The job's ranks, and whether the weights and optimizer state are sharded (FSDP)."""
    replicas = state.get("replicas")
    return (replicas.dist, replicas.kind == "fsdp") if replicas is not None else (Dist(), False)


def save_checkpoint(root: Path, state: dict, tokenizer: object, extra: dict, keep: int) -> Path:
    """Write model, tokenizer, optimizer, step, `extra` and RNG states to `root/step-NNNNNN` (module docstring)."""
    step, model = state["step"], state["model"]
    ranks, sharded = _ranks(state)
    final = root / f"step-{step:06d}"
    tmp = Path(ranks.gather(str(root / f".tmp-step-{step:06d}-{os.getpid()}"))[0])  # rank 0's
    weights = _full_weights(model) if sharded else dict(model.named_parameters())

    def prepare() -> None:
        bad = [name for name, p in weights.items() if not bool(torch.isfinite(p).all())]
        if bad:
            raise CheckpointError(f"weights are not finite ({', '.join(bad[:3])}); no checkpoint written")
        for stale in root.glob(".tmp-step-*") if root.is_dir() else []:  # left by a kill mid-save: never complete
            shutil.rmtree(stale, ignore_errors=True)
        tmp.mkdir(parents=True)

    def write() -> None:
        model.save_pretrained(tmp / "model", **({"state_dict": weights} if sharded else {}))
        tokenizer.save_pretrained(tmp / "model")
        if not sharded:
            torch.save(state["optimizer"].state_dict(), tmp / "optimizer.pt")
        rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
        torch.save({"step": step, "extra": extra, "rng": rng}, tmp / "state.pt")
        read_checkpoint(tmp)  # complete and readable, before anything older goes
        if final.exists():  # re-saving the same step (e.g. after a resume): replace it whole
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in checkpoint_dirs(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)

    # rank 0 writes the folder, every rank its optimizer shard (FSDP); each part's failure reaches every rank
    reason = _on_main(ranks, prepare)
    if reason is None and sharded:
        reason = next(filter(None, ranks.gather(_failure(lambda: _save_sharded_optimizer(state, tmp)))), None)
    if reason is None:
        reason = _on_main(ranks, write)
    if reason is not None:
        if ranks.main:
            shutil.rmtree(tmp, ignore_errors=True)
        previous = checkpoint_dirs(root)
        kept = f"the previous checkpoint ({previous[-1].name}) is intact" if previous else "no earlier checkpoint"
        raise CheckpointError(
            f"could not write the checkpoint of step {step} in {root}: {reason}",
            f"{kept}; free space or fix the folder, then `curriculum train --resume` the run",
        )
    return final


def _failure(work) -> str | None:
    """Run `work`; the reason it failed (an OS error, a checkpoint that does not read back, a failed
    torch.distributed.checkpoint write), or None."""
    from torch.distributed.checkpoint.api import CheckpointException

    try:
        work()
    except (OSError, CheckpointError, CheckpointException) as exc:
        return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).strip().splitlines()[0]
    return None


def _on_main(ranks: Dist, work) -> str | None:
    """`work` on rank 0; every rank gets the reason it failed (None: done)."""
    return ranks.gather(_failure(work) if ranks.main else None)[0]


def _full_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The sharded model's full weights, on rank 0's CPU (the other ranks get an empty dict): a collective."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    tied = getattr(model, "all_tied_weights_keys", None) or {}  # transformers' own: a copy of another weight
    return {k: v for k, v in full.items() if k not in tied}


def _save_sharded_optimizer(state: dict, folder: Path) -> None:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    dcp.save(get_optimizer_state_dict(state["model"], state["optimizer"]), checkpoint_id=str(folder / "optimizer"))


def _load_sharded(path: Path, state: dict, weights: dict[str, torch.Tensor]) -> None:
    """The full weights into the sharded model, each rank's optimizer shard from `optimizer/`."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.api import CheckpointException
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_optimizer_state_dict,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    model, optimizer = state["model"], state["optimizer"]
    saved = get_optimizer_state_dict(model, optimizer)
    try:  # read first, so a shard that does not read leaves the model as it was
        dcp.load(saved, checkpoint_id=str(path / "optimizer"))
    except CheckpointException as exc:  # raised on every rank
        raise CheckpointError(f"{path.name}: the optimizer shards cannot be read ({str(exc).strip()[:300]})") from None
    result = set_model_state_dict(model, weights, options=StateDictOptions(full_state_dict=True, strict=False))
    _check_keys(path, model, result.missing_keys, result.unexpected_keys)
    set_optimizer_state_dict(model, optimizer, saved)


def _check_keys(path: Path, model: torch.nn.Module, missing: list[str], unexpected: list[str]) -> None:
    missing = [k for k in missing if k not in _tied_keys(model)]
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {path} does not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )


def read_checkpoint(path: Path) -> dict:
    """{"weights", "optimizer", "state"} of a checkpoint folder, or CheckpointError saying what is wrong: a
    missing or unreadable file, something other than tensors and plain containers in a `.pt` file (not
    loaded), or non-finite weights."""
    sharded = (path / "optimizer").is_dir()
    for name in ("model/config.json", "optimizer/.metadata" if sharded else "optimizer.pt", "state.pt"):
        if not (path / name).is_file():
            raise CheckpointError(f"{path.name}: {name} is missing")
    if sharded and not any((path / "optimizer").glob("*.distcp")):
        raise CheckpointError(f"{path.name}: optimizer/ holds no shard (*.distcp)")
    try:
        weights = _read_weights(path / "model")
    except Exception as exc:  # a truncated, zeroed or missing safetensors file raises several kinds of error
        raise CheckpointError(f"{path.name}: the model weights cannot be read ({type(exc).__name__}: {exc})") from None
    bad = [k for k, v in weights.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{path.name}: non-finite weights ({', '.join(bad[:3])})")
    optimizer = None if sharded else _load_pt(path, "optimizer.pt")  # sharded: loaded by each rank (load_checkpoint)
    return {"weights": weights, "optimizer": optimizer, "state": _load_pt(path, "state.pt")}


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
    _, sharded = _ranks(state)
    if sharded != (saved["optimizer"] is None):
        kind = "sharded (FSDP)" if saved["optimizer"] is None else "whole"
        raise CheckpointError(
            f"{path.name}: its optimizer state is {kind}, which this run's training.parallel cannot load"
        )
    if sharded:
        _load_sharded(path, state, saved["weights"])
    else:
        missing, unexpected = state["model"].load_state_dict(saved["weights"], strict=False)
        _check_keys(path, state["model"], missing, unexpected)
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
