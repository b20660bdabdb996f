"""A run that diverges (a NaN or an infinity in the loss, its gradient or the model's scores) stops with one
clear message and exit 2, before the update: run.json says `failed` with the error, and every checkpoint on
disk holds finite weights."""

import json
import math

import pytest
import torch
from helpers import TINY, tiny_base
from safetensors.torch import load_file

from curriculum.cli import main
from curriculum.records import Decision
from trainer.batch import Batch, RLPrompt
from trainer.config import TrainingSpec
from trainer.runtime import Diverged, make_runtime
from trainer.step import make_optimizer, train_step


def test_a_nan_reward_stops_the_step_before_the_update():
    model, fmt = tiny_base()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    training = TrainingSpec(steps=1, lr=1e-3, rollout={"group_size": 2, "max_new_tokens": 4})
    prompts = [RLPrompt("t", fmt.prompt_ids("sort(ab)="), lambda cs: [math.nan, 1.0][: len(cs)])]
    state = {"model": model, "optimizer": make_optimizer(model, training), "step": 0}
    with pytest.raises(Diverged, match="step 0: the loss or its gradient is not finite"):
        train_step(state, Batch(Decision(0, "s", 0.0, {}, {}), [], prompts), fmt, training, make_runtime("cpu"), 0)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # nothing was updated
    assert state["step"] == 0


def test_a_diverging_run_fails_cleanly_and_keeps_finite_checkpoints(tmp_path, capsys, monkeypatch):
    """From step 2 on the learning rate is 1e30 (validate refuses such a catalog: the schedule is patched, so the
    run diverges mid-way as a real one does): it stops with one message, and the checkpoints it keeps, up to the
    last step before the failure, are finite."""
    import trainer.step

    real_lr_at = trainer.step.lr_at
    monkeypatch.setattr(trainer.step, "lr_at", lambda step, t: 1e30 if step >= 2 else real_lr_at(step, t))
    out = tmp_path / "run"
    args = ["train", str(TINY), "--out", str(out), "--no-progress", "training.grad_clip=null"]
    code = main([*args, "training.checkpoint_every=1", "evaluation.every=0", "training.keep_checkpoints=2"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "not finite" in err or "NaN or infinity" in err
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "failed" and "Diverged" in info["error"]
    folders = sorted((out / "checkpoints").glob("step-*"))
    assert folders and folders[-1].name == f"step-{info['steps']:06d}"  # the step before the failure is kept
    for folder in folders:
        weights = load_file(folder / "model" / "model.safetensors")
        assert all(bool(torch.isfinite(w).all()) for w in weights.values()), folder.name


def test_sampling_at_a_temperature_that_overflows_the_scores_is_a_clear_error():
    """Finite scores over a temperature of 1e-40 overflow into NaN probabilities: a Diverged, not torch's
    'probability tensor contains either inf, nan' from the sampler."""
    from trainer.rollout import generate

    model, fmt = tiny_base()
    with pytest.raises(Diverged, match="temperature 1e-40 are not finite"):
        generate(model, [fmt.prompt_ids("ab")], max_new_tokens=2, temperature=1e-40,
                 generator=torch.Generator().manual_seed(0), stop_ids=fmt.stop_ids, pad_id=fmt.pad_id)  # fmt: skip
