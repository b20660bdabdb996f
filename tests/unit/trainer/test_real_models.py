"""Real architectures built from config (no download). Dropout and the training step, on a tiny GPT-2 with
dropout 0.1: the RL forward sees the model the sampler saw (approx_kl 0 at the first step), and SFT dropout,
when asked for, draws its masks from the run's seed, so two runs are equal and torch's global generator is
left as it was. The decoding check: KV-cache models pass, a state-space model (Mamba) is refused."""

import copy
import functools

import pytest
import torch
from helpers import tiny_base
from transformers import GPT2Config, GPT2LMHeadModel

from curriculum.records import Decision
from trainer.batch import Batch, RLPrompt, SFTRow
from trainer.config import TrainingSpec
from trainer.rollout import completion_logprobs, generate
from trainer.runtime import make_runtime
from trainer.step import make_optimizer, train_step

CPU = make_runtime("cpu")


@pytest.fixture(scope="module")
def gpt2():
    _, fmt = tiny_base()  # its tokenizer; the model is a GPT-2 with dropout, random weights
    config = GPT2Config(
        vocab_size=len(fmt.tokenizer), n_positions=128, n_embd=32, n_layer=2, n_head=2,
        resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1,
    )  # fmt: skip
    torch.manual_seed(0)
    return GPT2LMHeadModel._from_config(config), fmt


def _training(**fields) -> TrainingSpec:
    return TrainingSpec(steps=4, lr=1e-3, rollout={"group_size": 4, "max_new_tokens": 6}, **fields)


def _rl_batch(fmt) -> Batch:
    prompts = [RLPrompt("t", fmt.prompt_ids(p), lambda cs: [float(len(c) % 2) for c in cs]) for p in ("ab", "cd")]
    return Batch(Decision(0, "s", 0.0, {}, {}), [], prompts)


def test_the_model_really_drops_out_in_train_mode(gpt2):
    model, fmt = gpt2
    out = generate(model, [fmt.prompt_ids("ab")] * 2, max_new_tokens=6, temperature=1.0,
                   generator=torch.Generator().manual_seed(0), stop_ids=fmt.stop_ids, pad_id=fmt.pad_id)  # fmt: skip
    args = (out.prompt_ids, out.prompt_mask, out.response_ids, out.response_mask, 1.0)
    model.train()
    noisy = completion_logprobs(model, *args)
    model.eval()
    clean = completion_logprobs(model, *args)
    mask = out.response_mask.bool()
    assert (noisy - clean)[mask].abs().max() > 1e-3  # dropout on: the log-probs the ratio would use differ
    assert (clean - out.logprobs)[mask].abs().max() < 1e-5  # dropout off: they are the sampler's


def test_rl_at_the_first_step_has_ratio_one(gpt2):
    model, fmt = gpt2
    model = copy.deepcopy(model)
    model.train()  # as a freshly loaded model may be: the step must not sample or score with dropout
    state = {"model": model, "optimizer": make_optimizer(model, _training()), "step": 0}
    record = train_step(state, _rl_batch(fmt), fmt, _training(), CPU, seed=0)
    assert record.rl is not None and record.rl.approx_kl < 1e-9 and record.rl.clip_frac == 0.0


def _sft_run(gpt2, seed: int, dropout: bool) -> dict:
    model, fmt = gpt2
    model = copy.deepcopy(model)
    rows = [SFTRow("t", fmt.prompt_ids(p), fmt.completion_ids(c)) for p, c in (("ab", "ba"), ("xyz", "zyx"))]
    training = _training(dropout=dropout)
    state = {"model": model, "optimizer": make_optimizer(model, training), "step": 0}
    for _ in range(2):
        train_step(state, Batch(Decision(state["step"], "s", 1.0, {}, {}), rows, []), fmt, training, CPU, seed)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_sft_dropout_is_seeded_by_the_run_and_leaves_the_global_generator_alone(gpt2):
    torch.manual_seed(1234)
    before = torch.random.get_rng_state()
    a = _sft_run(gpt2, seed=5, dropout=True)
    assert torch.equal(torch.random.get_rng_state(), before)  # the step put the global generator back
    torch.manual_seed(999)  # whatever the global state, the same run seed gives the same masks
    b = _sft_run(gpt2, seed=5, dropout=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = _sft_run(gpt2, seed=6, dropout=True)  # another run seed: other masks, other weights
    assert any(not torch.equal(a[k], other[k]) for k in a)
    off = _sft_run(gpt2, seed=5, dropout=False)  # no dropout: the run seed does not matter to SFT
    assert all(torch.equal(off[k], v) for k, v in _sft_run(gpt2, seed=6, dropout=False).items())
    assert any(not torch.equal(a[k], off[k]) for k in a)


def test_the_decoding_check_passes_kv_cache_models_and_refuses_mamba(gpt2):
    from transformers import MambaConfig, MambaForCausalLM

    from curriculum.run.setup import RunError, check_decoding

    model, fmt = gpt2
    check_decoding(model, fmt)  # GPT-2 (with dropout: the check runs in eval mode)
    check_decoding(tiny_base()[0], fmt)  # Llama
    torch.manual_seed(0)
    config = MambaConfig(vocab_size=len(fmt.tokenizer), hidden_size=32, num_hidden_layers=2, state_size=4)
    mamba = MambaForCausalLM._from_config(config)
    with pytest.raises(RunError, match=r"\(mamba\) cannot be served exactly by the decoding loop"):
        check_decoding(mamba, fmt)


def test_the_prefill_computes_scores_for_the_last_position_only():
    """At a 150k vocabulary the prefill's logits would be prompt length x vocabulary per row; decoding reads the
    last position only, and asks the model for no more (`logits_to_keep=1`), with the same samples."""
    model, fmt = tiny_base()
    seen = []
    forward = model.forward

    @functools.wraps(forward)  # the same signature: decoding reads it
    def spy(*args, **kwargs):
        out = forward(*args, **kwargs)
        seen.append(out.logits.shape[1])
        return out

    prompts = [fmt.prompt_ids("sort(cab)="), fmt.prompt_ids("count(aab,a)=")]
    args = dict(max_new_tokens=8, temperature=1.0, stop_ids=fmt.stop_ids, pad_id=fmt.pad_id)
    plain = generate(model, prompts, generator=torch.Generator().manual_seed(3), **args)
    model.forward = spy
    try:
        spied = generate(model, prompts, generator=torch.Generator().manual_seed(3), **args)
    finally:
        model.forward = forward
    assert seen and set(seen) == {1}  # the prefill too: one position per row, not the prompt's length
    assert torch.equal(plain.response_ids, spied.response_ids) and torch.equal(plain.logprobs, spied.logprobs)
