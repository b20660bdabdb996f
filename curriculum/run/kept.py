"""The weights of the best SFT evaluation, kept for a `sequential` schedule with `switch: best`.

While the scheduler's SFT stage runs (`scheduler.restores`), after every evaluation that is the best mean
held-out score so far (the scheduler's own rule, `schedulers.sequential.best_sft_eval`), a copy of the
weights is kept in memory (and in every checkpoint, so a resume keeps it too). The decision that starts RL
names that step (`Decision.restore_from`); the loop then loads the copy and starts a fresh optimizer, as a
separate RL job started from the best SFT checkpoint would. Two things stay the run's own: the learning-rate
schedule goes on by the run's step count (no new warmup), and the KL reference (the penalty and the KL
measured at evaluations) stays the starting model, so every arm's drift is measured from the same base.
"""

from __future__ import annotations

import torch

from curriculum.run.setup import RunError
from curriculum.signals.measurements import Measurements
from schedulers.sequential import best_sft_eval
from trainer.config import TrainingSpec
from trainer.step import make_optimizer


class KeptWeights:
    def __init__(self) -> None:
        self.step: int | None = None
        self.weights: dict[str, torch.Tensor] | None = None

    def offer(self, model: torch.nn.Module, measurements: Measurements, step: int) -> None:
        """After the evaluation at `step`: keep the weights if it is the best so far."""
        best, _ = best_sft_eval(measurements)
        if best == step and best != self.step:
            self.step = step
            self.weights = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}

    def restore(self, step: int, state: dict, training: TrainingSpec) -> None:
        """Load the weights kept at `step` into the model and give it a fresh optimizer."""
        if self.step != step or self.weights is None:
            raise RunError(f"the schedule asked for the weights of step {step}, but those of {self.step} were kept")
        state["model"].load_state_dict(self.weights)
        state["optimizer"] = make_optimizer(state["model"], training)
        self.weights = None  # RL has started: nothing more to keep

    def state_dict(self) -> dict:
        return {"step": self.step, "weights": self.weights}

    def load_state_dict(self, state: dict | None) -> None:
        state = state or {}
        self.step, self.weights = state.get("step"), state.get("weights")
