"""`KeptWeights`: a copy of the weights at each new best SFT evaluation (never at step 0, never at a worse one),
loaded back with a fresh optimizer when the schedule switches to RL; the wrong step is refused; the kept
copy survives a state round trip (through torch.save, as in a checkpoint)."""

from __future__ import annotations

import io

import pytest
import torch

from curriculum.records import EvalRecord, TaskEval
from curriculum.run.kept import KeptWeights
from curriculum.run.setup import RunError
from curriculum.signals.measurements import Measurements
from trainer.config import TrainingSpec

TRAINING = TrainingSpec(lr=0.05)


def evaluation(step: int, score: float) -> EvalRecord:
    """An evaluation of two tasks whose mean held-out score is `score` (a = score - 0.1, b = score + 0.1)."""
    tasks = {"a": score - 0.1, "b": score + 0.1}
    return EvalRecord(step, {t: TaskEval(s, s, 0.5, 1.0, 3.0, None) for t, s in tasks.items()})


def set_weights(model: torch.nn.Linear, value: float) -> None:
    with torch.no_grad():
        model.weight.fill_(value)
        model.bias.fill_(-value)


def offer_at(kept: KeptWeights, model: torch.nn.Module, m: Measurements, step: int, score: float) -> None:
    """The loop's order: evaluate at `step`, fold it, offer the weights."""
    m.add_eval(evaluation(step, score))
    kept.offer(model, m, step)


def trained_state(model: torch.nn.Module) -> dict:
    """A loop-like state whose optimizer has taken a step (non-empty AdamW state)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.001)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    optimizer.zero_grad()
    assert len(optimizer.state) == 2  # weight and bias have exp_avg, exp_avg_sq, step
    return {"model": model, "optimizer": optimizer, "step": 7}


@pytest.fixture
def model() -> torch.nn.Linear:
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


def test_keeps_a_copy_only_at_a_new_best_evaluation(model):
    kept, m = KeptWeights(), Measurements()
    set_weights(model, 9.0)
    offer_at(kept, model, m, 0, 1.0)  # step 0 (the starting model) never counts, even at the top score
    assert (kept.step, kept.weights) == (None, None)
    set_weights(model, 1.0)
    offer_at(kept, model, m, 2, 0.5)  # first SFT evaluation: the best so far
    assert kept.step == 2
    set_weights(model, 2.0)  # the model moves on: the kept copy must not (a copy, not a view)
    assert kept.weights["weight"].eq(1.0).all() and kept.weights["bias"].eq(-1.0).all()
    offer_at(kept, model, m, 4, 0.4)  # worse than 0.5: nothing kept
    offer_at(kept, model, m, 6, 0.5)  # equal to 0.5: the first of equals stays the best
    assert kept.step == 2 and kept.weights["weight"].eq(1.0).all()
    set_weights(model, 3.0)
    offer_at(kept, model, m, 8, 0.75)  # a new best
    assert kept.step == 8 and kept.weights["weight"].eq(3.0).all() and kept.weights["bias"].eq(-3.0).all()
    assert set(kept.weights) == {"weight", "bias"}
    assert all(w.device.type == "cpu" and not w.requires_grad for w in kept.weights.values())
    assert kept.weights["weight"].data_ptr() != model.weight.data_ptr()


def test_restore_loads_the_kept_weights_and_starts_a_fresh_optimizer(model):
    kept, m = KeptWeights(), Measurements()
    offer_at(kept, model, m, 0, 0.1)
    set_weights(model, 0.25)
    offer_at(kept, model, m, 2, 0.6)
    set_weights(model, -4.0)  # SFT went on and got worse
    offer_at(kept, model, m, 4, 0.2)
    state = trained_state(model)
    old = state["optimizer"]
    kept.restore(2, state, TRAINING)
    assert model.weight.eq(0.25).all() and model.bias.eq(-0.25).all()  # exactly step 2's weights
    fresh = state["optimizer"]
    assert fresh is not old and isinstance(fresh, torch.optim.AdamW)
    assert len(fresh.state) == 0  # no exp_avg carried over from SFT
    assert fresh.param_groups[0]["lr"] == 0.05  # from the training spec, not the old optimizer's 0.001
    assert [p is q for p, q in zip(fresh.param_groups[0]["params"], model.parameters())] == [True, True]
    assert len(old.state) == 2  # the old optimizer was replaced, not cleared in place
    assert state["step"] == 7  # the step counter is the loop's: untouched
    assert kept.weights is None  # RL has started: nothing more to keep
    with pytest.raises(RunError, match="weights of step 2"):
        kept.restore(2, state, TRAINING)  # a second restore has nothing to load


def test_restoring_a_step_that_was_not_kept_is_refused(model):
    kept, m = KeptWeights(), Measurements()
    state = trained_state(model)
    with pytest.raises(RunError, match="weights of step 2, but those of None were kept"):
        kept.restore(2, state, TRAINING)  # nothing kept at all
    offer_at(kept, model, m, 2, 0.6)
    offer_at(kept, model, m, 4, 0.3)
    weights_before = model.weight.detach().clone()
    with pytest.raises(RunError, match="weights of step 4, but those of 2 were kept"):
        kept.restore(4, state, TRAINING)
    assert torch.equal(model.weight, weights_before) and len(state["optimizer"].state) == 2  # nothing changed


def test_state_dict_round_trip_through_torch_save(model):
    kept, m = KeptWeights(), Measurements()
    set_weights(model, 0.5)
    offer_at(kept, model, m, 2, 0.6)
    buffer = io.BytesIO()
    torch.save({"kept": kept.state_dict()}, buffer)  # as a checkpoint's extra holds it
    buffer.seek(0)
    again = KeptWeights()
    again.load_state_dict(torch.load(buffer, weights_only=False)["kept"])
    assert again.step == 2 and torch.equal(again.weights["weight"], torch.full((2, 3), 0.5))
    set_weights(model, 7.0)
    again.restore(2, trained_state(model), TRAINING)
    assert model.weight.eq(0.5).all() and model.bias.eq(-0.5).all()
    # a later evaluation that is worse than the loaded best keeps nothing: the loaded step counts as the best
    again = KeptWeights()
    again.load_state_dict(kept.state_dict())
    offer_at(again, model, m, 4, 0.3)
    assert again.step == 2 and again.weights["weight"].eq(0.5).all()


def test_load_state_dict_of_nothing_is_empty():
    for state in (None, {}, KeptWeights().state_dict()):
        kept = KeptWeights()
        kept.load_state_dict(state)
        assert (kept.step, kept.weights) == (None, None)
