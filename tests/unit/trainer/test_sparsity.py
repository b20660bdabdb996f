"""Update sparsity and changed-set overlap against hand counts and loops."""

import copy
import math

import pytest
import torch

from trainer.sparsity import changed_mask, changed_overlap, snapshot, update_sparsity

LN2 = math.log(2)
NEG_INF = float("-inf")


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
    norm = r.per_module["model.norm"]
    assert (norm.total, norm.changed) == (2, 0.0)  # untouched


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
    assert "model.layers.0.self_attn.q_proj" in fp32.per_module and "model.layers.3.mlp.up_proj" in fp32.per_module


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
