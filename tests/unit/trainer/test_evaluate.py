"""Held-out evaluation: metrics on a near-greedy temperature against transformers' own greedy decoding,
the planning/execution entropy split and distinct-2 recounted by hand, k3 KL to the base, and `unique`
read with each task's own answer extraction."""

import math

import pytest
import torch
from helpers import tiny_base

from tasks.base import final_answer
from trainer.batch import EvalSet, RLPrompt
from trainer.drift import k3_sum
from trainer.evaluate import evaluate, sample_seeds
from trainer.planning import planning_mask
from trainer.rollout import completion_logprobs, generate


def test_evaluate_metrics_on_a_near_greedy_temperature():
    """At temperature 0.01 the k samples are the greedy completion: sampled == score, unique == 1/k,
    entropy near 0; at temperature 3 the samples spread out."""
    model, fmt = tiny_base()
    answers = {"sort(cab)=": "abc", "sort(zyx)=": "xyz", "rev(abc)=": "cba", "rev(hello)=": "wrong"}
    prompts = [
        RLPrompt("t", fmt.prompt_ids(p), lambda cs, a=a: [float(c == a) for c in cs]) for p, a in answers.items()
    ]
    sets = [EvalSet("t", "structured", prompts, final_answer)]

    def run(temperature: float):
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
    assert cold.score == right / 4  # "rev(hello)=" -> "wrong" is never produced, so right <= 3
    assert right <= 3
    assert cold.sampled == cold.score
    assert cold.unique == 0.25 and cold.entropy < 0.05
    hot = run(3.0)
    assert hot.unique > 0.5 and hot.entropy > cold.entropy + 1.0


def _eval_samples(model, fmt, prompts, temperature: float):
    """The k = 4 samples per prompt that `evaluate` draws with generator seed 1 (prompts in one chunk, whose
    generator is seeded by the first seed drawn from it)."""
    return generate(
        model,
        [p.prompt_ids for p in prompts for _ in range(4)],
        max_new_tokens=16,
        temperature=temperature,
        generator=torch.Generator().manual_seed(sample_seeds(torch.Generator().manual_seed(1), 1)[0]),
        stop_ids=fmt.stop_ids,
        pad_id=fmt.pad_id,
    )


def test_evaluate_splits_entropy_into_planning_and_execution_tokens():
    """With planning markers, the planning and execution token entropies are a partition of the k
    samples' tokens: their token-weighted mean is the overall entropy; KL to an identical base is 0."""
    model, fmt = tiny_base()
    # cued prompts: the base model works a scratchpad ("d-c-b-a => dcba") once its first letter is given
    prompts = [RLPrompt("t", fmt.prompt_ids(p), lambda cs: [0.0] * len(cs)) for p in ("rev(abcd)=w", "7+5=w")]
    args = dict(max_new_tokens=16, temperature=1.5, batch_size=16, samples=4)
    plain = evaluate(
        model,
        fmt,
        [EvalSet("t", "structured", prompts, final_answer)],
        generator=torch.Generator().manual_seed(1),
        **args,
    )["t"]
    split = evaluate(
        model,
        fmt,
        [EvalSet("t", "structured", prompts, final_answer, planning=["-", "=>"])],
        generator=torch.Generator().manual_seed(1),
        base=model,
        kl_samples=2,
        kl_generator=torch.Generator().manual_seed(2),
        **args,
    )["t"]
    assert split.entropy == plain.entropy and not plain.planning and split.planning
    assert split.kl_base == 0.0
    # recount the tokens by hand from the same samples to weight the two means
    out = _eval_samples(model, fmt, prompts, temperature=1.5)
    n_plan = n_exec = 0
    for ids, n in zip(out.response_ids, out.lengths):
        marks = planning_mask(fmt, ids[: int(n)].tolist(), ["-", "=>"])
        n_plan, n_exec = n_plan + sum(marks), n_exec + len(marks) - sum(marks)
    assert n_plan > 0 and n_exec > 0
    mean = (split.entropy_plan * n_plan + split.entropy_exec * n_exec) / (n_plan + n_exec)
    assert mean == pytest.approx(split.entropy, rel=1e-5)
    # distinct-2 by hand from the same samples: per prompt, distinct bigrams / bigrams over its 4 samples
    per_prompt = []
    for p in range(2):
        grams = []
        for r in range(p * 4, p * 4 + 4):
            ids = [t for t in out.response_ids[r, : int(out.lengths[r])].tolist() if t not in fmt.stop_ids]
            grams += list(zip(ids, ids[1:]))
        per_prompt.append(len(set(grams)) / len(grams))
    assert split.distinct2 == pytest.approx(sum(per_prompt) / 2)
    assert 0 < split.distinct2 <= 1


