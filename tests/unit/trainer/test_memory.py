"""Memory that scales with the vocabulary: chunked log-probs with a hand-written backward, chunked KL,
bounded teacher-forced passes, SFT scored at completion positions only, gradient checkpointing and the
SFT length limit. Each is checked against the plain computation it replaces."""

import copy

import pytest
import torch
from helpers import tiny_base, tiny_random
from transformers import GPT2Config, GPT2LMHeadModel

from curriculum.records import Decision
from trainer.batch import Batch, EvalSet, RLPrompt, SFTRow
from trainer.config import TrainingSpec
from trainer.drift import kl_to_base, position_kl, scores_kl
from trainer.evaluate import evaluate
from trainer.logits import Scores, fused_head, head_logprobs, logprobs, row_slices, spans
from trainer.losses import token_logprobs
from trainer.model import ModelLoadError, enable_checkpointing
from trainer.rollout import generate, positions
from trainer.runtime import make_runtime
from trainer.sft import sft_logprobs
from trainer.step import fit, make_optimizer, train_step

CPU = make_runtime("cpu")


def test_spans_cover_every_position_once_within_the_budget():
    # 3 rows, 10 positions, budget 7 positions -> 2 positions per span (2 x 3 = 6 <= 7): 5 spans
    parts = spans(3, 10, 7)
    assert [(s.start, s.stop) for s in parts] == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    assert [(s.start, s.stop) for s in spans(4, 3, 2)] == [(0, 1), (1, 2), (2, 3)]  # at least one position
    # rows per pass: 100 positions each within 250 -> 2 rows per pass; no budget -> all at once
    assert [(s.start, s.stop) for s in row_slices(5, 100, 250)] == [(0, 2), (2, 4), (4, 5)]
    assert [(s.start, s.stop) for s in row_slices(5, 100, None)] == [(0, 5)]
    assert [(s.start, s.stop) for s in row_slices(2, 100, 10)] == [(0, 1), (1, 2)]


def test_chunked_logprobs_hand_worked():
    # scores (0, ln 3) -> p = (1/4, 3/4): log p(1) = ln 0.75 = -0.287682; at T = 2 scores (0, ln 3 / 2):
    # p = (1, sqrt 3) / (1 + sqrt 3) -> log p(0) = -ln(2.732051) = -1.005053
    logits = torch.tensor([[[0.0, 1.0986123], [0.0, 1.0986123]]], requires_grad=True)
    out = logprobs(logits, torch.tensor([[1, 0]]), chunk=1)
    assert out.tolist()[0] == pytest.approx([-0.287682, -1.386294], abs=1e-6)
    assert logprobs(logits, torch.tensor([[0, 0]]), 2.0, chunk=1)[0, 0].item() == pytest.approx(-1.005053, abs=1e-6)
    # d log p(1) / d x = 1[v = 1] - p = (-1/4, 1/4) for the first position; the second's target is 0: (3/4, -3/4)
    out.sum().backward()
    assert logits.grad.tolist()[0] == [pytest.approx([-0.25, 0.25], abs=1e-6), pytest.approx([0.75, -0.75], abs=1e-6)]


@pytest.mark.parametrize("chunk", [1, 5, None])
def test_chunked_logprobs_match_autograd_of_the_plain_expression(chunk):
    torch.manual_seed(0)
    base = torch.randn(3, 7, 50, dtype=torch.float64)
    targets = torch.randint(0, 50, (3, 7))
    weights = torch.randn(3, 7, dtype=torch.float64)
    a, b = base.clone().requires_grad_(), base.clone().requires_grad_()
    ours = logprobs(a, targets, 0.7, chunk)
    plain = (b / 0.7).log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(ours.double(), plain, atol=1e-5)  # float32 inside
    (ours.double() * weights).sum().backward()
    (plain * weights).sum().backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-5)


def test_chunked_logprobs_keep_the_logits_dtype_in_the_gradient():
    logits = torch.randn(2, 4, 11).bfloat16().requires_grad_()
    targets = torch.randint(0, 11, (2, 4))
    logprobs(logits, targets, 1.0, 3).sum().backward()
    assert logits.grad.dtype == torch.bfloat16
    reference = token_logprobs(logits.detach().float(), targets)
    assert torch.allclose(logprobs(logits.detach(), targets, 1.0, 3), reference, atol=1e-6)


def test_chunked_kl_is_the_kl():
    torch.manual_seed(1)
    p, q = torch.randn(2, 9, 13), torch.randn(2, 9, 13)
    assert torch.allclose(scores_kl(Scores(p), Scores(q), 1.3, 4), position_kl(p, q, 1.3), atol=1e-7)
    assert torch.allclose(scores_kl(Scores(p), Scores(q), 1.0, None), position_kl(p, q), atol=1e-7)
    # from hidden states and a projection, a span at a time: the KL of the projected scores
    h, w = torch.randn(2, 9, 5), torch.randn(13, 5)
    projected = Scores(hidden=h, weight=w)
    assert torch.allclose(scores_kl(projected, Scores(q), 1.0, 4), position_kl(h @ w.T, q), atol=1e-6)


