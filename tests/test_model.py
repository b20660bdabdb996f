"""The model side: tiny model and tokenizer, loading any causal LM from a folder (with a chat
template), KV-cache sampling against full forward passes, checkpoints."""

import pytest
import torch

from trainer.checkpoint import checkpoint_dirs, load_checkpoint, save_checkpoint
from trainer.model import Formatter, ModelLoadError, load_model
from trainer.rollout import completion_logprobs, generate
from trainer.runtime import make_runtime
from trainer.tiny import TINY_BASE_DIR, tiny_random, tiny_tokenizer

CHAT_TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}"
)


def _greedy_texts(model, fmt: Formatter, prompts: list[str], max_new_tokens: int) -> list[str]:
    """Greedy completions of `prompts`, decoded (stop token dropped)."""
    out = generate(
        model,
        [fmt.prompt_ids(p) for p in prompts],
        max_new_tokens=max_new_tokens,
        temperature=1.0,
        generator=None,
        greedy=True,
        stop_ids=fmt.stop_ids,
        pad_id=fmt.pad_id,
    )
    return [fmt.decode(ids.tolist()) for ids in out.response_ids]


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
    model, fmt = load_model("builtin", "tiny-base")
    assert (TINY_BASE_DIR / "model.safetensors").stat().st_size < 8 * 2**20
    texts = _greedy_texts(model, fmt, ["rev(hello)=", "rev(abc)=", "sort(dcba)="], max_new_tokens=12)
    assert texts[:2] == ["olleh", "cba"]  # terse base style, right answers on easy prompts
    assert len(texts[2]) == 4 and not texts[2].startswith("work:")  # terse; the shipped base sorts partially


def test_hf_model_from_a_local_folder_uses_its_chat_template(tmp_path):
    model, tok = tiny_random(seed=1)
    tok.chat_template = CHAT_TEMPLATE
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    loaded, fmt = load_model("hf", str(tmp_path), system_prompt="be brief")
    assert fmt.uses_chat_template
    prompt = fmt.tokenizer.decode(fmt.prompt_ids("2+2="))
    assert prompt == "<system>be brief\n<user>2+2=\n<assistant>"
    assert fmt.completion_ids("4")[-1] == fmt.eos_id
    assert torch.equal(loaded.model.embed_tokens.weight, model.model.embed_tokens.weight)


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="cannot load model"):
        load_model("hf", str(tmp_path / "nope"))


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


def test_build_base_writes_a_loadable_model(tmp_path):
    """The recipe behind the shipped tiny-base runs and saves a model that loads (a few steps here)."""
    from rich.console import Console

    from curriculum.base_model import build_base

    scores = build_base(tmp_path, steps=3, batch_size=8, rows_per_task=10, eval_size=4, console=Console(quiet=True))
    assert set(scores) == {"addition", "sort", "reverse", "count", "word", "digits"}
    assert all(set(s) == {"default", "worked"} for s in scores.values())
    assert all(0.0 <= v <= 1.0 for s in scores.values() for v in s.values())
    model, fmt = load_model("hf", str(tmp_path))
    assert fmt.tokenizer.decode(fmt.tokenizer("rev(ab)=").input_ids) == "rev(ab)="


def test_shipped_base_works_a_scratchpad_it_does_not_start():
    """The shipped tiny-base answers tersely by itself, and adds and counts far better once its answer is
    started with the expert mark: the habit SFT has to change. One exception by construction: where the
    terse answer itself begins with `w` (`word(w..o,5)=`), writing it is writing the cue, and the model
    may go on into `work: `."""
    from curriculum.base_model import base_scores
    from tasks.builtin import generate as task_rows
    from tasks.registry import BUILTIN_TASKS

    model, fmt = load_model("builtin", "tiny-base")
    scores = base_scores(model, fmt, seed=0, size=32)
    for task in ("addition", "count"):
        assert scores[task]["worked"] > scores[task]["default"] + 0.3, scores[task]
    records = [r for t in BUILTIN_TASKS.values() for r in task_rows(t, "test", 16, 0) if r.completion[0] != "w"]
    assert len(records) > 80
    texts = _greedy_texts(model, fmt, [r.prompt for r in records], max_new_tokens=8)
    started = [r.prompt for r, text in zip(records, texts) if text.startswith("w")]
    assert started == []


