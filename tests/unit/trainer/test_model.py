"""The model side: tiny model and tokenizer, loading any causal LM from a folder (with a chat
template), KV-cache sampling against full forward passes, checkpoints."""

import pytest
import torch
from helpers import greedy_texts, tiny_base

from trainer.checkpoint import checkpoint_dirs, load_checkpoint, save_checkpoint
from trainer.config import HFModel
from trainer.model import ModelLoadError, load_model
from trainer.rollout import completion_logprobs, generate
from trainer.runtime import make_runtime
from trainer.tiny import TINY_BASE_DIR, tiny_random, tiny_tokenizer

CHAT_TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)


def test_tiny_tokenizer_is_one_token_per_character_and_round_trips(tmp_path):
    tok = tiny_tokenizer()
    text = "sort(dbca)= a<b => 12+3\n"
    ids = tok(text, add_special_tokens=False).input_ids
    assert len(ids) == len(text)
    assert tok.decode(ids) == text
    tok.save_pretrained(tmp_path)
    from transformers import AutoTokenizer

    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(text, add_special_tokens=False).input_ids == ids
    assert (again.pad_token_id, again.bos_token_id, again.eos_token_id) == (0, 1, 2)


def test_shipped_tiny_base_loads_and_answers_in_base_style():
    model, fmt = tiny_base()
    assert (TINY_BASE_DIR / "model.safetensors").stat().st_size < 8 * 2**20
    texts = greedy_texts(model, fmt, ["rev(hello)=", "rev(abc)=", "sort(dcba)="], max_new_tokens=12)
    assert texts[:2] == ["olleh", "cba"]  # terse base style, right answers on easy prompts
    assert len(texts[2]) == 4 and not texts[2].startswith("work:")  # terse; the shipped base sorts partially


def test_hf_model_from_a_local_folder_uses_its_chat_template(tmp_path):
    model, tok = tiny_random(seed=1)
    tok.chat_template = CHAT_TEMPLATE
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    loaded, fmt = load_model(HFModel(kind="hf", name=str(tmp_path), system_prompt="be brief"))
    assert fmt.uses_chat_template
    prompt = fmt.tokenizer.decode(fmt.prompt_ids("2+2="))
    assert prompt == "<system>be brief\n<user>2+2=\n<assistant>"
    assert fmt.completion_ids("4")[-1] == fmt.eos_id
    assert torch.equal(loaded.model.embed_tokens.weight, model.model.embed_tokens.weight)


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="cannot load model"):
        load_model(HFModel(kind="hf", name=str(tmp_path / "nope")))


def test_sampled_logprobs_equal_teacher_forced_logprobs(tiny):
    model, fmt = tiny
    prompts = [fmt.prompt_ids(p) for p in ["1+2=", "sort(zyxw)=", "rev(hello)="]]  # different lengths: padding
    out = generate(
        model,
        prompts,
        max_new_tokens=10,
        temperature=0.7,
        generator=torch.Generator().manual_seed(0),
        stop_ids=fmt.stop_ids,
        pad_id=fmt.pad_id,
    )
    forced = completion_logprobs(model, out.prompt_ids, out.prompt_mask, out.response_ids, out.response_mask, 0.7)
    assert (forced * out.response_mask - out.logprobs).abs().max().item() < 1e-4


