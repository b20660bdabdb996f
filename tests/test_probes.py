"""Probes against hand-worked numbers (arithmetic in the comments) or independent references."""

import copy
import math
import re
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from trainer.model import Formatter
from trainer.probes import (
    changed_mask,
    changed_overlap,
    k3_kl,
    kl_to_base,
    marker_regex,
    planning_mask,
    planning_tensor,
    position_kl,
    snapshot,
    split_entropy,
    token_spans,
    update_sparsity,
)
from trainer.rollout import generate
from trainer.tiny import tiny_tokenizer

LN2 = math.log(2)
NEG_INF = float("-inf")

# ---------------------------------------------------------------------------------- KL to base


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
    assert k3_kl(pol, ref, torch.tensor([[1, 1, 0]])) == pytest.approx(0.25, abs=1e-6)
    # policy p = (0.8, 0.2), ref q = (0.5, 0.5); five policy samples in p's exact proportions: 4 x token 0, 1 x token 1
    # token 0: delta = ln(0.5/0.8) = -0.470004, k3 = 0.625 + 0.470004 - 1 = 0.095004
    # token 1: delta = ln(0.5/0.2) = 0.916291, k3 = 2.5 - 0.916291 - 1 = 0.583709
    # mean = (4 * 0.095004 + 0.583709) / 5 = 0.192745 = KL(p||q) = 0.8 ln 1.6 + 0.2 ln 0.4 (KL(q||p) = 0.223144)
    pol = torch.log(torch.tensor([[0.8, 0.8, 0.8, 0.8, 0.2]]))
    ref = torch.full((1, 5), math.log(0.5))
    est = k3_kl(pol, ref, torch.ones(1, 5))
    assert est == pytest.approx(0.192745, abs=1e-6)
    assert est == pytest.approx(position_kl(torch.log(torch.tensor([0.8, 0.2])), torch.zeros(2)).item(), abs=1e-6)


# ------------------------------------------------------------------------------------- sparsity

Q, UP, NORM = "model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.norm.weight"


def _state_dicts():
    start = {
        Q: torch.tensor([[1.0, 2.0], [3.0, 4.0]]),
        UP: torch.tensor([1.0, 1.0, 1.0, 1.0]),
        NORM: torch.tensor([1.0, 1.0]),
    }
    now = {
        # 2 + 1e-6: a different float32 (spacing at 2 is 2.4e-7) but within tol 1e-5, and 2.0 in bf16
        # (spacing 2^-6); 3 -> 3.5: changed by any measure
        Q: torch.tensor([[1.0, 2.0 + 1e-6], [3.5, 4.0]]),
        # 1 + 2^-10 = 1.000977: beyond tol in fp32, rounds back to 1.0 in bf16 (spacing 2^-7 in [1, 2));
        # 1 + 2^-7 is a bf16 number: changed in both
        UP: torch.tensor([1.0 + 2**-10, 1.0, 1.0 + 2**-7, 1.0]),
        NORM: torch.tensor([1.0, 1.0]),
    }
    return start, now


def test_update_sparsity_fp32_hand_counts():
    start, now = _state_dicts()
    r = update_sparsity(start, now, tol=1e-5)
    # 10 parameters; changed exactly: 2 (q) + 2 (up) = 4 -> 0.4; beyond 1e-5: 1 (q: 3.5) + 2 (up) = 3 -> 0.3
    assert (r.dtype, r.total, r.changed, r.beyond_tol) == ("float32", 10, 0.4, 0.3)
    q = r.per_module["model.layers.0.self_attn.q_proj"]
    assert (q.total, q.changed, q.beyond_tol) == (4, 0.5, 0.25)
    assert set(r.per_module) == {"model.layers.0.self_attn.q_proj", "model.layers.0.mlp.up_proj", "model.norm"}
    # block model.layers.0: 8 parameters, 4 changed (0.5), 3 beyond tol (0.375); model.norm untouched
    block = r.per_block["model.layers.0"]
    assert (block.total, block.changed, block.beyond_tol) == (8, 0.5, 0.375)
    assert (r.per_block["model.norm"].total, r.per_block["model.norm"].changed) == (2, 0.0)