def test_pretraining_cues_expert_rows_and_leaves_terse_rows_alone():
    """An expert row's first character (`w` of `work: `) moves into the prompt, so the loss never trains
    starting a scratchpad; the token sequence is unchanged. A terse row is prompt + answer as is."""
    from curriculum.base_model import pretraining_row

    model, fmt = load_model("builtin", "tiny-base")
    expert = pretraining_row(fmt, "sort", "sort(cab)=", "work: a<b<c => abc")
    assert fmt.tokenizer.decode(expert.prompt_ids, skip_special_tokens=True) == "sort(cab)=w"
    assert fmt.tokenizer.decode(expert.completion_ids, skip_special_tokens=True) == "ork: a<b<c => abc"
    assert expert.prompt_ids + expert.completion_ids == fmt.prompt_ids("sort(cab)=") + fmt.completion_ids(
        "work: a<b<c => abc"
    )
    terse = pretraining_row(fmt, "sort", "sort(cab)=", "abc")
    assert (terse.prompt_ids, terse.completion_ids) == (fmt.prompt_ids("sort(cab)="), fmt.completion_ids("abc"))


def test_evaluate_metrics_on_a_near_greedy_temperature():
    """At temperature 0.01 the k samples are the greedy completion: sampled == score, unique == 1/k,
    entropy near 0; at temperature 3 the samples spread out."""
    from trainer.batch import EvalSet, RLPrompt
    from trainer.evaluate import evaluate

    model, fmt = load_model("builtin", "tiny-base")
    answers = {"sort(cab)=": "abc", "sort(zyx)=": "xyz", "rev(abc)=": "cba", "rev(hello)=": "wrong"}
    prompts = [
        RLPrompt("t", fmt.prompt_ids(p), lambda cs, a=a: [float(c == a) for c in cs]) for p, a in answers.items()
    ]
    sets = [EvalSet("t", "structured", prompts)]

    def run(temperature: float) -> dict:
        generator = torch.Generator().manual_seed(0)
        return evaluate(
            model, fmt, sets, max_new_tokens=12, temperature=temperature, batch_size=16, generator=generator, samples=4
        )["t"]

    cold = run(0.01)
    # independent reference for the greedy score: transformers' own greedy decoding
    right = 0
    for text, answer in answers.items():
        ids = torch.tensor([fmt.prompt_ids(text)])
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=12,
            do_sample=False,
            eos_token_id=fmt.stop_ids,
            pad_token_id=fmt.pad_id,
        )
        right += fmt.decode(out[0, ids.shape[1] :].tolist()) == answer
    assert cold["score"] == right / 4  # "rev(hello)=" -> "wrong" is never produced, so right <= 3
    assert right <= 3
    assert cold["sampled"] == cold["score"]
    assert cold["unique"] == 0.25 and cold["entropy"] < 0.05
    hot = run(3.0)
    assert hot["unique"] > 0.5 and hot["entropy"] > cold["entropy"] + 1.0


def _eval_samples(model, fmt, prompts, temperature: float):
    """The k = 4 samples per prompt that `evaluate` draws with generator seed 1 (prompts in one chunk)."""
    return generate(
        model,
        [p.prompt_ids for p in prompts for _ in range(4)],
        max_new_tokens=16,
        temperature=temperature,
        generator=torch.Generator().manual_seed(1),
        stop_ids=fmt.stop_ids,
        pad_id=fmt.pad_id,
    )


