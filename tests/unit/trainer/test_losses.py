"""Losses against numbers worked by hand (the arithmetic is in the comments)."""

import math

import pytest
import torch

from trainer.losses import group_advantages, grpo_loss, sft_loss, token_entropy, token_logprobs

LN2, LN4 = math.log(2), math.log(4)


def _lp(*probs):
    return torch.tensor([list(map(math.log, probs))], requires_grad=True)


# --------------------------------------------------------------------------------------------- SFT


def test_sft_plain_is_token_mean_nll():
    # p = (0.5, 0.25, 0.8), the third token masked out.
    # L = -(ln 0.5 + ln 0.25) / 2 = (0.693147 + 1.386294) / 2 = 1.039721
    logprobs, mask = _lp(0.5, 0.25, 0.8), torch.tensor([[1.0, 1.0, 0.0]])
    loss = sft_loss(logprobs, mask)
    assert loss.item() == pytest.approx(1.039721, abs=1e-6)
    loss.backward()
    # dL/dlogp = -1/2 on each counted token, 0 on the masked one
    assert logprobs.grad.flatten().tolist() == pytest.approx([-0.5, -0.5, 0.0])


def test_sft_phi_weights_are_p_one_minus_p_under_stop_gradient():
    # w = p(1-p): 0.5*0.5 = 0.25, 0.25*0.75 = 0.1875
    # L = -(0.25 * ln 0.5 + 0.1875 * ln 0.25) / 2 = (0.173287 + 0.259930) / 2 = 0.216608
    logprobs, mask = _lp(0.5, 0.25, 0.8), torch.tensor([[1.0, 1.0, 0.0]])
    loss = sft_loss(logprobs, mask, "phi")
    assert loss.item() == pytest.approx(0.216608, abs=1e-6)
    loss.backward()
    # w is a constant: dL/dlogp = -w/2 = (-0.125, -0.09375); no gradient through p itself
    assert logprobs.grad.flatten().tolist() == pytest.approx([-0.125, -0.09375, 0.0])


def test_sft_is_weights_are_p():
    # w = p: L = -(0.5 * ln 0.5 + 0.25 * ln 0.25) / 2 = (0.346574 + 0.346574) / 2 = 0.346574
    logprobs, mask = _lp(0.5, 0.25, 0.8), torch.tensor([[1.0, 1.0, 0.0]])
    assert sft_loss(logprobs, mask, "is").item() == pytest.approx(0.346574, abs=1e-6)


def test_sft_rejects_unknown_weighting():
    with pytest.raises(ValueError, match="phi"):
        sft_loss(_lp(0.5), torch.ones(1, 1), "bogus")


def test_sft_micro_batches_with_step_token_count_sum_to_whole():
    # rows: 2 counted tokens and 1 counted token; the whole mean is over 3 tokens.
    logprobs = torch.log(torch.tensor([[0.5, 0.25], [0.8, 0.9]]))
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    whole = sft_loss(logprobs, mask)  # (0.693147 + 1.386294 + 0.223144) / 3 = 0.767528
    assert whole.item() == pytest.approx(0.767528, abs=1e-6)
    parts = sft_loss(logprobs[:1], mask[:1], num_tokens=3) + sft_loss(logprobs[1:], mask[1:], num_tokens=3)
    assert parts.item() == pytest.approx(whole.item(), abs=1e-7)
    # the per-micro-batch mean would weight the one-token row as much as the two-token row: different
    naive = (sft_loss(logprobs[:1], mask[:1]) + sft_loss(logprobs[1:], mask[1:])) / 2
    assert naive.item() == pytest.approx((1.039721 + 0.223144) / 2, abs=1e-6)
    assert naive.item() != pytest.approx(whole.item(), abs=1e-3)


# -------------------------------------------------------------------------------------------- GRPO