def _perturbed(model, scale=0.02, seed=3):
    other = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return other


def test_kl_to_base_is_the_same_with_bounded_passes():
    base, fmt = tiny_random(0)
    policy = _perturbed(base)
    prompts = [fmt.prompt_ids(p) for p in ("abc=", "rev(xy)=", "7+5=")]

    def kl(chunk):
        return kl_to_base(policy, base, fmt, prompts, samples=2, max_new_tokens=8, temperature=1.0,
                          generator=torch.Generator().manual_seed(0), batch_size=6, chunk=chunk)  # fmt: skip

    whole = kl(None)
    assert whole > 1e-4
    assert kl(3) == pytest.approx(whole, rel=1e-5)  # one row per pass, 3 positions per span


def test_k3_in_evaluation_is_the_same_with_bounded_passes():
    base, fmt = tiny_random(0)
    policy = _perturbed(base)
    prompts = [RLPrompt("t", fmt.prompt_ids(p), lambda cs: [0.0] * len(cs)) for p in ("abc=", "rev(xy)=")]
    sets = [EvalSet("t", "structured", prompts, lambda c: c)]

    def k3(chunk):
        out = evaluate(policy, fmt, sets, max_new_tokens=8, temperature=1.0, batch_size=8,
                       generator=torch.Generator().manual_seed(0), samples=3, base=base, kl_samples=1,
                       kl_estimator="k3", logit_chunk=chunk)  # fmt: skip
        return out["t"].kl_k3

    assert k3(None) > 0
    assert k3(4) == pytest.approx(k3(None), rel=1e-5)


def test_sft_log_probs_equal_a_right_padded_full_forward():
    """The SFT rows are scored as prompt (left-padded) + completion; the reference runs each row alone,
    unpadded, through a full forward and reads log p of every completion token."""
    model, fmt = tiny_base()
    rows = [SFTRow("t", fmt.prompt_ids(p), fmt.completion_ids(c)) for p, c in [("sort(cba)=", "abc"), ("7+5=", "12")]]
    ours, mask = sft_logprobs(model, rows, fmt.pad_id, chunk=4)
    for b, row in enumerate(rows):
        seq = torch.tensor([row.prompt_ids + row.completion_ids])
        with torch.no_grad():
            logits = model(input_ids=seq).logits[0, :-1]
        ref = token_logprobs(logits.unsqueeze(0), seq[:, 1:])[0, len(row.prompt_ids) - 1 :]
        n = len(row.completion_ids)
        assert int(mask[b].sum()) == n
        assert torch.allclose(ours[b, :n].detach(), ref, atol=1e-5)


def test_fit_cuts_the_completion_end():
    row = SFTRow("t", [1, 2, 3], [4, 5, 6, 7])
    assert fit(row, None) is row and fit(row, 7) is row
    assert fit(row, 5).completion_ids == [4, 5] and fit(row, 5).prompt_ids == [1, 2, 3]
    assert fit(row, 2).completion_ids == [4]  # a prompt over the limit keeps one completion token


def _training(**fields) -> TrainingSpec:
    return TrainingSpec(steps=4, lr=1e-3, rollout={"group_size": 4, "max_new_tokens": 6}, **fields)


def _mixed_batch(fmt) -> Batch:
    sft = [SFTRow("t", fmt.prompt_ids(p), fmt.completion_ids(c)) for p, c in [("sort(cba)=", "abc"), ("7+5=", "12")]]
    rl = [RLPrompt("t", fmt.prompt_ids(p), lambda cs: [float(len(c) % 2) for c in cs]) for p in ("ab", "cd")]
    return Batch(Decision(0, "s", 0.5, {}, {}), sft, rl)


def _layer_calls(model) -> list[int]:
    """A count of the layers' runs (seen from their MLP: a checkpoint replays the layer's forward, not its hooks)."""
    calls = [0]
    for layer in model.model.layers:
        layer.mlp.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_gradient_checkpointing_recomputes_layers_and_changes_nothing_else():
    results = []
    for on in (False, True):
        model, fmt = tiny_random(0)
        if on:
            enable_checkpointing(model)
        calls = _layer_calls(model)
        state = {"model": model, "optimizer": make_optimizer(model, _training()), "step": 0}
        record = train_step(state, _mixed_batch(fmt), fmt, _training(), CPU, seed=0)
        results.append((record, [p.detach().clone() for p in model.parameters()], calls[0]))
        assert not any(m.training for m in model.modules() if not getattr(m, "gradient_checkpointing", False))
    (plain, w_plain, n_plain), (ckpt, w_ckpt, n_ckpt) = results
    layers = len(tiny_random(0)[0].model.layers)
    assert n_ckpt - n_plain == 2 * layers  # the SFT and the RL backward each run every layer again
    assert ckpt.rl.approx_kl < 1e-9 and ckpt.loss == pytest.approx(plain.loss, rel=1e-6)
    assert ckpt.grad_norm == pytest.approx(plain.grad_norm, rel=1e-5)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(w_plain, w_ckpt))