def test_update_sparsity_bf16_rounding_hides_small_updates():
    start, now = _state_dicts()
    r = update_sparsity(start, now, tol=1e-5, dtype=torch.bfloat16)
    # after rounding: q keeps only 3 -> 3.5, up keeps only 1 -> 1 + 2^-7: 2 of 10 changed, both by > tol
    assert (r.dtype, r.total, r.changed, r.beyond_tol) == ("bfloat16", 10, 0.2, 0.2)
    assert r.per_module["model.layers.0.mlp.up_proj"].changed == 0.25


def test_changed_mask_order_and_tolerance_against_a_loop():
    start, now = _state_dicts()
    # sorted names: up_proj, q_proj, norm
    expected = [
        abs(float(a) - float(b)) > 1e-5 for n in sorted(start) for a, b in zip(start[n].flatten(), now[n].flatten())
    ]
    assert (
        changed_mask(start, now, 1e-5).tolist()
        == expected
        == [True, False, True, False] + [False] * 2 + [True, False] + [False] * 2
    )
    assert changed_mask(start, now).tolist() == [True, False, True, False, False, True, True, False, False, False]
    assert changed_mask(start, now, 0.0, torch.bfloat16).tolist() == [
        False,
        False,
        True,
        False,
        False,
        False,
        True,
        False,
        False,
        False,
    ]


def test_sparsity_counts_tied_weights_once_and_names_mismatches():
    w = torch.tensor([1.0, 2.0])
    start = {"lm_head.weight": torch.tensor([1.0, 0.0]), "model.embed_tokens.weight": torch.tensor([1.0, 0.0])}
    now = {"lm_head.weight": w, "model.embed_tokens.weight": w}  # one storage, as in a live tied state_dict
    r = update_sparsity(start, now)
    assert (r.total, r.changed) == (2, 0.5)
    with pytest.raises(ValueError, match="lm_head.weight"):
        update_sparsity(start, {"model.embed_tokens.weight": w})


def test_adam_moves_every_parameter_in_fp32_but_few_survive_bf16_rounding(tiny):
    model = copy.deepcopy(tiny[0])
    start = snapshot(model)
    assert len(start) == len(list(model.parameters()))  # tied embedding once
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=0.0)
    model(input_ids=torch.tensor([[1, 40, 41, 42, 43]])).logits.logsumexp(-1).sum().backward()
    opt.step()
    fp32 = update_sparsity(start, snapshot(model), tol=1e-5)
    bf16 = update_sparsity(start, snapshot(model), tol=1e-5, dtype=torch.bfloat16)
    # Adam's first step is ~lr * sign(g): every parameter with a gradient moves by ~1e-6 (not beyond 1e-5)
    assert fp32.changed > 0.95 and fp32.beyond_tol == 0.0
    # weights ~0.02 have bf16 spacing ~1.2e-4: a 1e-6 step rarely crosses a rounding boundary
    assert bf16.changed < 0.1
    assert "model.layers.0.self_attn.q_proj" in fp32.per_module and "model.layers.3" in fp32.per_block


def test_changed_overlap_hand_counts():
    def mask(idx, n=10):
        m = torch.zeros(n, dtype=torch.bool)
        m[list(idx)] = True
        return m

    # A = {0..3}, B = {2..6}, n = 10: overlap 2, expected 4 * 5 / 10 = 2.0 -> ratio 1.0, jaccard 2 / 7
    o = changed_overlap(mask(range(4)), mask(range(2, 7)))
    assert (o["n"], o["a"], o["b"], o["overlap"], o["expected"], o["ratio"]) == (10, 4, 5, 2, 2.0, 1.0)
    assert o["jaccard"] == pytest.approx(2 / 7)
    # A = {0..3}, B = {0..2}: overlap 3, expected 4 * 3 / 10 = 1.2 -> ratio 2.5, jaccard 3 / 4
    o = changed_overlap(mask(range(4)), mask(range(3)))
    assert (o["overlap"], o["expected"], o["ratio"], o["jaccard"]) == (3, pytest.approx(1.2), pytest.approx(2.5), 0.75)
    # an empty set: no expected overlap, ratio and jaccard undefined
    o = changed_overlap(mask([]), mask([]))
    assert (o["overlap"], o["expected"], o["ratio"], o["jaccard"]) == (0, 0.0, None, None)
    with pytest.raises(ValueError, match="shape"):
        changed_overlap(mask([1]), mask([1], n=9))