def test_group_advantages_hand_computed():
    # group [1, 0, 0, 1]: mean 0.5, sample std sqrt(4 * 0.25 / 3) = 0.577350 -> A = +-0.5 / 0.577350 = +-0.866025
    # group [0, 0, 0, 1]: mean 0.25, std sqrt((3 * 0.0625 + 0.5625) / 3) = 0.5 -> A = (-0.5, -0.5, -0.5, 1.5)
    adv = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]]), eps=0.0)
    assert adv[0].tolist() == pytest.approx([0.866025, -0.866025, -0.866025, 0.866025], abs=1e-6)
    assert adv[1].tolist() == pytest.approx([-0.5, -0.5, -0.5, 1.5], abs=1e-6)


def test_group_advantages_zero_variance_group_is_zero():
    # all four equal: r - mean = 0, std = 0 -> 0 / (0 + eps) = 0: the group teaches nothing
    adv = group_advantages(torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.3, 0.3, 0.3, 0.3]]), eps=1e-6)
    assert adv.abs().max().item() == 0.0


def test_grpo_clip_inactive_is_minus_token_mean_advantage():
    # ratio = 1 everywhere (on-policy). A = (+0.866025, -0.866025); mask [[1,1],[1,0]] -> 3 tokens.
    # per token -A: row 0: -0.866025, -0.866025; row 1: +0.866025 -> sum -0.866025 / 3 = -0.288675
    logprobs = torch.log(torch.tensor([[0.5, 0.4], [0.3, 0.2]])).requires_grad_()
    adv = torch.tensor([0.866025, -0.866025])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    loss, stats = grpo_loss(logprobs, logprobs.detach(), adv, mask)
    assert loss.item() == pytest.approx(-0.288675, abs=1e-6)
    assert stats["clip_frac"].item() == 0.0
    assert stats["approx_kl"].item() == pytest.approx(0.0, abs=1e-7)
    loss.backward()
    # d(-ratio*A)/dlogp = -A * ratio = -A, over 3 tokens: -0.288675 (row 0), +0.288675 (row 1, first token)
    assert logprobs.grad.flatten().tolist() == pytest.approx([-0.288675, -0.288675, 0.288675, 0.0], abs=1e-6)


def _four_tokens(ratios):
    old = torch.zeros(4, 1)
    new = torch.log(torch.tensor(ratios)).reshape(4, 1).requires_grad_()
    return new, old


def test_grpo_clip_active():
    # tokens (one per row), eps = 0.2 both sides:
    #  A=+1, ratio 1.5: min(1.5, 1.2) = 1.2  -> -1.2   clipped
    #  A=-1, ratio 0.5: min(-0.5, -0.8) = -0.8 -> +0.8  clipped
    #  A=-1, ratio 1.5: min(-1.5, -1.2) = -1.5 -> +1.5  not clipped (pessimistic side)
    #  A=+1, ratio 0.5: min(0.5, 0.8) = 0.5  -> -0.5   not clipped
    # L = (-1.2 + 0.8 + 1.5 - 0.5) / 4 = 0.15; clip_frac = 2 / 4
    new, old = _four_tokens([1.5, 0.5, 1.5, 0.5])
    adv, mask = torch.tensor([1.0, -1.0, -1.0, 1.0]), torch.ones(4, 1)
    loss, stats = grpo_loss(new, old, adv, mask, clip_low=0.2, clip_high=0.2)
    assert loss.item() == pytest.approx(0.15, abs=1e-6)
    assert stats["clip_frac"].item() == pytest.approx(0.5)
    loss.backward()
    # clipped tokens get no gradient; unclipped: d(-ratio*A)/dlogp = -A*ratio: +1.5/4 and -0.5/4
    assert new.grad.flatten().tolist() == pytest.approx([0.0, 0.0, 0.375, -0.125], abs=1e-6)


