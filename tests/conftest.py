"""Fixtures shared by test modules."""

import sys

import pytest

from trainer.model import Formatter
from trainer.tiny import tiny_random


@pytest.fixture(scope="module")
def tiny():
    """The tiny architecture with random weights (seed 0) and its formatter, no chat template."""
    model, tok = tiny_random(seed=0)
    return model, Formatter(tok, None, [tok.eos_token_id])


@pytest.fixture()
def restore_sys_path(monkeypatch):
    """`import_function` adds folders to sys.path; undo that after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