def test_evaluate_splits_entropy_into_planning_and_execution_tokens():
    """With planning markers, the planning and execution token entropies are a partition of the k
    samples' tokens: their token-weighted mean is the overall entropy; KL to an identical base is 0."""
    from trainer.batch import EvalSet, RLPrompt
    from trainer.evaluate import evaluate

    model, fmt = load_model("builtin", "tiny-base")
    # cued prompts: the base model works a scratchpad ("d-c-b-a => dcba") once its first letter is given
    prompts = [RLPrompt("t", fmt.prompt_ids(p), lambda cs: [0.0] * len(cs)) for p in ("rev(abcd)=w", "7+5=w")]
    args = dict(max_new_tokens=16, temperature=1.5, batch_size=16, samples=4)
    plain = evaluate(
        model, fmt, [EvalSet("t", "structured", prompts)], generator=torch.Generator().manual_seed(1), **args
    )["t"]
    split = evaluate(
        model,
        fmt,
        [EvalSet("t", "structured", prompts, planning=["-", "=>"])],
        generator=torch.Generator().manual_seed(1),
        base=model,
        kl_samples=2,
        kl_generator=torch.Generator().manual_seed(2),
        **args,
    )["t"]
    assert split["entropy"] == plain["entropy"] and "entropy_plan" not in plain
    assert split["kl_base"] == 0.0
    # recount the tokens by hand from the same samples to weight the two means
    from trainer.probes import planning_mask

    out = _eval_samples(model, fmt, prompts, temperature=1.5)
    n_plan = n_exec = 0
    for ids, n in zip(out.response_ids, out.lengths):
        marks = planning_mask(fmt, ids[: int(n)].tolist(), ["-", "=>"])
        n_plan, n_exec = n_plan + sum(marks), n_exec + len(marks) - sum(marks)
    assert n_plan > 0 and n_exec > 0
    mean = (split["entropy_plan"] * n_plan + split["entropy_exec"] * n_exec) / (n_plan + n_exec)
    assert mean == pytest.approx(split["entropy"], rel=1e-5)
    # distinct-2 by hand from the same samples: per prompt, distinct bigrams / bigrams over its 4 samples
    per_prompt = []
    for p in range(2):
        grams = []
        for r in range(p * 4, p * 4 + 4):
            ids = [t for t in out.response_ids[r, : int(out.lengths[r])].tolist() if t not in fmt.stop_ids]
            grams += list(zip(ids, ids[1:]))
        per_prompt.append(len(set(grams)) / len(grams))
    assert split["distinct2"] == pytest.approx(sum(per_prompt) / 2)
    assert 0 < split["distinct2"] <= 1


def test_evaluate_k3_kl_to_base_on_the_policys_own_samples():
    """kl_estimator=k3: Schulman's k3 on the policy's eval samples against the base's log-probs of the same
    tokens; ~0 against itself, and equal to trainer.probes.k3_kl on the same samples for another base."""
    from trainer.batch import EvalSet, RLPrompt
    from trainer.evaluate import evaluate
    from trainer.probes import k3_kl

    model, fmt = load_model("builtin", "tiny-base")
    base, _ = load_model("builtin", "tiny-base")
    prompts = [RLPrompt("t", fmt.prompt_ids(p), lambda cs: [0.0] * len(cs)) for p in ("rev(abcd)=", "7+5=")]
    args = dict(max_new_tokens=16, temperature=1.0, batch_size=16, samples=4, kl_samples=1, kl_estimator="k3")
    same = evaluate(
        model, fmt, [EvalSet("t", "structured", prompts)], generator=torch.Generator().manual_seed(1), base=base, **args
    )["t"]
    assert "kl_base" not in same and abs(same["kl_k3"]) < 1e-5  # equal weights: k3 = 0 up to float rounding
    with torch.no_grad():
        for p in base.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=torch.Generator().manual_seed(3)))
    moved = evaluate(
        model, fmt, [EvalSet("t", "structured", prompts)], generator=torch.Generator().manual_seed(1), base=base, **args
    )["t"]
    out = _eval_samples(model, fmt, prompts, temperature=1.0)
    with torch.no_grad():
        ref = completion_logprobs(base, out.prompt_ids, out.prompt_mask, out.response_ids, out.response_mask)
    assert moved["kl_k3"] == pytest.approx(k3_kl(out.logprobs, ref, out.response_mask), rel=1e-4)
    assert moved["kl_k3"] > 1e-3


def test_a_save_removes_temporary_folders_left_by_a_kill(tmp_path):
    model, fmt = load_model("builtin", "tiny-base")
    opt = torch.optim.AdamW(model.parameters())
    stale = tmp_path / ".tmp-step-000002-4242"
    (stale / "model").mkdir(parents=True)
    save_checkpoint(tmp_path, {"model": model, "optimizer": opt, "step": 3}, fmt.tokenizer, {}, keep=2)
    assert not stale.exists() and [p.name for p in checkpoint_dirs(tmp_path)] == ["step-000003"]
