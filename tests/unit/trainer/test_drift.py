"""Drift from the base (KL, k3) against hand-worked numbers (arithmetic in the comments) or independent
references."""

import copy
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from trainer.drift import k3_sum, kl_to_base, position_kl
from trainer.model import Formatter
from trainer.rollout import generate

LN2 = math.log(2)
NEG_INF = float("-inf")


def test_position_kl_hand_worked_and_at_temperature():
    # p = (1/2, 1/4, 1/4), q = (1/4, 1/4, 1/2):
    # KL(p || q) = 1/2 ln 2 + 1/4 ln 1 + 1/4 ln 1/2 = 0.346574 - 0.173287 = 0.173287 (= ln 2 / 4)
    p, q = torch.log(torch.tensor([0.5, 0.25, 0.25])), torch.log(torch.tensor([0.25, 0.25, 0.5]))
    assert position_kl(p, q).item() == pytest.approx(LN2 / 4, abs=1e-6)
    # not symmetric: KL(q || p) = 1/4 ln 1/2 + 0 + 1/2 ln 2 = 0.173287 too here, so use another pair:
    # p2 = (1/2, 1/2), q2 = (1/4, 3/4): KL(p2||q2) = 1/2 ln 2 + 1/2 ln 2/3 = 0.346574 - 0.202733 = 0.143841
    # KL(q2||p2) = 1/4 ln 1/2 + 3/4 ln 3/2 = -0.173287 + 0.304099 = 0.130812
    p2, q2 = torch.log(torch.tensor([0.5, 0.5])), torch.log(torch.tensor([0.25, 0.75]))
    assert position_kl(p2, q2).item() == pytest.approx(0.143841, abs=1e-6)
    assert position_kl(q2, p2).item() == pytest.approx(0.130812, abs=1e-6)
    # temperature 2 halves both log-probs: p ~ (sqrt 2, 1, 1) / (2 + sqrt 2) = (0.414214, 0.292893, 0.292893),
    # q ~ (1, 1, sqrt 2) / (2 + sqrt 2) = (0.292893, 0.292893, 0.414214)
    # KL = 0.414214 ln(0.414214/0.292893) + 0.292893 ln(0.292893/0.414214) = 0.121321 * ln sqrt 2 = 0.042047
    assert position_kl(p, q, temperature=2.0).item() == pytest.approx(0.042047, abs=1e-6)


def test_position_kl_matches_torch_kl_div_and_ignores_impossible_tokens():
    g = torch.Generator().manual_seed(0)
    base, policy = torch.randn(3, 5, 11, generator=g), torch.randn(3, 5, 11, generator=g)
    ref = F.kl_div(policy.log_softmax(-1), base.log_softmax(-1), log_target=True, reduction="none").sum(-1)
    assert torch.allclose(position_kl(base, policy), ref, atol=1e-6)
    # a token the base never emits (-inf logit) adds nothing, even where the policy also excludes it:
    # p = (0, 1/2, 1/2), q = (0, 1/4, 3/4) -> same as p2, q2 above: 0.143841
    kl = position_kl(torch.tensor([NEG_INF, 0.0, 0.0]), torch.tensor([NEG_INF, 0.0, math.log(3)]))
    assert kl.item() == pytest.approx(0.143841, abs=1e-6)


