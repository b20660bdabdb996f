"""One training step: RL raises the probability of rewarded completions; SFT lowers the NLL of its
demonstrations; micro-batching does not change the update (each part is normalized over the step's own
tokens); per-task mu weighs each task's rows; gating trains the demonstrations of all-failed prompts;
zero-variance groups can be dropped; the logged loss is L = (1 - mu) * L_RL + mu * L_SFT."""

import copy

import pytest
import torch
from helpers import tiny_base

from curriculum.records import Decision
from trainer.batch import Batch, RLPrompt, SFTRow
from trainer.config import TrainingSpec
from trainer.rl import gated_prompts, groups_to_drop, keep_groups, roll_out
from trainer.rollout import generate
from trainer.runtime import make_runtime
from trainer.sft import sft_logprobs
from trainer.step import backward_rl, backward_sft, make_optimizer, step_mu, train_step

PROMPT = "word(a..e,5)="
CPU = make_runtime("cpu")


def training(**fields) -> TrainingSpec:
    """Training settings; `group_size`, `max_new_tokens` and `hicra_alpha` go to their sections."""
    rollout = {k: fields.pop(k) for k in ("group_size", "max_new_tokens") if k in fields}
    grpo = {k: fields.pop(k) for k in ("hicra_alpha",) if k in fields}
    return TrainingSpec(**{"steps": 1, "lr": 1e-3, "rollout": rollout, "grpo": grpo, **fields})


def batch(mu: float, sft=(), rl=(), weighting="none", step=0, **knobs) -> Batch:
    """A batch with its decision (the decision's row counts are not read by the step: the rows are)."""
    return Batch(Decision(step, "s", mu, {}, {}, weighting, **knobs), list(sft), list(rl))


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


def _steps(model, fmt, make_batch, settings: TrainingSpec, n: int) -> tuple[dict, list]:
    state = {"model": model, "optimizer": make_optimizer(model, settings), "step": 0}
    records = [train_step(state, make_batch(state["step"]), fmt, settings, CPU, seed=0) for _ in range(n)]
    return state, records


def test_rl_raises_the_probability_of_rewarded_completions():
    model, fmt = tiny_base()
    before = _share_of_b(model, fmt)
    settings = training(steps=15, group_size=8, max_new_tokens=8)
    prompt = RLPrompt("word", fmt.prompt_ids(PROMPT), _second_letter_b)
    state, records = _steps(model, fmt, lambda step: batch(0.0, rl=[prompt] * 4, step=step), settings, 15)
    after = _share_of_b(model, fmt)
    # the base model writes a second letter "b" in a minority of samples; 15 GRPO steps make it most of them
    assert before < 0.3, before
    assert after > 0.6, after
    rewards = [r.rollouts.reward for r in records]
    assert sum(rewards[-5:]) / 5 > sum(rewards[:5]) / 5
    assert state["step"] == 15 and [r.step for r in records] == list(range(15))


def test_sft_lowers_the_nll_of_its_demonstrations():
    model, fmt = tiny_base()
    demo = lambda w: "work: " + "-".join(w[::-1]) + " => " + w[::-1]  # noqa: E731
    rows = [SFTRow("t", fmt.prompt_ids(f"rev({w})="), fmt.completion_ids(demo(w))) for w in ("abc", "hello", "curr")]
    _, records = _steps(model, fmt, lambda step: batch(1.0, sft=rows, step=step), training(steps=10), 10)
    losses = [r.sft_loss for r in records]
    assert losses[-1] < 0.5 * losses[0], losses
    assert all(r.rl_loss is None and r.rollouts is None for r in records)
    assert records[0].sft_rows == {"t": 3} and records[0].sft_tokens == sum(len(r.completion_ids) for r in rows)


def _grads(model):
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def test_micro_batching_gives_the_same_gradient():
    """mu * L_SFT + (1 - mu) * L_RL accumulated over micro-batches equals the whole-batch update."""
    model, fmt = tiny_base()
    rows = [
        SFTRow("t", fmt.prompt_ids(p), fmt.completion_ids(c))
        for p, c in [("sort(cba)=", "abc"), ("rev(abcdef)=", "work: f-e-d-c-b-a => fedcba"), ("7+5=", "12")]
    ]
    prompts = [RLPrompt("w", fmt.prompt_ids(PROMPT), _second_letter_b)] * 2
    d = Decision(0, "mixed", 0.3, {}, {}, "phi")
    grads = []
    for micro in (None, 1):
        settings = training(group_size=4, max_new_tokens=8, micro_batch=micro)
        scored = roll_out(model, fmt, prompts, settings, CPU, seed=0, step=0)  # same seed: same rollouts
        model.zero_grad(set_to_none=True)
        backward_sft(model, fmt, rows, d.sft_weighting, d.mu_for, settings, CPU)
        backward_rl(model, scored, d.mu_for, settings, CPU, None)
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
    model, fmt = tiny_base()
    settings = training()
    rows = [
        SFTRow("a", fmt.prompt_ids("sort(cba)="), fmt.completion_ids("abc")),
        SFTRow("a", fmt.prompt_ids("sort(zyx)="), fmt.completion_ids("xyz")),
        SFTRow("b", fmt.prompt_ids("rev(abc)="), fmt.completion_ids("cba")),
    ]

    def grad(mu_of):
        model.zero_grad(set_to_none=True)
        out = backward_sft(model, fmt, rows, "none", mu_of, settings, CPU)
        return _grads(model), out

    g_a, _ = grad(lambda t: 1.0 if t == "a" else 0.0)
    g_b, _ = grad(lambda t: 1.0 if t == "b" else 0.0)
    g_mixed, out = grad(Decision(0, "s", 0.3, {}, {}, task_mu={"a": 0.6}).mu_for)
    expected = 0.6 * g_a + 0.3 * g_b
    assert (g_mixed - expected).abs().max() < 1e-5 * expected.abs().max()  # equal up to float32 rounding
    g_same, _ = grad(Decision(0, "s", 0.0, {}, {}, task_mu={"a": 0.3, "b": 0.3}).mu_for)
    g_scalar, plain = grad(Decision(0, "s", 0.3, {}, {}).mu_for)
    assert torch.equal(g_same, g_scalar)
    assert out["loss"] == pytest.approx(plain["loss"], rel=1e-6)  # the logged SFT loss: unweighted token mean