def test_gradient_checkpointing_refuses_a_model_with_dropout():
    _, fmt = tiny_base()
    config = GPT2Config(vocab_size=len(fmt.tokenizer), n_positions=64, n_embd=16, n_layer=1, n_head=2, resid_pdrop=0.1)
    with pytest.raises(ModelLoadError, match="resid_pdrop=0.1"):
        enable_checkpointing(GPT2LMHeadModel._from_config(config))


def test_positions_skip_left_padding():  # the layout SFT now shares with the rollouts
    mask = torch.tensor([[0, 0, 1, 1, 1]])
    assert positions(mask).tolist() == [[0, 0, 0, 1, 2]]


def test_generate_still_serves_the_sampler():  # chunked log-probs in the RL forward equal the sampler's
    model, fmt = tiny_random(0)
    out = generate(model, [fmt.prompt_ids("ab"), fmt.prompt_ids("xyz=")], max_new_tokens=6, temperature=0.8,
                   generator=torch.Generator().manual_seed(0), stop_ids=fmt.stop_ids, pad_id=fmt.pad_id)  # fmt: skip
    from trainer.rollout import completion_logprobs

    forced = completion_logprobs(model, out.prompt_ids, out.prompt_mask, out.response_ids, out.response_mask, 0.8, 2)
    mask = out.response_mask.bool()
    assert (forced - out.logprobs)[mask].abs().max() < 1e-5


@pytest.mark.parametrize("chunk", [1, 4, None])
def test_head_logprobs_match_the_plain_projection_and_its_gradient(chunk):
    torch.manual_seed(2)
    h0, w0 = torch.randn(2, 5, 6, dtype=torch.float64), torch.randn(17, 6, dtype=torch.float64)
    targets = torch.randint(0, 17, (2, 5))
    weights = torch.randn(2, 5, dtype=torch.float64)
    h1, w1, h2, w2 = (t.clone().requires_grad_() for t in (h0, w0, h0, w0))
    ours = head_logprobs(h1, w1, targets, 0.9, chunk)
    plain = ((h2 @ w2.T) / 0.9).log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(ours.double(), plain, atol=1e-5)
    (ours.double() * weights).sum().backward()
    (plain * weights).sum().backward()
    assert torch.allclose(h1.grad, h2.grad, atol=1e-5) and torch.allclose(w1.grad, w2.grad, atol=1e-5)


def _tiny(cls_name: str, **extra):
    import transformers

    _, fmt = tiny_base()
    config_cls = getattr(transformers, cls_name.replace("ForCausalLM", "Config"))
    config = config_cls(vocab_size=len(fmt.tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, head_dim=8, **extra)  # fmt: skip
    torch.manual_seed(0)
    return getattr(transformers, cls_name)._from_config(config), fmt


def test_fused_head_is_used_where_the_scores_are_the_projection_only():
    assert fused_head(tiny_random(0)[0]) is not None  # Llama, tied embeddings
    assert fused_head(_tiny("Qwen2ForCausalLM")[0]) is not None
    capped, _ = _tiny("Gemma2ForCausalLM", final_logit_softcapping=5.0)
    assert fused_head(capped) is None  # its scores are capped after the projection: the model's logits it is


@pytest.mark.parametrize("cls_name", ["Qwen2ForCausalLM", "Gemma2ForCausalLM"])
def test_completion_logprobs_and_gradients_equal_the_models_own_logits(cls_name):
    """Fused (Qwen2) or not (Gemma-2's capped scores), the log-probs and the gradient of every weight equal
    the plain computation on the model's own logits."""
    from trainer.rollout import completion_logprobs, response_logits

    model, fmt = _tiny(cls_name)
    out = generate(model, [fmt.prompt_ids("ab"), fmt.prompt_ids("xyz=")], max_new_tokens=6, temperature=1.0,
                   generator=torch.Generator().manual_seed(0), stop_ids=fmt.stop_ids, pad_id=fmt.pad_id)  # fmt: skip
    args = (out.prompt_ids, out.prompt_mask, out.response_ids, out.response_mask)
    ours = completion_logprobs(model, *args, 0.8, 3)
    (ours * out.response_mask).sum().backward()
    g_ours = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    plain = token_logprobs(response_logits(model, *args), out.response_ids, 0.8)
    (plain * out.response_mask).sum().backward()
    assert torch.allclose(ours, plain, atol=1e-5)
    for a, p in zip(g_ours, model.parameters()):  # float32 sums in another order: relative to the gradient's size
        assert float((a - p.grad).norm() / p.grad.norm()) < 1e-4  # 2.7e-5 seen on Gemma-2