# ------------------------------------------------------------------------------- planning tokens


def test_planning_mask_char_level_tokenizer_through_the_formatter():
    tok = tiny_tokenizer()
    fmt = Formatter(tok, None, [tok.eos_token_id])
    text = "work: a<b => ab"
    ids = tok(text, add_special_tokens=False).input_ids + [tok.eos_token_id, tok.pad_token_id]
    # chars 0-4 "work:" and 10-11 "=>" are planning; the stop token and the padding after it cover nothing
    expected = [True] * 5 + [False] * 5 + [True, True] + [False] * 3 + [False, False]
    assert planning_mask(fmt, ids, ["work:", "=>"]) == expected
    # a batch of rows: (N, R) bool
    batch = torch.tensor([ids, tok("=> x", add_special_tokens=False).input_ids + [0] * 13])
    rows = planning_tensor(fmt, batch, ["work:", "=>"])
    assert rows.dtype == torch.bool and rows.shape == (2, 17)
    assert rows[0].tolist() == expected and rows[1].tolist() == [True, True] + [False] * 15


VOCAB = ["Let", " me", " chec", "k:", " 2+2", "=4", " but", " wait"]


def _join(ids):
    return "".join(VOCAB[i] for i in ids)


def test_planning_mask_multi_character_tokens():
    # text "Let me check: 2+2=4 but wait"; token spans: Let [0,3) | " me" [3,6) | " chec" [6,11) | "k:" [11,13)
    # | " 2+2" [13,17) | "=4" [17,19) | " but" [19,23) | " wait" [23,28)
    ids = list(range(8))
    text, spans = token_spans(_join, ids)
    assert text == "Let me check: 2+2=4 but wait"
    assert spans == [(0, 3), (3, 6), (6, 11), (11, 13), (13, 17), (17, 19), (19, 23), (23, 28)]
    # "me check" = [4, 12): overlaps " me" (by its "me"), " chec", and "k:" (by its "k"); "wait" = [24, 28)
    assert planning_mask(_join, ids, ["me check", "wait"]) == [False, True, True, True, False, False, False, True]
    # phrases are escaped: "2+2" is the literal text; as a user regex, 2+2 means "2" repeated then "2" (no match)
    assert planning_mask(_join, ids, ["2+2"]) == [False] * 4 + [True] + [False] * 3
    assert planning_mask(_join, ids, "2+2") == [False] * 8
    # a user regex is used as is, flags included
    assert planning_mask(_join, ids, r"(?i)^let") == [True] + [False] * 7


def test_marker_regex_prefers_the_longest_phrase_and_rejects_empty_ones():
    assert marker_regex(["me", "me check"]).search("Let me check").group() == "me check"
    assert marker_regex(re.compile("x")).pattern == "x"
    with pytest.raises(ValueError, match="non-empty"):
        marker_regex([])
    with pytest.raises(ValueError, match="non-empty"):
        marker_regex(["wait", ""])


def test_token_spans_cover_rewritten_characters():
    # byte-level BPE: the first byte of "é" decodes to U+FFFD alone, the second rewrites it to "é"
    pieces = {(7,): "\ufffd", (7, 8): "é", (7, 8, 9): "é!"}
    text, spans = token_spans(lambda ids: pieces[tuple(ids)], [7, 8, 9])
    assert text == "é!" and spans == [(0, 1), (0, 1), (1, 2)]
    assert planning_mask(lambda ids: pieces[tuple(ids)], [7, 8, 9], ["é"]) == [True, True, False]


def test_split_entropy_means_over_each_side_of_the_response():
    entropy = torch.tensor([[1.0, 2.0, 3.0, 9.0], [4.0, 6.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    planning = torch.tensor([[True, False, False, True], [False, True, False, False]])
    # planning tokens in the response: 1.0 and 6.0 -> 3.5 (the 9.0 is past the response: not counted)
    # execution tokens: 2.0, 3.0, 4.0 -> 3.0
    assert split_entropy(entropy, mask, planning) == (3.5, 3.0)
    assert split_entropy(entropy, mask, torch.zeros_like(planning)) == (None, pytest.approx(16 / 5))
