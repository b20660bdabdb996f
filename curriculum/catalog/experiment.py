"""The `experiment:` section of a catalog and the built-in arms (`curriculum experiment`).

An arm is a schedule: catalog overrides applied on top of the catalog (after the command line's). A built-in
arm replaces the whole `schedule` section, keeping the catalog's `sft_batch` and `rl_batch`, so what the
catalog's own schedule says (a chord `peak`, a task `order`) never leaks into an arm. A user arm is a name
and its overrides (`schedule.kind: constant`, `schedule.mu: 0.3`), optionally on top of a built-in arm
(`base: chord-mu`). `curriculum train` ignores this section.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Callable, Literal

from pydantic import Field, StrictInt, field_validator, model_validator

from curriculum.spec import Spec

ARM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")  # a folder name too


def _schedule(kind: str, **fields: Any) -> Callable[[dict], dict]:
    """A built-in arm's schedule: `fields` over the catalog's batch sizes."""

    def make(catalog: dict) -> dict:
        schedule = catalog.get("schedule") or {}
        batching = {k: schedule[k] for k in ("sft_batch", "rl_batch") if k in schedule}
        values = {k: (v(catalog) if callable(v) else v) for k, v in fields.items()}
        return {"kind": kind, **batching, **values}

    return make


def _half(catalog: dict) -> int:
    return max(1, int((catalog.get("training") or {}).get("steps", 200)) // 2)


# name -> (one line a user reads in --help and the README, the schedule it trains with)
BUILTIN_ARMS: dict[str, tuple[str, Callable[[dict], dict]]] = {
    "sft-then-rl": (
        "staged: SFT only for the first half of training.steps, then RL only (sequential)",
        _schedule("sequential", sft_steps=_half),
    ),
    "sft-then-rl@best": (
        "staged, the strongest baseline: SFT until the mean held-out score stops rising (at most half of "
        "training.steps), then RL from the weights of its best evaluation",
        _schedule("sequential", sft_steps=_half, switch="best"),
    ),
    "rl-only": ("RL only (constant mu = 0)", _schedule("constant", mu=0.0, sft_batch=0)),
    "sft-only": ("SFT only (constant mu = 1)", _schedule("constant", mu=1.0, rl_batch=0)),
    "joint": ("a constant half-and-half mix of the two losses (mu = 0.5)", _schedule("constant", mu=0.5)),
    "chord-mu": ("continuous: CHORD, mu decays 0.9 -> 0.05 over 200 steps", _schedule("chord", preset="chord-mu")),
    "chord-phi": (
        "continuous: CHORD-phi, mu = 0.1 with p(1-p) token weights on SFT",
        _schedule("chord", preset="chord-phi"),
    ),
    "kind-first": (
        "structured tasks before creative ones, one task per stage, chord-mu inside each stage",
        _schedule("chord", preset="chord-mu", order={"kind": "kind_first"}),
    ),
    "bwt-order": (
        "the task order a transfer probe predicts best (Omni-Thinker), chord-mu inside each stage",
        _schedule("chord", preset="chord-mu", order={"kind": "bwt_order"}),
    ),
    "reward-adaptive": ("per-task mu = clip(0.5 - recent reward, 0, 1)", _schedule("reward_adaptive")),
    "phase-aware": ("per-task mu 0.9 until the task overfits, then decays to 0.05", _schedule("phase_aware")),
    "entropy-guard": (
        "mu 0.1; more RL for collapsing creative tasks, more SFT for structured",
        _schedule("entropy_guard"),
    ),
    "gate": (
        "RL; a prompt whose G rollouts all fail trains its demonstration instead (HPT / SuperRL family)",
        _schedule("gate"),
    ),
}
DEFAULT_ARMS = ("sft-then-rl", "sft-then-rl@best", "chord-mu", "chord-phi")
DEFAULT_BASELINE = "sft-then-rl"


class ArmSpec(Spec):
    """A user-defined arm: a name and catalog overrides."""

    name: str = Field(description="The arm's name (its run folders are <out>/<name>/seed-<seed>).")
    base: str | None = Field(None, description="A built-in arm to start from; null = the catalog as it is.")
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Catalog overrides, key path -> value (`schedule.kind: constant`, `training.lr: 3e-5`).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not ARM_NAME.fullmatch(name):
            raise ValueError(f"arm name {name!r}: letters, digits and _ . @ + - only (it names a folder)")
        if name in BUILTIN_ARMS:
            raise ValueError(f"arm name {name!r} is a built-in arm; give yours another name, or `base: {name}`")
        return name

    @field_validator("base")
    @classmethod
    def _base(cls, base: str | None) -> str | None:
        if base is not None and base not in BUILTIN_ARMS:
            raise ValueError(f"unknown built-in arm {base!r}; known: {', '.join(BUILTIN_ARMS)}")
        return base


class ExperimentSpec(Spec):
    """Arms x seeds of this catalog, compared (`curriculum experiment`); the command line may override each."""

    arms: list[str] | None = Field(
        None, description=f"Arms to run, built-in or defined below; null = {', '.join(DEFAULT_ARMS)}."
    )
    define: list[ArmSpec] = Field(default_factory=list, description="User-defined arms.")
    seeds: Annotated[StrictInt, Field(ge=1)] | Annotated[list[StrictInt], Field(min_length=1)] = Field(
        3, description="N (seeds: the catalog's seed, +1, ...) or the seeds themselves."
    )
    baseline: str = Field(DEFAULT_BASELINE, description="The arm every other is compared with, seed by seed.")
    match: Literal["steps", "compute"] = Field(
        "steps",
        description="`steps`: every arm trains training.steps steps; `compute`: every arm trains until the same "
        "training FLOPs (the baseline's estimated cost at training.steps).",
    )

    @model_validator(mode="after")
    def _known(self) -> "ExperimentSpec":
        names = [a.name for a in self.define]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names defined twice: {sorted({n for n in names if names.count(n) > 1})}")
        known = set(BUILTIN_ARMS) | set(names)
        unknown = [a for a in [*(self.arms or []), self.baseline] if a not in known]
        if unknown:
            raise ValueError(f"unknown arm(s) {unknown}; built-in: {', '.join(BUILTIN_ARMS)}; defined: {names or '-'}")
        if isinstance(self.seeds, list) and len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be distinct")
        return self

    def seed_list(self, catalog_seed: int, n: int | None = None) -> list[int]:
        """The seeds: `n` (or `seeds`) consecutive ones from the catalog's seed, or the list given."""
        if n is not None:
            return [catalog_seed + k for k in range(n)]
        return list(self.seeds) if isinstance(self.seeds, list) else [catalog_seed + k for k in range(self.seeds)]


ExperimentSection = Annotated[ExperimentSpec | None, Field(None, description="Arms x seeds (`curriculum experiment`).")]


def arm_overrides(name: str, catalog: dict, defined: list[ArmSpec]) -> list[str]:
    """The `key=value` overrides of arm `name` on the catalog data `catalog` (values in YAML flow style)."""
    import yaml

    def value(v: Any) -> str:
        return yaml.safe_dump(v, default_flow_style=True, width=10**9).strip().removesuffix("...").strip()

    if name in BUILTIN_ARMS:
        return [f"schedule={value(BUILTIN_ARMS[name][1](catalog))}"]
    arm = next((a for a in defined if a.name == name), None)
    if arm is None:
        raise KeyError(name)
    base = arm_overrides(arm.base, catalog, defined) if arm.base else []
    return [*base, *(f"{k}={value(v)}" for k, v in arm.overrides.items())]
