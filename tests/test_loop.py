"""The training loop: RL raises the probability of rewarded completions; SFT lowers the NLL of its
demonstrations; micro-batching does not change the update (each part is normalized over the step's
own tokens); per-task mu weighs each task's rows; gating trains the demonstrations of all-failed
prompts; zero-variance groups can be dropped."""

import pytest
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
        scored = roll_out(model, fmt, batch, cfg, runtime, step=0)  # same seed: same rollouts
        model.zero_grad(set_to_none=True)
        backward_sft(model, fmt, batch.sft, batch.sft_weighting, batch.mu_for, cfg, runtime)
        backward_rl(model, scored, batch.mu_for, cfg, runtime, None)
        grads.append(_grads(model))
    assert torch.allclose(grads[0], grads[1], atol=1e-6, rtol=1e-4)
    # and the SFT part alone is the phi-weighted token mean over all 3 rows' completion tokens
    model.zero_grad(set_to_none=True)
    logprobs, mask = sft_logprobs(model, rows, fmt.pad_id)
    assert int(mask.sum()) == sum(len(r.completion_ids) for r in rows)


def test_per_task_mu_weighs_each_tasks_rows():
    """The SFT gradient is linear in each task's mu: rows of task a at mu 0.6 and of task b at mu 0.3
    give 0.6 * g_a + 0.3 * g_b, where g_a, g_b are the gradients of the shared-denominator loss on each
    task's rows alone at weight 1; and one task_mu for every task equals the scalar mu."""
    model, fmt = load_model("builtin", "tiny-base")
    runtime = make_runtime("cpu")
    cfg = FitConfig(steps=1, seed=0, lr=1e-3)
    rows = [
        SFTRow("a", fmt.prompt_ids("sort(cba)="), fmt.completion_ids("abc")),
        SFTRow("a", fmt.prompt_ids("sort(zyx)="), fmt.completion_ids("xyz")),
        SFTRow("b", fmt.prompt_ids("rev(abc)="), fmt.completion_ids("cba")),
    ]

    def grad(mu_of):
        model.zero_grad(set_to_none=True)
        out = backward_sft(model, fmt, rows, "none", mu_of, cfg, runtime)
        return _grads(model), out

    g_a, _ = grad(lambda t: 1.0 if t == "a" else 0.0)
    g_b, _ = grad(lambda t: 1.0 if t == "b" else 0.0)
    g_mixed, out = grad(Batch(0, "s", 0.3, "none", rows, [], {"a": 0.6}).mu_for)
    expected = 0.6 * g_a + 0.3 * g_b
    assert (g_mixed - expected).abs().max() < 1e-5 * expected.abs().max()  # equal up to float32 rounding
    g_same, _ = grad(Batch(0, "s", 0.0, "none", rows, [], {"a": 0.3, "b": 0.3}).mu_for)
    g_scalar, plain = grad(Batch(0, "s", 0.3, "none", rows, []).mu_for)
    assert torch.equal(g_same, g_scalar)
    assert out["loss"] == pytest.approx(plain["loss"], rel=1e-6)  # the logged SFT loss: unweighted token mean


def test_gating_trains_the_demonstrations_of_all_failed_prompts():
    """A prompt whose G rollouts all score 0 has its demonstration trained as SFT in the same step;
    with mu = 0 and k = 1 of n = 2 prompts gated, the SFT part weighs 0 + (1 - 0) * 1/2 = 0.5."""
    model, fmt = load_model("builtin", "tiny-base")
    never = RLPrompt("x", fmt.prompt_ids("sort(cba)="), lambda cs: [0.0] * len(cs), "abc")
    always = RLPrompt("y", fmt.prompt_ids(PROMPT), lambda cs: [1.0] * len(cs), "abcde")
    no_demo = RLPrompt("z", fmt.prompt_ids("rev(ab)="), lambda cs: [0.0] * len(cs))
    cfg = FitConfig(steps=1, seed=0, lr=1e-3, group_size=2, max_new_tokens=6, eval_every=0, checkpoint_every=0)
    log = _Log()
    state = {"model": model, "optimizer": make_optimizer(model, cfg), "step": 0}
    batch = Batch(0, "gate", 0.0, "none", [], [never, always], gate_below=0.0)
    fit(state, fmt, lambda step: batch, [], cfg, make_runtime("cpu"), log)
    record = log.steps[0]
    assert record["gate/prompts"] == 1
    assert record["sched/mu"] == 0.5
    assert record["train/sft_tokens"] == len(fmt.completion_ids("abc"))  # the gated demonstration only
    assert record["train/loss"] == pytest.approx(0.5 * record["train/sft_loss"] + 0.5 * record["train/rl_loss"])
    # the gated prompt's group left the RL part: its token mean is over the other prompt's G rows only
    scored = roll_out(load_model("builtin", "tiny-base")[0], fmt, batch, cfg, make_runtime("cpu"), 0)
    assert scored.failed == [True, False] and scored.tasks == ["y", "y"]
    assert record["train/rl_tokens"] == int(scored.rollouts.response_mask.sum())
    # a prompt without a demonstration is never gated; gating off (None) gates nothing
    log2 = _Log()
    state = {"model": model, "optimizer": make_optimizer(model, cfg), "step": 0}
    fit(
        state,
        fmt,
        lambda step: Batch(0, "g", 0.0, "none", [], [no_demo], gate_below=0.0),
        [],
        cfg,
        make_runtime("cpu"),
        log2,
    )
    assert log2.steps[0]["gate/prompts"] == 0 and log2.steps[0]["train/sft_loss"] is None


