"""Data-parallel training under `torchrun`: the ranks, their collectives, and how their gradients meet.

    torchrun --nproc_per_node N -m curriculum train CATALOG

Every rank runs the same loop on the same catalog and seed: the scheduler decides once per step, identically on
every rank (it is deterministic from its state and the measurements, which are the same everywhere), and the
stream builds the same global batch. A rank then trains its share (`Dist.mine`): RL prompts k = rank, rank + N,
... with their G rollouts (a group stays on one rank, so advantages are computed within it), and the SFT rows
likewise. Each part's loss is normalized by the step's global token count, so mu and the gradient do not depend
on N. Rewards, rollout statistics, loss values and evaluations are reduced or gathered, so every rank writes the
same step record into the same measurements.

`Replicas` is how the gradients meet (`training.parallel`):

- `ddp`: `DistributedDataParallel`: the weights are replicated, the gradients all-reduced.
- `fsdp`: FSDP2 (`torch.distributed.fsdp.fully_shard`) on every decoder layer and the model: weights, gradients
  and optimizer state are sharded between steps. A step gathers the full weights once, for its rollouts and
  passes, and reduce-scatters the gradients at its end.

A rank's passes are uneven (its share of rows, the groups it keeps), while DDP and FSDP reduce in the backward
of a pass that every rank makes. So the step's own passes accumulate local gradients without communication, and
one closing pass (a single token through the wrapped model, weighted 0) makes every rank reduce them at the same
point. Both wrappers average over ranks; the passes are weighted by N so the result is the sum the global
token normalization asks for.

The closing pass assumes that one token through the model reaches every parameter, as in a dense decoder; a
model with conditional parts (mixture-of-experts) would need DDP's unused-parameter search and equal FSDP
reductions, not built.

Collectives time out after `CURRICULUM_DIST_TIMEOUT` seconds (default 600): a rank that stops answering fails
the job instead of hanging it. A rank that raises exits with its message; on the others the failed collective
becomes `RankLost` (`lost`), one clear message each, and torchrun stops the job.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator, Sequence

import torch
import torch.distributed as dist

from curriculum.errors import UserError

TIMEOUT_ENV = "CURRICULUM_DIST_TIMEOUT"
DEFAULT_TIMEOUT = 600.0


def env_rank() -> int:
    """This process's rank as torchrun set it (0 outside torchrun)."""
    return int(os.environ.get("RANK", "0"))


def env_world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