def test_grpo_asymmetric_clip():
    # ratio 1.25, A = +1: symmetric 0.2 clips at 1.2 -> L = -1.2; clip_high 0.28 leaves it -> L = -1.25
    new, old = torch.log(torch.tensor([[1.25]])), torch.zeros(1, 1)
    adv, mask = torch.tensor([1.0]), torch.ones(1, 1)
    sym, _ = grpo_loss(new, old, adv, mask, clip_low=0.2, clip_high=0.2)
    asym, stats = grpo_loss(new, old, adv, mask, clip_low=0.2, clip_high=0.28)
    assert sym.item() == pytest.approx(-1.2, abs=1e-6)
    assert asym.item() == pytest.approx(-1.25, abs=1e-6)
    assert stats["clip_frac"].item() == 0.0
    # the low side is unchanged: ratio 0.7, A = -1 -> min(-0.7, -0.8) = -0.8 -> L = 0.8 either way
    low, _ = grpo_loss(torch.log(torch.tensor([[0.7]])), old, -adv, mask, clip_low=0.2, clip_high=0.28)
    assert low.item() == pytest.approx(0.8, abs=1e-6)


def test_grpo_zero_variance_group_gives_no_gradient_but_counts_tokens():
    # a zero-variance group has A = 0: its tokens add 0 to the loss and no gradient, yet they are
    # part of the token mean. One token with A = +1 and ratio 1, plus 3 tokens with A = 0:
    # L = -1 / 4 = -0.25 (it would be -1 if the zero-advantage tokens were dropped)
    logprobs = torch.log(torch.tensor([[0.5], [0.5], [0.5], [0.5]])).requires_grad_()
    adv = torch.tensor([1.0, 0.0, 0.0, 0.0])
    loss, _ = grpo_loss(logprobs, logprobs.detach(), adv, torch.ones(4, 1))
    assert loss.item() == pytest.approx(-0.25)
    loss.backward()
    assert logprobs.grad.flatten().tolist() == pytest.approx([-0.25, 0.0, 0.0, 0.0])


def test_grpo_k3_kl_to_reference():
    # delta = ref - logp: ln 2 and -ln 2.  k3 = e^delta - delta - 1:
    #   2 - 0.693147 - 1 = 0.306853 ;  0.5 + 0.693147 - 1 = 0.193147 ; mean = 0.25
    # A = 0 so the surrogate is 0; L = kl_coef * 0.25 = 0.1 * 0.25 = 0.025
    logprobs = torch.log(torch.tensor([[0.25, 0.5]]))
    ref = torch.log(torch.tensor([[0.5, 0.25]]))
    loss, stats = grpo_loss(logprobs, logprobs, torch.zeros(1), torch.ones(1, 2), ref_logprobs=ref, kl_coef=0.1)
    assert stats["kl"].item() == pytest.approx(0.25, abs=1e-6)
    assert loss.item() == pytest.approx(0.025, abs=1e-7)


def test_grpo_hicra_raises_planning_token_advantages_by_alpha_abs_a():
    # on-policy (ratio 1): L_t = -A_t. A = (+1, -1), planning tokens at (0, 0) and (1, 1), alpha = 0.2:
    #   row 0: planning A = 1 + 0.2 * 1 = 1.2, execution 1.0
    #   row 1: execution -1.0, planning -1 + 0.2 * 1 = -0.8
    # L = (-1.2 - 1.0 + 1.0 + 0.8) / 4 = -0.4 / 4 = -0.1 ; plain GRPO: (-1 - 1 + 1 + 1) / 4 = 0
    logprobs = torch.log(torch.tensor([[0.5, 0.4], [0.3, 0.2]])).requires_grad_()
    adv, mask = torch.tensor([1.0, -1.0]), torch.ones(2, 2)
    planning = torch.tensor([[True, False], [False, True]])
    loss, _ = grpo_loss(logprobs, logprobs.detach(), adv, mask, planning_mask=planning, hicra_alpha=0.2)
    assert loss.item() == pytest.approx(-0.1, abs=1e-6)
    loss.backward()
    # dL/dlogp_t = -A_t / 4: (-0.3, -0.25, 0.25, 0.2)
    assert logprobs.grad.flatten().tolist() == pytest.approx([-0.3, -0.25, 0.25, 0.2], abs=1e-6)
    plain, _ = grpo_loss(logprobs, logprobs.detach(), adv, mask)
    assert plain.item() == pytest.approx(0.0, abs=1e-7)