def test_zero_variance_groups_can_be_dropped():
    """Two prompts: one whose rewards are all equal, one mixed; dropping keeps only the mixed group's
    G rows (so the RL token mean is over them alone); abs_adv and rollouts are logged per task."""
    model, fmt = load_model("builtin", "tiny-base")
    runtime = make_runtime("cpu")
    flat = RLPrompt("flat", fmt.prompt_ids("sort(cba)="), lambda cs: [1.0] * len(cs))
    mixed = RLPrompt("mixed", fmt.prompt_ids(PROMPT), lambda cs: [float(i % 2) for i in range(len(cs))])
    cfg = FitConfig(steps=1, seed=0, lr=1e-3, group_size=4, max_new_tokens=6)
    keep_all = roll_out(model, fmt, Batch(0, "r", 0.0, "none", [], [flat, mixed]), cfg, runtime, 0)
    dropped = roll_out(
        model, fmt, Batch(0, "r", 0.0, "none", [], [flat, mixed], drop_zero_variance=True), cfg, runtime, 0
    )
    assert keep_all.rollouts.response_ids.shape[0] == 8 and keep_all.tasks == ["flat"] * 4 + ["mixed"] * 4
    assert dropped.rollouts.response_ids.shape[0] == 4 and dropped.tasks == ["mixed"] * 4
    assert torch.equal(dropped.rollouts.response_ids, keep_all.rollouts.response_ids[4:])
    assert dropped.stats["rl/dropped_groups"] == 1
    # rewards 0,1,0,1: mean 0.5, std (unbiased) = sqrt(4 * 0.25 / 3) = 0.57735: |A| = 0.5 / 0.57735 = 0.866025
    assert keep_all.stats["rl/mixed/abs_adv"] == pytest.approx(0.866025, abs=1e-5)
    assert keep_all.stats["rl/flat/abs_adv"] == 0.0 and keep_all.stats["rl/mixed/rollouts"] == 4


def test_hicra_marks_planning_tokens_of_rollouts():
    """With hicra_alpha set, each rollout row gets the planning mask of its task's markers (a task without
    markers: none), so the GRPO loss can boost those tokens' advantage."""
    from trainer.probes import planning_mask

    model, fmt = load_model("builtin", "tiny-base")
    runtime = make_runtime("cpu")
    planned = RLPrompt(  # cued: the base works a scratchpad once its first letter is given
        "p", fmt.prompt_ids("rev(abcd)=w"), lambda cs: [float(i % 2) for i in range(len(cs))], planning=["-"]
    )
    plain = RLPrompt("q", fmt.prompt_ids("sort(dcba)="), lambda cs: [float(i % 2) for i in range(len(cs))])
    batch = Batch(0, "r", 0.0, "none", [], [planned, plain])
    off = roll_out(model, fmt, batch, FitConfig(steps=1, seed=0, lr=1e-3, max_new_tokens=12), runtime, 0)
    cfg = FitConfig(steps=1, seed=0, lr=1e-3, max_new_tokens=12, hicra_alpha=0.2)
    on = roll_out(model, fmt, batch, cfg, runtime, 0)
    assert off.planning is None
    for row, ids in enumerate(on.rollouts.response_ids):
        expected = planning_mask(fmt, ids.tolist(), ["-"]) if row < 4 else [False] * len(ids)
        assert on.planning[row].tolist() == expected
    assert on.planning[:4].any()  # the cued base model writes "d-c-b-a" scratchpads
    model.zero_grad(set_to_none=True)
    backward_rl(model, off, batch.mu_for, cfg, runtime, None)
    g_off = _grads(model)
    model.zero_grad(set_to_none=True)
    backward_rl(model, on, batch.mu_for, cfg, runtime, None)
    assert not torch.allclose(_grads(model), g_off)


def test_rows_that_weigh_nothing_stay_out_of_the_token_means():
    """Task x at mu 1 keeps its RL prompt (to measure its reward) but its rollouts weigh 1 - 1 = 0: they
    leave the RL part, whose token mean is then over task y's rows only; SFT rows at mu 0 likewise."""
    model, fmt = load_model("builtin", "tiny-base")
    x = RLPrompt("x", fmt.prompt_ids("sort(cba)="), lambda cs: [float(i % 2) for i in range(len(cs))])
    y = RLPrompt("y", fmt.prompt_ids(PROMPT), lambda cs: [float(i % 2) for i in range(len(cs))])
    rows = [SFTRow("y", fmt.prompt_ids("rev(ab)="), fmt.completion_ids("ba"))]
    cfg = FitConfig(steps=1, seed=0, lr=1e-3, group_size=2, max_new_tokens=6, eval_every=0, checkpoint_every=0)
    batch = Batch(0, "r", 0.5, "none", rows, [x, y], task_mu={"x": 1.0, "y": 0.0})
    # the same rollouts (same seed, same prompts) with nothing weighing 0, so all 4 rows are kept
    scored = roll_out(model, fmt, Batch(0, "r", 0.5, "none", rows, [x, y]), cfg, make_runtime("cpu"), 0)
    y_tokens = int(scored.rollouts.response_mask[2:].sum())  # rows 2, 3 are y's (G = 2 per prompt)
    log = _Log()
    fit(
        {"model": model, "optimizer": make_optimizer(model, cfg), "step": 0},
        fmt,
        lambda step: batch,
        [],
        cfg,
        make_runtime("cpu"),
        log,
    )
    record = log.steps[0]
    assert record["train/rl_tokens"] == y_tokens < int(scored.rollouts.response_mask.sum())
    assert record["train/sft_loss"] is None and record["train/sft_tokens"] == 0  # y's SFT row is at mu 0
    assert record["rl/x/reward"] == 0.5  # x was still rolled out and measured