class BigramLM(torch.nn.Module):
    """A stand-in causal LM: the logits at each position are `table[input token]`. It accepts what
    `generate` and teacher forcing pass (no cache needed: the next token depends on the last only)."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = torch.nn.Parameter(table, requires_grad=False)

    def forward(
        self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=False, logits_to_keep=0
    ):
        logits = self.table[input_ids]  # (N, L, V)
        return SimpleNamespace(logits=logits[:, -logits_to_keep:] if logits_to_keep else logits, past_key_values=None)


# vocabulary of the stand-in models: 0 pad (never sampled), 1 bos, 2 and 3 ordinary, 4 stop
FAKE_FMT = Formatter(SimpleNamespace(pad_token_id=0, eos_token_id=4), None, [4])


def _constant(probs):
    logp = torch.tensor([NEG_INF] + [math.log(x) for x in probs])
    return BigramLM(logp.expand(5, 5).clone())


def test_position_kl_is_never_negative_where_the_distributions_agree():
    """Logits shifted by a constant give the same distribution: KL 0. Computed in float32 the raw sum
    p * (log p - log q) lands on both sides of 0 (about -1.5e-7 at worst here); position_kl clamps at 0."""
    logits = torch.randn(64, 100, generator=torch.Generator().manual_seed(0)) * 3
    shifted = logits + 7.3
    base_logp, policy_logp = logits.log_softmax(-1), shifted.log_softmax(-1)
    raw = (base_logp.exp() * (base_logp - policy_logp)).sum(-1)
    assert (raw < 0).any()  # the rounding the clamp is for
    kl = position_kl(logits, shifted)
    assert (kl >= 0).all() and kl.max() < 1e-6


def test_kl_to_base_of_constant_models_is_the_per_position_kl():
    # every position: base p = (0.7, 0.1, 0.1, 0.1), policy q = (1/4, 1/4, 1/4, 1/4) over tokens 1..4
    # KL(p||q) = 0.7 ln 2.8 + 3 * 0.1 ln 0.4 = 0.720734 - 0.274887 = 0.445847, whatever was sampled
    # (the other direction, KL(q||p) = 0.25 ln(0.25/0.7) + 0.75 ln 2.5 = 0.429814, would be wrong)
    base, policy = _constant([0.7, 0.1, 0.1, 0.1]), _constant([0.25] * 4)
    kw = dict(samples=3, max_new_tokens=6, temperature=1.0, batch_size=4)
    kl = kl_to_base(policy, base, FAKE_FMT, [[1, 2], [1]], generator=torch.Generator().manual_seed(0), **kw)
    assert kl == pytest.approx(0.445847, abs=1e-6)
    assert kl_to_base(base, base, FAKE_FMT, [[1]], generator=torch.Generator().manual_seed(0), **kw) == 0.0


def test_kl_to_base_matches_a_brute_force_loop_over_base_samples():
    """Bigram models: the KL at response position t depends on the token before it, so a shifted
    alignment or a per-chunk (instead of per-token) mean would give another number."""
    g = torch.Generator().manual_seed(1)
    base_table, policy_table = torch.randn(5, 5, generator=g), torch.randn(5, 5, generator=g)
    base_table[:, 0] = policy_table[:, 0] = NEG_INF  # pad is never sampled
    base, policy = BigramLM(base_table), BigramLM(policy_table)
    prompts, samples, temperature, batch_size = [[1, 2], [1, 3, 3], [1]], 2, 0.8, 4  # chunks of 2 + 1 prompts
    kl = kl_to_base(
        policy,
        base,
        FAKE_FMT,
        prompts,
        samples=samples,
        max_new_tokens=5,
        temperature=temperature,
        generator=torch.Generator().manual_seed(7),
        batch_size=batch_size,
    )

    def dist(table, prev):
        w = [math.exp(x / temperature) for x in table[prev].tolist()]
        return [x / sum(w) for x in w]

    gen, total, tokens = torch.Generator().manual_seed(7), 0.0, 0
    for chunk in ([prompts[0], prompts[1]], [prompts[2]]):
        out = generate(
            base,
            [p for p in chunk for _ in range(samples)],
            max_new_tokens=5,
            temperature=temperature,
            generator=gen,
            stop_ids=[4],
            pad_id=0,
        )
        for row, prompt in enumerate(p for p in chunk for _ in range(samples)):
            response = out.response_ids[row, : int(out.lengths[row])].tolist()
            for t in range(len(response)):
                prev = prompt[-1] if t == 0 else response[t - 1]
                p, q = dist(base_table, prev), dist(policy_table, prev)
                total += sum(pv * math.log(pv / qv) for pv, qv in zip(p, q) if pv > 0)
                tokens += 1
    assert tokens > 6
    assert kl == pytest.approx(total / tokens, rel=1e-5)


def test_kl_to_base_real_model_zero_to_itself_positive_after_perturbing_and_matches_unpadded_forward(tiny):
    model, fmt = tiny
    prompts = [fmt.prompt_ids(p) for p in ["1+2=", "sort(zyxw)="]]  # different lengths: left padding
    kw = dict(samples=2, max_new_tokens=6, temperature=1.0, batch_size=8)
    same = kl_to_base(model, model, fmt, prompts, generator=torch.Generator().manual_seed(0), **kw)
    assert abs(same) < 1e-6
    policy = copy.deepcopy(model)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    kl = kl_to_base(policy, model, fmt, prompts, generator=torch.Generator().manual_seed(0), **kw)
    assert kl > 1e-3
    # independent reference: each sample alone, unpadded, full forward, torch's kl_div
    out = generate(
        model,
        [p for p in prompts for _ in range(2)],
        max_new_tokens=6,
        temperature=1.0,
        generator=torch.Generator().manual_seed(0),
        stop_ids=fmt.stop_ids,
        pad_id=fmt.pad_id,
    )
    total, tokens = 0.0, 0
    for row, prompt in enumerate(p for p in prompts for _ in range(2)):
        n = int(out.lengths[row])
        ids = torch.tensor([prompt + out.response_ids[row, :n].tolist()])
        with torch.no_grad():
            lb = model(input_ids=ids).logits[0, len(prompt) - 1 : -1].log_softmax(-1)
            lp = policy(input_ids=ids).logits[0, len(prompt) - 1 : -1].log_softmax(-1)
        total += float(F.kl_div(lp, lb, log_target=True, reduction="sum"))
        tokens += n
    assert kl == pytest.approx(total / tokens, rel=1e-4)


def test_k3_hand_worked_and_estimates_kl_from_the_policy_side():
    # delta = ref - pol = ln 2, -ln 2: k3 = (2 - 0.693147 - 1) and (0.5 + 0.693147 - 1) = 0.306853, 0.193147
    # the third token is masked: mean = (0.306853 + 0.193147) / 2 = 0.25
    pol = torch.log(torch.tensor([[0.25, 0.5, 0.9]]))
    ref = torch.log(torch.tensor([[0.5, 0.25, 0.1]]))
    mask = torch.tensor([[1, 1, 0]])
    assert float(k3_sum(pol, ref, mask) / mask.sum()) == pytest.approx(0.25, abs=1e-6)
    # policy p = (0.8, 0.2), ref q = (0.5, 0.5); five policy samples in p's exact proportions: 4 x token 0, 1 x token 1
    # token 0: delta = ln(0.5/0.8) = -0.470004, k3 = 0.625 + 0.470004 - 1 = 0.095004
    # token 1: delta = ln(0.5/0.2) = 0.916291, k3 = 2.5 - 0.916291 - 1 = 0.583709
    # mean = (4 * 0.095004 + 0.583709) / 5 = 0.192745 = KL(p||q) = 0.8 ln 1.6 + 0.2 ln 0.4 (KL(q||p) = 0.223144)
    pol = torch.log(torch.tensor([[0.8, 0.8, 0.8, 0.8, 0.2]]))
    ref = torch.full((1, 5), math.log(0.5))
    est = float(k3_sum(pol, ref, torch.ones(1, 5)) / 5)
    assert est == pytest.approx(0.192745, abs=1e-6)
    assert est == pytest.approx(position_kl(torch.log(torch.tensor([0.8, 0.2])), torch.zeros(2)).item(), abs=1e-6)