def test_grpo_hicra_with_clipping_and_no_planning_tokens():
    # planning tokens, alpha 0.2, eps 0.2:
    #  A=+1 -> 1.2, ratio 1.5: min(1.5 * 1.2, 1.2 * 1.2) = 1.44 -> -1.44  clipped
    #  A=-1 -> -0.8, ratio 0.5: min(0.5 * -0.8, 0.8 * -0.8) = -0.64 -> +0.64  clipped
    # L = (-1.44 + 0.64) / 2 = -0.4; clip_frac = 1
    new, old = torch.log(torch.tensor([[1.5], [0.5]])), torch.zeros(2, 1)
    adv, mask = torch.tensor([1.0, -1.0]), torch.ones(2, 1)
    loss, stats = grpo_loss(new, old, adv, mask, planning_mask=torch.ones(2, 1))
    assert loss.item() == pytest.approx(-0.4, abs=1e-6)
    assert stats["clip_frac"].item() == 1.0
    # an all-execution mask is plain GRPO to the bit: (-1.2 + 0.8) / 2 = -0.2
    none, _ = grpo_loss(new, old, adv, mask)
    zeros, _ = grpo_loss(new, old, adv, mask, planning_mask=torch.zeros(2, 1))
    assert torch.equal(none, zeros) and none.item() == pytest.approx(-0.2, abs=1e-6)


# ------------------------------------------------------------------------------------------- mixed


def test_mixed_parts_keep_their_own_token_populations():
    # SFT: 2 tokens, NLL ln 2 each -> L_SFT = ln 2 = 0.693147 regardless of the RL part's size.
    # RL: 6 tokens, ratio 1, A = +1 on 3 tokens, -1 on 3 -> L_RL = 0.
    # A pooled mean over all 8 tokens would give (2 ln 2 * mu + 0) / 8: mu would lose its meaning.
    sft = sft_loss(torch.full((1, 2), -LN2), torch.ones(1, 2))
    lp = torch.full((2, 3), -LN4)
    rl, _ = grpo_loss(lp, lp, torch.tensor([1.0, -1.0]), torch.ones(2, 3))
    assert sft.item() == pytest.approx(0.693147, abs=1e-6)
    assert rl.item() == pytest.approx(0.0, abs=1e-7)
    # L = (1 - mu) * L_RL + mu * L_SFT at mu 0.5 = 0.5 * 0 + 0.5 * 0.693147 (the step's test: test_step.py)
    assert ((1 - 0.5) * rl + 0.5 * sft).item() == pytest.approx(0.5 * 0.693147, abs=1e-6)


# ------------------------------------------------------------------------------------- helpers


def test_token_logprobs_and_entropy():
    # logits (0, ln 3) -> softmax (1/4, 3/4). log p(token 1) = ln 0.75 = -0.287682
    # entropy = -(0.25 ln 0.25 + 0.75 ln 0.75) = 0.346574 + 0.215762 = 0.562335
    logits = torch.tensor([[[0.0, math.log(3)]]])
    assert token_logprobs(logits, torch.tensor([[1]])).item() == pytest.approx(-0.287682, abs=1e-6)
    assert token_entropy(logits).item() == pytest.approx(0.562335, abs=1e-6)
    # temperature 2 halves the logits: (0, ln 3 / 2) -> p = (1, sqrt 3) / (1 + sqrt 3) = (0.366025, 0.633975)
    assert token_logprobs(logits, torch.tensor([[0]]), 2.0).item() == pytest.approx(
        math.log(1 / (1 + math.sqrt(3))), abs=1e-6
    )