def test_the_logged_loss_is_the_mixed_objective():
    """One mu for every row: train/loss = (1 - mu) * L_RL + mu * L_SFT, with L_SFT and L_RL as logged."""
    model, fmt = tiny_base()
    rows = [SFTRow("t", fmt.prompt_ids("sort(cba)="), fmt.completion_ids("abc"))]
    prompt = RLPrompt("w", fmt.prompt_ids(PROMPT), lambda cs: [float(i % 2) for i in range(len(cs))])
    _, [record] = _steps(model, fmt, lambda step: batch(0.3, sft=rows, rl=[prompt]), training(group_size=4), 1)
    assert record.sft_loss is not None and record.rl_loss is not None
    assert record.loss == pytest.approx(0.7 * record.rl_loss + 0.3 * record.sft_loss, rel=1e-6)
    assert record.mu == 0.3 and record.gated is None


def test_gating_trains_the_demonstrations_of_all_failed_prompts():
    """A prompt whose G rollouts all score 0 has its demonstration trained as SFT in the same step;
    with mu = 0 and k = 1 of n = 2 prompts gated, the SFT part weighs 0 + (1 - 0) * 1/2 = 0.5."""
    model, fmt = tiny_base()
    never = RLPrompt("x", fmt.prompt_ids("sort(cba)="), lambda cs: [0.0] * len(cs), "abc")
    always = RLPrompt("y", fmt.prompt_ids(PROMPT), lambda cs: [1.0] * len(cs), "abcde")
    no_demo = RLPrompt("z", fmt.prompt_ids("rev(ab)="), lambda cs: [0.0] * len(cs))
    settings = training(group_size=2, max_new_tokens=6)
    gated_batch = batch(0.0, rl=[never, always], gate_below=0.0)
    _, [record] = _steps(copy.deepcopy(model), fmt, lambda step: gated_batch, settings, 1)
    assert record.gated == 1
    assert record.mu == 0.5
    assert record.sft_tokens == len(fmt.completion_ids("abc"))  # the gated demonstration only
    assert record.loss == pytest.approx(0.5 * record.sft_loss + 0.5 * record.rl_loss)
    # the gated prompt's group left the RL part: its token mean is over the other prompt's G rows only
    scored = roll_out(model, fmt, gated_batch.rl, settings, CPU, seed=0, step=0)  # the same rollouts
    gated = gated_prompts(gated_batch.rl, scored.rewards, 0.0)
    assert gated == [True, False] and step_mu(gated_batch.decision, 1 / 2)("x") == 0.5
    drop = groups_to_drop(gated_batch.rl, scored.rewards, gated, gated_batch.decision)
    kept = keep_groups(scored, [not d for d in drop], 2)
    assert kept.tasks == ["y", "y"] and record.rl_tokens == int(kept.rollouts.response_mask.sum())
    # a prompt without a demonstration is never gated; gating off (None) gates nothing
    _, [lone] = _steps(model, fmt, lambda step: batch(0.0, rl=[no_demo], gate_below=0.0), settings, 1)
    assert lone.gated == 0 and lone.sft_loss is None
    assert gated_prompts([never], torch.zeros(1, 2), None) == [False]


