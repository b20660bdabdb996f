"""The training loop: RL raises the probability of rewarded completions; SFT lowers the NLL of its
demonstrations; micro-batching does not change the update (each part is normalized over the step's
own tokens)."""

import torch

from trainer.batch import Batch, RLPrompt, SFTRow
from trainer.loop import FitConfig, backward_rl, backward_sft, fit, make_optimizer, roll_out
from trainer.model import load_model
from trainer.rollout import generate
from trainer.runtime import make_runtime
from trainer.sft import sft_logprobs

PROMPT = "word(a..e,5)="


class _Log:
    def __init__(self):
        self.steps, self.evals, self.saved = [], [], 0

    def step(self, record):
        self.steps.append(record)

    def eval(self, step, results):
        self.evals.append((step, results))

    def checkpoint(self, state):
        self.saved += 1


def _second_letter_b(completions):
    return [1.0 if len(c) > 1 and c[1] == "b" else 0.0 for c in completions]


def _share_of_b(model, fmt, n=128):
    out = generate(
        model,
        [fmt.prompt_ids(PROMPT)] * n,
        max_new_tokens=8,
        temperature=1.0,
        generator=torch.Generator().manual_seed(123),
        stop_ids=fmt.stop_ids,
        pad_id=fmt.pad_id,
    )
    return sum(_second_letter_b([fmt.decode(ids.tolist()) for ids in out.response_ids])) / n


def test_rl_raises_the_probability_of_rewarded_completions():
    model, fmt = load_model("builtin", "tiny-base")
    before = _share_of_b(model, fmt)
    cfg = FitConfig(steps=15, seed=0, lr=1e-3, group_size=8, max_new_tokens=8, eval_every=0, checkpoint_every=0)
    prompt = RLPrompt("word", fmt.prompt_ids(PROMPT), _second_letter_b)

    def next_batch(step):
        return Batch(step, "rl", 0.0, "none", [], [prompt] * 4)

    log = _Log()
    state = {"model": model, "optimizer": make_optimizer(model, cfg), "step": 0}
    fit(state, fmt, next_batch, [], cfg, make_runtime("cpu"), log)
    after = _share_of_b(model, fmt)
    # the base model writes a second letter "b" in a minority of samples; 15 GRPO steps make it most of them
    assert before < 0.3, before
    assert after > 0.6, after
    rewards = [r["rl/reward"] for r in log.steps]
    assert sum(rewards[-5:]) / 5 > sum(rewards[:5]) / 5
    assert state["step"] == 15 and log.saved == 1 and [s for s, _ in log.evals] == [0, 15]


def test_sft_lowers_the_nll_of_its_demonstrations():
    model, fmt = load_model("builtin", "tiny-base")
    demo = lambda w: "work: " + "-".join(w[::-1]) + " => " + w[::-1]  # noqa: E731
    rows = [SFTRow("t", fmt.prompt_ids(f"rev({w})="), fmt.completion_ids(demo(w))) for w in ("abc", "hello", "curr")]
    cfg = FitConfig(steps=10, seed=0, lr=1e-3, eval_every=0, checkpoint_every=0)
    log = _Log()
    state = {"model": model, "optimizer": make_optimizer(model, cfg), "step": 0}
    fit(state, fmt, lambda step: Batch(step, "sft", 1.0, "none", rows, []), [], cfg, make_runtime("cpu"), log)
    losses = [r["train/sft_loss"] for r in log.steps]
    assert losses[-1] < 0.5 * losses[0], losses
    assert all(r["train/rl_loss"] is None for r in log.steps)


def _grads(model):
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def test_micro_batching_gives_the_same_gradient():
    """mu * L_SFT + (1 - mu) * L_RL accumulated over micro-batches equals the whole-batch update."""
    model, fmt = load_model("builtin", "tiny-base")
    runtime = make_runtime("cpu")
    rows = [
        SFTRow("t", fmt.prompt_ids(p), fmt.completion_ids(c))
        for p, c in [("sort(cba)=", "abc"), ("rev(abcdef)=", "work: f-e-d-c-b-a => fedcba"), ("7+5=", "12")]
    ]
    prompts = [RLPrompt("w", fmt.prompt_ids(PROMPT), _second_letter_b)] * 2
    batch = Batch(0, "mixed", 0.3, "phi", rows, prompts)
    grads = []
    for micro in (None, 1):
        cfg = FitConfig(steps=1, seed=0, lr=1e-3, group_size=4, max_new_tokens=8, micro_batch=micro)
        scored = roll_out(model, fmt, prompts, cfg, runtime, step=0)  # same seed: same rollouts
        model.zero_grad(set_to_none=True)
        backward_sft(model, fmt, batch, cfg, runtime)
        backward_rl(model, scored, batch.mu, cfg, runtime, None)
        grads.append(_grads(model))
    assert torch.allclose(grads[0], grads[1], atol=1e-6, rtol=1e-4)
    # and the SFT part alone is the phi-weighted token mean over all 3 rows' completion tokens
    model.zero_grad(set_to_none=True)
    logprobs, mask = sft_logprobs(model, rows, fmt.pad_id)
    assert int(mask.sum()) == sum(len(r.completion_ids) for r in rows)
