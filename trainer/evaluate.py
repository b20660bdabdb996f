"""Held-out evaluation of every task, from a greedy completion and k sampled completions per prompt.

- `score`: mean reward of the greedy completion of each eval prompt, graded alone (a creative task's
  score is then the fraction of valid answers);
- `sampled`: mean reward of the k samples at the evaluation temperature, each graded alone (mean@k:
  the accuracy of the policy as RL samples it);
- `entropy`: mean per-token entropy (nats) of the full next-token distribution at the evaluation
  temperature, over the tokens of the k samples (the model's own samples);
- `unique`: the share of distinct final answers among the k samples of a prompt, averaged over
  prompts (1 = all different; most telling for creative tasks);
- `answer_entropy`: the entropy (nats) of the answers among a prompt's k samples, -sum_a (c_a / k) ln(c_a / k)
  over its distinct answers a with counts c_a (0 = one answer, ln k = all different), averaged over
  prompts: entropy per answer, where `entropy` is per token (a scratchpad's nearly deterministic tokens
  pull the token mean down whatever the answers do);
- `distinct2`: distinct-2 of a prompt's k samples (distinct token bigrams / all token bigrams over
  the k responses, stop token excluded), averaged over the prompts that have bigrams;
- `length`: mean tokens of the greedy completions;
- `kl_base` (with a `base` model, `kl_estimator="full"`): forward KL(base || policy), full vocabulary
  per token, on completions the base samples for the eval prompts (`trainer.drift.kl_to_base`);
- `kl_k3` (with a `base` model, `kl_estimator="k3"`): the cheaper k3 estimate of KL(policy || base)
  on the policy's own k samples (`trainer.drift.k3_sum`: no extra sampling, sampled tokens only);
- `entropy_plan`, `entropy_exec` (for a task with planning markers): the entropy over the k samples'
  planning tokens and over the other tokens (`trainer.planning.planning_mask`).

`unique` and `answer_entropy` read each completion's answer with the task's own `EvalSet.extract`, so it counts distinct
answers on any task (the last number for a numeric reward, the text after `=>` for built-in tasks).
`run_eval` is what the run calls: every task, with the catalog's evaluation settings, as an `EvalRecord`.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import Counter
from typing import Callable

import torch

from curriculum.records import EvalRecord, TaskEval
from curriculum.seeding import derive_seed
from trainer.batch import EvalSet, RLPrompt
from trainer.config import EvaluationSpec
from trainer.distributed import Dist
from trainer.drift import k3_sum, kl_to_base
from trainer.logits import row_slices
from trainer.model import Formatter
from trainer.planning import marker_regex, planning_tensor, split_entropy_sums
from trainer.rollout import Rollouts, completion_logprobs, generate, seq_tokens
from trainer.runtime import Runtime


def distinct_2(responses: list[list[int]], stop_ids: list[int]) -> float | None:
    """Distinct token bigrams / all token bigrams over some responses (stop tokens left out); None
    when they have no bigram."""
    bigrams = []
    for ids in responses:
        ids = [t for t in ids if t not in stop_ids]
        bigrams += zip(ids, ids[1:])
    return len(set(bigrams)) / len(bigrams) if bigrams else None


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    fmt: Formatter,
    eval_sets: list[EvalSet],
    *,
    max_new_tokens: int,
    temperature: float,
    batch_size: int,
    generator: torch.Generator,
    samples: int = 4,
    autocast: Callable = contextlib.nullcontext,
    base: torch.nn.Module | None = None,
    kl_samples: int = 2,
    kl_generator: torch.Generator | None = None,
    kl_estimator: str = "full",
    tally: list[int] | None = None,
    logit_chunk: int | None = None,
    ranks: Dist = Dist(),
) -> dict[str, TaskEval]:
    """Every eval set's metrics (module docstring), by task. `tally` (a list) gets the token count of every
    pass through a model appended: prompt + completion of each decoded and each teacher-forced sequence.
    `logit_chunk`: the memory budget of the teacher-forced passes (`trainer.logits`).

    The prompts are decoded in chunks of `batch_size` sequences, each chunk's samples drawn from its own
    generator (seeded from `generator`; the base's samples for `kl_base` likewise, one generator per task). So
    under torchrun (`ranks`) every rank evaluates its share of the chunks and of the KL tasks, and the gathered
    result is what one process computes, to the bit."""
    tally = tally if tally is not None else []
    prompts = [(s.task, p) for s in eval_sets for p in s.prompts]
    chunks = _chunks(prompts, max(1, batch_size // samples))
    seeds = sample_seeds(generator, len(chunks))
    kl_seeds = sample_seeds(kl_generator, len(eval_sets)) if kl_generator is not None else [None] * len(eval_sets)
    kwargs = dict(
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        stop_ids=fmt.stop_ids,
        pad_id=fmt.pad_id,
        autocast=autocast,
    )
    use_k3 = base is not None and kl_samples > 0 and kl_estimator == "k3"
    patterns = {s.task: marker_regex(s.planning) for s in eval_sets if s.planning is not None}
    extract = {s.task: s.extract for s in eval_sets}
    mine = []  # (sums by task, tally) of each of this rank's chunks
    for c in ranks.mine(len(chunks)):
        chunk, sums, counts = chunks[c], {}, []
        ids = [p.prompt_ids for _, p in chunk]
        greedy = generate(model, ids, generator=None, greedy=True, **kwargs)
        repeated = [i for i in ids for _ in range(samples)]
        drawn = _generator(generator, seeds[c])
        sampled = generate(model, repeated, generator=drawn, with_entropy=True, **kwargs)
        counts += [seq_tokens(greedy), seq_tokens(sampled)]
        k3_terms = None
        if use_k3:  # both sides teacher-forced the same way, so equal models give exactly 0
            r = sampled
            counts += [2 * seq_tokens(r)]
            parts = []
            for rows in row_slices(r.response_ids.shape[0], r.response_ids.shape[1], logit_chunk):
                args = (r.prompt_ids[rows], r.prompt_mask[rows], r.response_ids[rows], r.response_mask[rows])
                with autocast():
                    parts.append([completion_logprobs(m, *args, temperature, logit_chunk) for m in (model, base)])
            k3_terms = tuple(torch.cat(side, dim=0) for side in zip(*parts))
        for i, (task, prompt) in enumerate(chunk):
            rows = slice(i * samples, (i + 1) * samples)
            acc = sums.setdefault(task, dict.fromkeys(SUMS, 0.0))
            _add_prompt(acc, fmt, prompt, greedy, i, sampled, rows, extract[task], patterns.get(task), k3_terms)
        mine.append((sums, counts))
    sums = {s.task: dict.fromkeys(SUMS, 0.0) for s in eval_sets}
    for chunk_sums, counts in ranks.interleave(mine, len(chunks)):  # chunk by chunk, as one process adds them
        tally += counts
        for task, acc in chunk_sums.items():
            for key, value in acc.items():
                sums[task][key] += value
    kl_base = {}
    if base is not None and kl_samples > 0 and kl_estimator == "full":
        mine = []
        for k in ranks.mine(len(eval_sets)):
            counts = []
            kl = kl_to_base(
                model,
                base,
                fmt,
                [p.prompt_ids for p in eval_sets[k].prompts],
                samples=kl_samples,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                generator=_generator(kl_generator, kl_seeds[k]),
                batch_size=batch_size,
                autocast=autocast,
                tally=counts,
                chunk=logit_chunk,
            )
            mine.append((kl, counts))
        for s, (kl, counts) in zip(eval_sets, ranks.interleave(mine, len(eval_sets))):
            kl_base[s.task] = kl
            tally += counts
    return {
        s.task: _task_eval(sums[s.task], len(s.prompts), use_k3, kl_base.get(s.task), s.task in patterns)
        for s in eval_sets
    }


def sample_seeds(generator: torch.Generator, n: int) -> list[int]:
    """n seeds drawn from `generator`: one per chunk (or task) that samples."""
    return torch.randint(0, 2**62, (n,), generator=generator, device=generator.device).tolist()


def _generator(like: torch.Generator | None, seed: int | None) -> torch.Generator | None:
    return torch.Generator(device=like.device).manual_seed(seed) if like is not None else None


# running sums per task: per prompt (score, sampled, unique, length, distinct2 with its count), per sampled
# token (entropy, tokens, k3), per planning / execution token (plan, exec with their counts)
SUMS = ("score", "sampled", "unique", "length", "entropy", "tokens", "plan", "plan_n", "exec", "exec_n")
SUMS += ("distinct2", "distinct2_n", "k3", "answer_entropy")


def _add_prompt(
    acc: dict[str, float],
    fmt: Formatter,
    prompt: RLPrompt,
    greedy: Rollouts,
    i: int,
    sampled: Rollouts,
    rows: slice,
    extract: Callable[[str], str],
    pattern: re.Pattern | None,
    k3_terms: tuple[torch.Tensor, torch.Tensor] | None,
) -> None:
    """Add one prompt to its task's sums: its greedy completion (row `i` of `greedy`) and its k samples
    (`rows` of `sampled`); `k3_terms` = (policy, base) log-probs of the samples, when k3 is measured."""
    acc["score"] += prompt.grade([fmt.decode(greedy.response_ids[i].tolist())])[0]
    acc["length"] += float(greedy.lengths[i])
    responses, live = sampled.response_ids[rows], sampled.response_mask[rows].bool()
    texts = [fmt.decode(r.tolist()) for r in responses]
    k = len(texts)
    acc["sampled"] += sum(prompt.grade([t])[0] for t in texts) / k
    answers = Counter(extract(t) for t in texts)
    acc["unique"] += len(answers) / k
    acc["answer_entropy"] += -sum(c / k * math.log(c / k) for c in answers.values())
    acc["entropy"] += float(sampled.entropy[rows].sum())
    acc["tokens"] += float(sampled.lengths[rows].sum())
    d2 = distinct_2([r[m].tolist() for r, m in zip(responses, live)], fmt.stop_ids)
    if d2 is not None:
        acc["distinct2"] += d2
        acc["distinct2_n"] += 1
    if k3_terms is not None:
        policy_logprobs, base_logprobs = k3_terms
        acc["k3"] += float(k3_sum(policy_logprobs[rows], base_logprobs[rows], live))
    if pattern is not None:
        plan = planning_tensor(fmt, responses, pattern)
        sums_of = split_entropy_sums(sampled.entropy[rows], live, plan)
        for key, value in zip(("plan", "plan_n", "exec", "exec_n"), sums_of):
            acc[key] += value


def _task_eval(acc: dict[str, float], n: int, use_k3: bool, kl_base: float | None, planning: bool) -> TaskEval:
    """A task's metrics from its sums over `n` prompts."""
    return TaskEval(
        score=acc["score"] / n,
        sampled=acc["sampled"] / n,
        entropy=acc["entropy"] / max(acc["tokens"], 1.0),
        unique=acc["unique"] / n,
        length=acc["length"] / n,
        distinct2=acc["distinct2"] / acc["distinct2_n"] if acc["distinct2_n"] else None,
        kl_k3=acc["k3"] / max(acc["tokens"], 1.0) if use_k3 else None,  # token mean, as k3_sum says
        kl_base=kl_base,
        planning=planning,
        entropy_plan=acc["plan"] / acc["plan_n"] if acc["plan_n"] else None,
        entropy_exec=acc["exec"] / acc["exec_n"] if acc["exec_n"] else None,
        answer_entropy=acc["answer_entropy"] / n,
    )


def run_eval(
    model: torch.nn.Module,
    fmt: Formatter,
    eval_sets: list[EvalSet],
    evaluation: EvaluationSpec,
    *,
    max_new_tokens: int,
    runtime: Runtime,
    seed: int,
    step: int,
    reference: torch.nn.Module | None = None,
) -> EvalRecord:
    """Every task's held-out metrics after `step` steps, with the catalog's `evaluation` settings; samples
    draw from generators seeded by (seed, "eval", step) and (seed, "eval-kl", step). KL to the starting
    model when `reference` is given and `evaluation.kl_samples` > 0."""
    tally: list[int] = []
    results = evaluate(
        model,
        fmt,
        eval_sets,
        tally=tally,
        max_new_tokens=max_new_tokens,
        temperature=evaluation.temperature,
        batch_size=evaluation.batch_size,
        samples=evaluation.samples,
        generator=runtime.generator(derive_seed(seed, "eval", step)),
        autocast=runtime.autocast,
        base=reference,
        kl_samples=evaluation.kl_samples,
        kl_generator=runtime.generator(derive_seed(seed, "eval-kl", step)),
        kl_estimator=evaluation.kl_estimator,
        logit_chunk=runtime.logit_chunk,
        ranks=runtime.dist,
    )
    return EvalRecord(step, results, tokens=sum(tally))