def test_zero_variance_groups_can_be_dropped():
    """Two prompts: one whose rewards are all equal, one mixed; dropping keeps only the mixed group's
    G rows (so the RL token mean is over them alone); abs_adv and rollouts are logged per task."""
    model, fmt = tiny_base()
    flat = RLPrompt("flat", fmt.prompt_ids("sort(cba)="), lambda cs: [1.0] * len(cs))
    mixed = RLPrompt("mixed", fmt.prompt_ids(PROMPT), lambda cs: [float(i % 2) for i in range(len(cs))])
    settings = training(group_size=4, max_new_tokens=6)
    scored = roll_out(model, fmt, [flat, mixed], settings, CPU, seed=0, step=0)
    assert scored.rollouts.response_ids.shape[0] == 8 and scored.tasks == ["flat"] * 4 + ["mixed"] * 4
    plain, dropping = Decision(0, "r", 0.0, {}, {}), Decision(0, "r", 0.0, {}, {}, drop_zero_variance=True)
    assert groups_to_drop([flat, mixed], scored.rewards, [False, False], plain) == [False, False]
    drop = groups_to_drop([flat, mixed], scored.rewards, [False, False], dropping)
    assert drop == [True, False]
    kept = keep_groups(scored, [not d for d in drop], 4)
    assert kept.tasks == ["mixed"] * 4
    assert torch.equal(kept.rollouts.response_ids, scored.rollouts.response_ids[4:])
    # rewards 0,1,0,1: mean 0.5, std (unbiased) = sqrt(4 * 0.25 / 3) = 0.57735: |A| = 0.5 / 0.57735 = 0.866025
    assert scored.stats.tasks["mixed"].abs_adv == pytest.approx(0.866025, abs=1e-5)
    assert scored.stats.tasks["flat"].abs_adv == 0.0 and scored.stats.tasks["mixed"].rollouts == 4
    # in a step: the record counts the dropped group, the RL token mean is over the mixed group's rows
    _, [record] = _steps(model, fmt, lambda step: batch(0.0, rl=[flat, mixed], drop_zero_variance=True), settings, 1)
    assert record.rollouts.dropped_groups == 1 and record.rollouts.zero_var_frac == 0.5
    assert record.rl_tokens == int(kept.rollouts.response_mask.sum())


def test_hicra_marks_planning_tokens_of_rollouts():
    """With hicra_alpha set, each rollout row gets the planning mask of its task's markers (a task without
    markers: none), so the GRPO loss can boost those tokens' advantage."""
    from trainer.planning import planning_mask

    model, fmt = tiny_base()
    planned = RLPrompt(  # cued: the base works a scratchpad once its first letter is given
        "p", fmt.prompt_ids("rev(abcd)=w"), lambda cs: [float(i % 2) for i in range(len(cs))], planning=["-"]
    )
    plain = RLPrompt("q", fmt.prompt_ids("sort(dcba)="), lambda cs: [float(i % 2) for i in range(len(cs))])
    off = roll_out(model, fmt, [planned, plain], training(max_new_tokens=12), CPU, seed=0, step=0)
    settings = training(max_new_tokens=12, hicra_alpha=0.2)
    on = roll_out(model, fmt, [planned, plain], settings, CPU, seed=0, step=0)
    assert off.planning is None and off.stats.planning_frac is None
    for row, ids in enumerate(on.rollouts.response_ids):
        expected = planning_mask(fmt, ids.tolist(), ["-"]) if row < 4 else [False] * len(ids)
        assert on.planning[row].tolist() == expected
    assert on.planning[:4].any()  # the cued base model writes "d-c-b-a" scratchpads
    assert 0 < on.stats.planning_frac < 1
    mu_of = Decision(0, "r", 0.0, {}, {}).mu_for
    model.zero_grad(set_to_none=True)
    backward_rl(model, off, mu_of, settings, CPU, None)
    g_off = _grads(model)
    model.zero_grad(set_to_none=True)
    backward_rl(model, on, mu_of, settings, CPU, None)
    assert not torch.allclose(_grads(model), g_off)


def test_rows_that_weigh_nothing_stay_out_of_the_token_means():
    """Task x at mu 1 keeps its RL prompt (to measure its reward) but its rollouts weigh 1 - 1 = 0: they
    leave the RL part, whose token mean is then over task y's rows only; SFT rows at mu 0 likewise."""
    model, fmt = tiny_base()
    x = RLPrompt("x", fmt.prompt_ids("sort(cba)="), lambda cs: [float(i % 2) for i in range(len(cs))])
    y = RLPrompt("y", fmt.prompt_ids(PROMPT), lambda cs: [float(i % 2) for i in range(len(cs))])
    rows = [SFTRow("y", fmt.prompt_ids("rev(ab)="), fmt.completion_ids("ba"))]
    settings = training(group_size=2, max_new_tokens=6)
    # the same rollouts (same seed, same prompts), all 4 rows
    scored = roll_out(model, fmt, [x, y], settings, CPU, seed=0, step=0)
    y_tokens = int(scored.rollouts.response_mask[2:].sum())  # rows 2, 3 are y's (G = 2 per prompt)
    weighted = batch(0.5, sft=rows, rl=[x, y], task_mu={"x": 1.0, "y": 0.0})
    _, [record] = _steps(model, fmt, lambda step: weighted, settings, 1)
    assert record.rl_tokens == y_tokens < int(scored.rollouts.response_mask.sum())
    assert record.sft_loss is None and record.sft_tokens == 0  # y's SFT row is at mu 0
    assert record.rollouts.tasks["x"].reward == 0.5  # x was still rolled out and measured
    assert record.rl_prompts == {"x": 1, "y": 1} and record.sft_rows == {"y": 1}
