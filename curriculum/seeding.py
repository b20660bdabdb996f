"""Derived seeds: every random choice in the engine takes a generator seeded from explicit keys.

`derive_seed(seed, "rollout", step)` hashes the catalog seed together with the keys that identify
the choice (what is being drawn, at which step, for which task), so two choices never share a
stream and the same keys always give the same draws, whatever ran before. The engine's own draws
never touch global RNG state; a checkpoint still saves and restores it, for model code that draws
from it (dropout).
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *keys: object) -> int:
    """A 63-bit seed from the catalog seed and any keys (str, int): stable across runs and machines."""
    text = "/".join([str(seed), *(str(k) for k in keys)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def py_rng(seed: int, *keys: object) -> random.Random:
    """A `random.Random` for the choice named by `keys` (data generation, shuffles)."""
    return random.Random(derive_seed(seed, *keys))