def test_kv_cache_greedy_equals_full_forward_greedy(tiny):
    model, fmt = tiny
    prompts = [fmt.prompt_ids("12+3="), fmt.prompt_ids("sort(abcdefg)=")]
    out = generate(
        model, prompts, max_new_tokens=8, temperature=1.0, generator=None, greedy=True, stop_ids=[], pad_id=fmt.pad_id
    )
    for i, prompt in enumerate(prompts):
        ids = torch.tensor([prompt])
        with torch.no_grad():
            for _ in range(8):
                ids = torch.cat([ids, model(input_ids=ids).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
        assert out.response_ids[i].tolist() == ids[0, len(prompt) :].tolist()


def test_same_generator_seed_same_samples_and_stop_tokens_end_rows(tiny):
    model, fmt = tiny
    kwargs = dict(max_new_tokens=12, temperature=1.0, stop_ids=fmt.stop_ids, pad_id=fmt.pad_id)
    prompts = [fmt.prompt_ids("rev(abc)=")] * 4
    a = generate(model, prompts, generator=torch.Generator().manual_seed(7), **kwargs)
    b = generate(model, prompts, generator=torch.Generator().manual_seed(7), **kwargs)
    c = generate(model, prompts, generator=torch.Generator().manual_seed(8), **kwargs)
    assert torch.equal(a.response_ids, b.response_ids)
    assert not torch.equal(a.response_ids, c.response_ids)
    # forced stop: with every token a stop token, each row is exactly one token long
    every_token_stops = {**kwargs, "stop_ids": list(range(100))}
    stop_all = generate(model, prompts, generator=torch.Generator().manual_seed(7), **every_token_stops)
    assert stop_all.lengths.tolist() == [1, 1, 1, 1]


def test_entropy_is_reported_per_sampled_token(tiny):
    model, fmt = tiny
    out = generate(
        model,
        [fmt.prompt_ids("x=")],
        max_new_tokens=5,
        temperature=1.0,
        generator=torch.Generator().manual_seed(0),
        stop_ids=[],
        pad_id=fmt.pad_id,
        with_entropy=True,
    )
    # a random 100-way model: entropy close to ln(100) = 4.605 and never above it
    assert out.entropy.shape == (1, 5)
    assert ((out.entropy > 3.5) & (out.entropy <= 4.6052)).all()


def test_checkpoint_round_trip_is_exact_and_atomic(tmp_path, tiny):
    model, fmt = tiny
    model = tiny_random(seed=2)[0]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(input_ids=torch.tensor([[1, 5, 6]])).logits.sum().backward()
    opt.step()
    state = {"model": model, "optimizer": opt, "step": 5}
    for step in (5, 10, 15):
        state["step"] = step
        save_checkpoint(tmp_path, state, fmt.tokenizer, {"scheduler": {"k": step}}, keep=2)
    assert [p.name for p in checkpoint_dirs(tmp_path)] == ["step-000010", "step-000015"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    fresh = tiny_random(seed=3)[0]
    fresh_opt = torch.optim.AdamW(fresh.parameters(), lr=1e-3)
    restored = {"model": fresh, "optimizer": fresh_opt, "step": 0}
    extra = load_checkpoint(tmp_path / "step-000015", restored)
    assert restored["step"] == 15 and extra == {"scheduler": {"k": 15}}
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(opt.state_dict()["state"][0]["exp_avg"], fresh_opt.state_dict()["state"][0]["exp_avg"])


def test_runtime_is_cpu_fp32_here():
    rt = make_runtime("auto")
    assert rt.device.type == "cpu" and rt.autocast_dtype is None and rt.dtype_name == "fp32"


def test_a_save_removes_temporary_folders_left_by_a_kill(tmp_path):
    model, fmt = tiny_base()
    opt = torch.optim.AdamW(model.parameters())
    stale = tmp_path / ".tmp-step-000002-4242"
    (stale / "model").mkdir(parents=True)
    save_checkpoint(tmp_path, {"model": model, "optimizer": opt, "step": 3}, fmt.tokenizer, {}, keep=2)
    assert not stale.exists() and [p.name for p in checkpoint_dirs(tmp_path)] == ["step-000003"]


@pytest.mark.parametrize(
    "saved, asked, weights_compute",
    [
        (torch.bfloat16, "auto", torch.bfloat16),  # auto: the checkpoint's dtype, bf16 autocast
        (torch.float16, "auto", torch.bfloat16),  # an fp16 checkpoint computes in bf16 (fp16 needs loss scaling)
        (torch.float32, "auto", None),  # float32 checkpoint: the runtime's default
        (torch.bfloat16, "float32", torch.float32),  # asked: full float32
        (torch.float32, "bfloat16", torch.bfloat16),  # asked: bf16 mixed precision
    ],
)
def test_weights_are_float32_masters_and_the_compute_dtype_follows_the_spec(tmp_path, saved, asked, weights_compute):
    from trainer.model import compute_dtype

    model, tok = tiny_random(seed=1)
    model.to(saved).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    spec = HFModel(kind="hf", name=str(tmp_path), dtype=asked)
    loaded, _ = load_model(spec)
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}  # master weights, whatever was saved
    assert torch.equal(loaded.model.embed_tokens.weight, model.model.embed_tokens.weight.float())
    assert compute_dtype(spec) == weights_compute
    runtime = make_runtime("cpu").with_compute(compute_dtype(spec))
    expected = None if weights_compute in (None, torch.float32) else torch.bfloat16
    assert runtime.autocast_dtype == expected


def test_float16_is_refused_with_the_reason():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="float16 training needs loss scaling"):
        HFModel(kind="hf", name="x", dtype="float16")


def test_decoding_only_the_live_rows_keeps_every_rows_samples(monkeypatch):
    """Rows that stop leave the forward (their cache rows dropped), yet each row draws what it drew when every
    row was decoded to the end: the same tokens, log-probs to float rounding; the forwards shrink."""
    from transformers import cache_utils

    model, fmt = tiny_base()
    prompts = [fmt.prompt_ids(p) for p in ["47+85=", "sort(dbca)=", "rev(hello)=", "count(a,banana)="] * 8]
    sizes = []
    hook = model.register_forward_pre_hook(lambda m, a, kw: sizes.append(kw["input_ids"].shape[0]), with_kwargs=True)

    def sample():
        sizes.clear()
        out = generate(
            model, prompts, max_new_tokens=24, temperature=1.0, generator=torch.Generator().manual_seed(5),
            stop_ids=fmt.stop_ids, pad_id=fmt.pad_id,
        )  # fmt: skip
        return out, list(sizes)

    live, live_sizes = sample()
    monkeypatch.setattr(cache_utils, "DynamicLayer", type("Other", (), {}))  # a layer kind that keeps rows
    every, every_sizes = sample()
    hook.remove()
    assert torch.equal(live.response_ids, every.response_ids)
    assert torch.equal(live.response_mask, every.response_mask)
    assert torch.allclose(live.logprobs, every.logprobs, atol=1e-5)
    lengths = live.response_mask.sum(1)
    assert int(lengths.min()) < int(lengths.max())  # rows stop at different steps
    assert every_sizes == [32] * len(every_sizes)
    # after each forward, the next takes the rows that have not stopped yet
    still = [int((lengths > t).sum()) for t in range(len(live_sizes))]
    assert live_sizes == [32] + still[1:]
    assert sum(live_sizes) < sum(every_sizes)


def test_a_part_of_a_batch_draws_what_the_whole_batch_draws():
    """Two halves of a 32-row batch (even rows, odd rows), each decoded alone with part=(rows, 32) and the same
    seeded generator, sample the tokens the whole batch samples at those rows (what lets ranks split a step's
    rollouts and still sample as one process would); without `part`, a half draws other tokens."""
    model, fmt = tiny_base()
    prompts = [fmt.prompt_ids(p) for p in ["47+85=", "sort(dbca)=", "rev(hello)=", "count(a,banana)="] * 8]

    def sample(rows, part):
        return generate(
            model, [prompts[i] for i in rows], max_new_tokens=16, temperature=1.0,
            generator=torch.Generator().manual_seed(11), stop_ids=fmt.stop_ids, pad_id=fmt.pad_id, part=part,
        )  # fmt: skip

    whole = sample(range(32), None)
    for rows in (list(range(0, 32, 2)), list(range(1, 32, 2))):
        half = sample(rows, (rows, 32))
        width = half.response_ids.shape[1]
        assert torch.equal(half.response_ids, whole.response_ids[rows, :width])
        assert torch.equal(half.response_mask, whole.response_mask[rows, :width])
        assert int(whole.response_mask[rows, width:].sum()) == 0  # nothing of these rows beyond
        assert torch.allclose(half.logprobs, whole.logprobs[rows, :width], atol=1e-5)
    alone = sample(list(range(0, 32, 2)), None)
    width = min(alone.response_ids.shape[1], whole.response_ids.shape[1])
    assert bool((alone.response_ids[:, :width] != whole.response_ids[0::2, :width]).any())
