"""Paths and small builders the test modules share (tests/ is on the import path: pyproject's pythonpath)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
TINY = FIXTURES / "tiny.yaml"  # a small catalog on the tiny base model: seconds per run
DEMO = REPO / "catalogs" / "demo.yaml"


def tiny_base():
    """The shipped tiny-base model and its formatter."""
    from trainer.config import BuiltinModel
    from trainer.model import load_model

    return load_model(BuiltinModel(kind="builtin", name="tiny-base"))


def tiny_random(seed: int = 0):
    """The tiny architecture with random weights and its formatter."""
    from trainer.config import BuiltinModel
    from trainer.model import load_model

    return load_model(BuiltinModel(kind="builtin", name="tiny-random"), seed=seed)