@dataclass(frozen=True)
class Dist:
    """The ranks of the job (one process: rank 0 of 1, and every collective returns its input)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes the run folder and shows progress."""
        return self.rank == 0

    def mine(self, n: int) -> list[int]:
        """This rank's items of n: k = rank, rank + world, ... (increasing)."""
        return list(range(self.rank, n, self.world))

    def sum(self, values: Sequence[float]) -> list[float]:
        """Each value summed over the ranks (in float64)."""
        if self.world == 1:
            return [float(v) for v in values]
        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self._device())
        dist.all_reduce(t)
        return t.tolist()

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj`, in rank order."""
        if self.world == 1:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def interleave(self, mine: list[Any], n: int) -> list[Any]:
        """The n items of which each rank holds `mine` (its `mine(n)`), back in order."""
        parts = self.gather(mine)
        out: list[Any] = [None] * n
        for rank, part in enumerate(parts):
            for k, item in zip(range(rank, n, self.world), part):
                out[k] = item
        return out

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """The body on rank 0 first, then on the others (rank 0 may change files the others then read)."""
        if not self.main:
            self.barrier()
        try:
            yield
        finally:  # also when rank 0 raises: the others then run the body and meet the same error themselves
            if self.main:
                self.barrier()

    def _device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")


class RankLost(UserError):
    """A collective failed: another rank raised, was stopped, or stopped answering within the timeout."""


def lost(d: Dist, exc: BaseException) -> RankLost | None:
    """The clear error for an exception a collective raised in a job of several ranks (None: not one of those)."""
    if d.world == 1 or isinstance(exc, UserError):
        return None
    text = str(exc)
    markers = ("gloo", "nccl", "NCCL", "Connection closed", "Connection reset", "Timed out", "timed out", "Broken pipe")
    if not (isinstance(exc, dist.DistError) or (isinstance(exc, RuntimeError) and any(m in text for m in markers))):
        return None
    return RankLost(
        f"rank {d.rank}: another rank failed or stopped answering, so this one stops too "
        f"({text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__})",
        "the failing rank's own message says why; a silent rank is given up on after "
        f"{timeout_seconds():g} s ({TIMEOUT_ENV}); the last checkpoint is intact: fix the cause, then "
        "`torchrun ... -m curriculum train --resume RUN`",
    )


def timeout_seconds() -> float:
    raw = os.environ.get(TIMEOUT_ENV)
    try:
        seconds = float(raw) if raw is not None else DEFAULT_TIMEOUT
    except ValueError:
        raise UserError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if seconds <= 0:
        raise UserError(f"{TIMEOUT_ENV}={raw!r}: the timeout must be positive")
    return seconds


def start(device: str) -> Dist:
    """The job's ranks from torchrun's environment; the process group started (nccl on CUDA, gloo elsewhere)
    when there is more than one rank. `device`: the device type the run trains on."""
    world = env_world()
    if world <= 1:
        return Dist()
    missing = [k for k in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise UserError(
            f"WORLD_SIZE={world} but {', '.join(missing)} not set: launch multi-process training with torchrun "
            "(torchrun --nproc_per_node N -m curriculum train CATALOG)"
        )
    rank, local = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    if device == "mps":
        raise UserError("multi-process training runs on cuda or cpu, not mps")
    backend = "nccl" if device == "cuda" else "gloo"
    if device == "cuda":
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_seconds()))
    return Dist(rank=rank, world=world, local_rank=local)


def stop(d: Dist) -> None:
    """End the process group this job started."""
    if d.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


class Replicas:
    """How the ranks' gradients meet (module docstring); one process: nothing to do."""

    def __init__(self, model: torch.nn.Module, kind: str, d: Dist, pad_id: int):
        self.model, self.kind, self.dist, self.pad_id = model, kind if d.world > 1 else "none", d, pad_id
        self.wrapped = model
        if self.kind == "ddp":
            from torch.nn.parallel import DistributedDataParallel

            ids = [d.local_rank] if next(model.parameters()).device.type == "cuda" else None
            self.wrapped = DistributedDataParallel(model, device_ids=ids)  # broadcasts rank 0's weights
        elif self.kind == "fsdp":
            from torch.distributed.fsdp import fully_shard

            for layer in decoder_layers(model):
                fully_shard(layer)
            fully_shard(model)
            with torch.no_grad():  # FSDP sets itself up in the root's first forward, before any unshard
                self._token_pass()
            for m in self._fsdp_modules():  # a module's first unshard makes its sharded parameters anew: before
                m.unshard()  # the optimizer takes them
                m.reshard()

    @property
    def scale(self) -> float:
        """The weight of a rank's passes: the wrappers average over ranks, the loss wants the sum."""
        return float(self.dist.world) if self.kind != "none" else 1.0

    def _fsdp_modules(self) -> list[torch.nn.Module]:
        from torch.distributed.fsdp import FSDPModule

        return [m for m in self.model.modules() if isinstance(m, FSDPModule)]

    @contextlib.contextmanager
    def full_weights(self) -> Iterator[None]:
        """The body runs on the full weights with no collective inside its passes (FSDP: gathered once here,
        kept through forwards and backwards, gradients accumulated locally until `reduce`); sharded again after."""
        if self.kind != "fsdp":
            yield
            return
        root = self.model
        root.set_requires_gradient_sync(False)
        root.set_reshard_after_forward(False)
        root.set_reshard_after_backward(False)
        for m in self._fsdp_modules():
            m.unshard()
        try:
            yield
        finally:
            root.set_requires_gradient_sync(True)
            root.set_reshard_after_backward(True)
            root.set_reshard_after_forward(True)
            for m in self._fsdp_modules():
                m.reshard()

    def reduce(self) -> None:
        """Every rank's accumulated gradients summed over the ranks (the closing pass: module docstring)."""
        if self.kind == "none":
            return
        if self.kind == "fsdp":
            self.model.set_requires_gradient_sync(True)
        (self._token_pass().logits.float().sum() * 0.0).backward()

    def _token_pass(self):
        """One token through the wrapped model: every rank makes it, so the wrapper's collectives meet."""
        ids = torch.full((1, 1), self.pad_id, dtype=torch.long, device=next(self.model.parameters()).device)
        return self.wrapped(input_ids=ids, use_cache=False)


def decoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The repeated blocks FSDP shards one by one: the longest `ModuleList` in the model."""
    lists = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList)]
    return list(max(lists, key=len)) if lists else []