def test_evaluate_k3_kl_to_base_on_the_policys_own_samples():
    """kl_estimator=k3: Schulman's k3 on the policy's eval samples against the base's log-probs of the same
    tokens; ~0 against itself, and equal to the token mean of trainer.drift.k3_sum on the same samples for
    another base."""
    model, fmt = tiny_base()
    base, _ = tiny_base()
    prompts = [RLPrompt("t", fmt.prompt_ids(p), lambda cs: [0.0] * len(cs)) for p in ("rev(abcd)=", "7+5=")]
    args = dict(max_new_tokens=16, temperature=1.0, batch_size=16, samples=4, kl_samples=1, kl_estimator="k3")

    def k3_eval():  # the same samples each time (generator seed 1), against the base as it is now
        sets = [EvalSet("t", "structured", prompts, final_answer)]
        return evaluate(model, fmt, sets, generator=torch.Generator().manual_seed(1), base=base, **args)["t"]

    same = k3_eval()
    assert same.kl_base is None and abs(same.kl_k3) < 1e-5  # equal weights: k3 = 0 up to float rounding
    with torch.no_grad():
        for p in base.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=torch.Generator().manual_seed(3)))
    moved = k3_eval()
    out = _eval_samples(model, fmt, prompts, temperature=1.0)
    with torch.no_grad():
        ref = completion_logprobs(base, out.prompt_ids, out.prompt_mask, out.response_ids, out.response_mask)
    expected = float(k3_sum(out.logprobs, ref, out.response_mask) / out.response_mask.sum())  # token mean
    assert moved.kl_k3 == pytest.approx(expected, rel=1e-4)
    assert moved.kl_k3 > 1e-3


def test_unique_counts_answers_the_way_the_task_reads_them():
    """`unique` counts distinct answers as the eval set's own extraction reads them (the text after `=>` for
    the built-in tasks, the last number for a numeric reward: tests/unit/tasks/test_rewards.py): a reading
    that maps every completion to one answer sees 1 of k; the whole text sees more at temperature 3; a
    coarser reading can only merge answers."""
    model, fmt = tiny_base()
    prompts = [RLPrompt("t", fmt.prompt_ids("sort(cab)="), lambda cs: [0.0] * len(cs))]
    args = dict(max_new_tokens=12, temperature=3.0, batch_size=16, samples=4)

    def unique(extract) -> float:
        sets = [EvalSet("t", "structured", prompts, extract)]
        return evaluate(model, fmt, sets, generator=torch.Generator().manual_seed(5), **args)["t"].unique

    whole = unique(lambda text: text)
    assert unique(lambda text: "same") == 0.25  # one answer among k = 4 samples
    assert whole > 0.25  # at temperature 3 the four samples differ
    assert unique(lambda text: text[:1]) <= whole  # a coarser reading can only merge answers


def test_answer_entropy_is_the_entropy_of_the_k_answers():
    """answer_entropy = -sum (c/k) ln(c/k) over a prompt's distinct answers: answers read as a, a, b, c among
    k = 4 give -(0.5 ln 0.5 + 2 * 0.25 ln 0.25) = 0.5 ln 2 + 0.5 ln 4 = 1.5 ln 2 = 1.0397; one answer gives 0;
    four different ones ln 4."""
    model, fmt = tiny_base()
    prompts = [RLPrompt("t", fmt.prompt_ids("sort(cab)="), lambda cs: [0.0] * len(cs))]
    args = dict(max_new_tokens=6, temperature=1.0, batch_size=16, samples=4)

    def answer_entropy(labels: list[str]) -> float:
        reads = iter(labels)  # the extraction is asked once per sample, in order
        sets = [EvalSet("t", "structured", prompts, lambda text: next(reads))]
        return evaluate(model, fmt, sets, generator=torch.Generator().manual_seed(5), **args)["t"].answer_entropy

    assert answer_entropy(["a", "a", "b", "c"]) == pytest.approx(1.5 * math.log(2))
    assert answer_entropy(["a"] * 4) == 0.0
    assert answer_entropy(["a", "b", "c", "d"]) == pytest.approx(math.log(4))


def test_eval_token_tally_counts_every_pass_through_a_model():
    """The tally is prompt + completion tokens (no padding) of the greedy and the sampled decoding, plus two
    teacher-forced passes over the samples for k3 (policy and base), counted here from the same decoding
    calls, made again with the same generator."""
    model, fmt = tiny_base()
    texts = ["sort(cab)=", "rev(hello)=", "count(aab,a)="]
    prompts = [RLPrompt("t", fmt.prompt_ids(t), lambda cs: [0.0] * len(cs)) for t in texts]
    sets = [EvalSet("t", "structured", prompts, final_answer)]
    args = dict(max_new_tokens=10, temperature=1.0, stop_ids=fmt.stop_ids, pad_id=fmt.pad_id)

    def real(rollouts) -> int:
        return int(rollouts.prompt_mask.sum() + rollouts.response_mask.sum())

    ids = [p.prompt_ids for p in prompts]
    greedy = generate(model, ids, generator=None, greedy=True, **args)
    drawn = torch.Generator().manual_seed(sample_seeds(torch.Generator().manual_seed(2), 1)[0])  # its one chunk's
    sampled = generate(model, [i for i in ids for _ in range(4)], generator=drawn, **args)
    expected = real(greedy) + real(sampled)
    assert real(greedy) < greedy.prompt_ids.numel() + greedy.response_ids.numel()  # padding was left out

    tally: list[int] = []
    common = dict(max_new_tokens=10, temperature=1.0, batch_size=64, samples=4)
    evaluate(model, fmt, sets, generator=torch.Generator().manual_seed(2), tally=tally, **common)
    assert sum(tally) == expected
    tally = []
    evaluate(
        model, fmt, sets, generator=torch.Generator().manual_seed(2), tally=tally, base=model, kl_samples=1,
        kl_estimator="k3", **common,
    )  # fmt: skip
    assert sum(tally) == expected + 2 * real(sampled)  # k3: the samples through the policy and the base
