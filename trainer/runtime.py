"""The runtime helper: the one place that decides device, dtype, autocast and rank.

CPU first, GPU ready: `auto` picks cuda > mps > cpu. Weights and optimizer state stay in float32;
on CUDA the forward passes run under bf16 autocast, on CPU and MPS in float32, unless the model asks
otherwise (`model.dtype`: `with_compute`). Several processes run
through `torchrun`: the runtime holds the job's ranks (`trainer.distributed.Dist`), and each rank trains on
its own device (cuda:LOCAL_RANK) or on the CPU.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

import torch

from curriculum.errors import UserError
from trainer.distributed import Dist, env_world, start


class RuntimeUnavailable(UserError):
    """The requested runtime is not available here; the message says what is."""


class Diverged(UserError):
    """Training produced a NaN or an infinity; raised before the update, so no such weight is written."""


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    autocast_dtype: torch.dtype | None  # None = full float32
    logit_chunk: int | None = None  # positions whose float32 vocabulary scores are held at once (trainer.logits)
    dist: Dist = Dist()  # the ranks of a torchrun job (one process: rank 0 of 1)

    @property
    def dtype_name(self) -> str:
        return "bf16-autocast" if self.autocast_dtype == torch.bfloat16 else "fp32"

    def with_compute(self, dtype: torch.dtype | None) -> "Runtime":
        """This runtime with the compute dtype a model asks for (`trainer.model.compute_dtype`): float32 = no
        autocast, bfloat16 = bf16 autocast, None = as it is."""
        if dtype is None:
            return self
        return replace(self, autocast_dtype=None if dtype == torch.float32 else dtype)

    def autocast(self) -> contextlib.AbstractContextManager:
        """Context for forward passes: bf16 autocast on CUDA, nothing elsewhere."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def generator(self, seed: int) -> torch.Generator:
        """A generator on this device (sampling must draw where the probabilities live)."""
        return torch.Generator(device=self.device).manual_seed(seed)


def make_runtime(device: str = "auto", logit_chunk: int | None = None, ranks: bool = False) -> Runtime:
    """Pick the device; make CPU kernels deterministic so the same catalog and seed give the same run.
    `logit_chunk`: `training.logit_chunk`. `ranks=True` (the run loop): under torchrun the process group is
    started here (`trainer.distributed.start`); anything else under torchrun is refused."""
    world = env_world()
    if world > 1 and not ranks:
        raise RuntimeUnavailable(
            f"WORLD_SIZE={world}: only `curriculum train` runs under torchrun; run this in one process"
        )
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeUnavailable("device cuda requested but torch sees no CUDA device (training.device=cpu runs here)")
    if device == "mps" and not torch.backends.mps.is_available():
        raise RuntimeUnavailable("device mps requested but it is not available (training.device=cpu runs here)")
    torch.use_deterministic_algorithms(True, warn_only=True)
    # deterministic mode also fills every new uninitialized tensor with NaN (to expose reads of garbage); the
    # engine reads none, and the fill cost 1-2 ms of every RL step on the tiny model (BENCHMARKS.md)
    torch.utils.deterministic.fill_uninitialized_memory = False
    autocast = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else None
    d = start(device)
    place = torch.device("cuda", d.local_rank) if device == "cuda" and d.world > 1 else torch.device(device)
    return Runtime(place, autocast, logit_chunk, d)
