"""Built-in synthetic tasks: no download, deterministic from (seed, split).

Structured tasks have one exact, verifiable answer; creative tasks have many valid answers and reward
validity x novelty within the rollout group, so RL on them pays for diversity.

| task      | kind       | prompt            | base style | expert style                         |
|-----------|------------|-------------------|------------|--------------------------------------|
| addition  | structured | `47+85=`          | `132`      | `7+5=12,4+8+1=13 => 132`             |
| sort      | structured | `sort(dbca)=`     | `abcd`     | `a<b<c<d => abcd`                    |
| reverse   | structured | `rev(hello)=`     | `olleh`    | `o-l-l-e-h => olleh`                 |
| count     | structured | `count(a,banana)=`| `3`        | `ba0 aa1 na1 aa2 na2 aa3 => 3`       |
| word      | creative   | `word(k..a,5)=`   | `keloa`    | `k-e-l-o-a => keloa`                 |
| digits    | creative   | `digits(4,17)=`   | `8900`     | `8+9+0+0=17 => 8900`                 |

Expert demonstrations are `work: ` followed by the scratchpad shown. The project's tiny base model
was pre-trained on both styles, mostly the base one, and was never trained to *start* a scratchpad
(see `curriculum.run.base_model`), so it answers tersely by default but works a scratchpad well once one
is started; SFT on expert demonstrations shifts that default. Rewards read the text after the last
`=>` (`final_answer`), so both styles are graded alike.

Splits: a prompt belongs to `test` when a hash of it falls in one bucket of five, to `train`
otherwise, for every seed; so no eval prompt is ever a training prompt.
"""

from __future__ import annotations

import hashlib
import random
import re
import string

from curriculum.seeding import py_rng
from tasks.base import Generator, Record, TaskKind, final_answer
from tasks.registry import builtin_task

SPLITS = ("train", "test")
# Expert demonstrations open with this mark, so choosing to work a scratchpad is one early decision of
# the model (as "Let's think step by step" is for an LLM) that SFT on expert demonstrations can shift.
EXPERT_MARK = "work: "
LETTERS = string.ascii_lowercase


def split_of(prompt: str) -> str:
    """`test` for one hash bucket in five, else `train` (independent of the seed)."""
    return "test" if hashlib.sha1(prompt.encode()).digest()[0] % 5 == 0 else "train"


def generate(gen: Generator, split: str, count: int, seed: int, style: str = "base") -> list[Record]:
    """`count` records of `split`, each with a demonstration in `style`. Distinct prompts while the
    prompt space allows (small creative spaces repeat after exhausting it)."""
    if split not in SPLITS:
        raise ValueError(f"built-in task {gen.name!r} has splits {', '.join(SPLITS)}; got {split!r}")
    rng = py_rng(seed, "builtin", gen.name, split)
    demo_rng = py_rng(seed, "builtin", gen.name, split, "demo", style)
    records: list[Record] = []
    seen: set[str] = set()
    misses = 0
    while len(records) < count:
        record = gen.problem(rng)
        if split_of(record.prompt) != split:
            continue
        if record.prompt in seen and misses < 200:
            misses += 1
            continue
        misses = 0
        seen.add(record.prompt)
        completion = gen.solve(record, style, demo_rng)
        if style == "expert":
            completion = EXPERT_MARK + completion
        records.append(Record(record.prompt, completion, record.answer, record.meta))
    return records


def group_reward(gen: Generator, record: Record, completions: list[str]) -> list[float]:
    """Structured: 1 if correct else 0. Creative: validity x novelty, novelty = 1 / (number of
    completions in the group with the same answer), so G identical valid answers earn 1/G each."""
    answers = [final_answer(c) for c in completions]
    valid = [1.0 if gen.check(record, a) else 0.0 for a in answers]
    if gen.kind == "structured":
        return valid
    return [v / answers.count(a) for v, a in zip(valid, answers)]


def _digits(rng: random.Random, low: int = 1, high: int = 2) -> int:
    n = rng.randint(low, high)
    return rng.randint(0 if n == 1 else 10 ** (n - 1), 10**n - 1)


@builtin_task
class Addition:
    name = "addition"
    kind: TaskKind = "structured"
    description = "a+b for 1-2 digit numbers; expert style adds column by column with carries"

    def problem(self, rng: random.Random) -> Record:
        a, b = _digits(rng), _digits(rng)
        return Record(f"{a}+{b}=", answer=str(a + b), meta={"a": a, "b": b})

    def solve(self, record: Record, style: str, rng: random.Random) -> str:
        if style == "base":
            return record.answer
        a, b = str(record.meta["a"])[::-1], str(record.meta["b"])[::-1]
        steps, carry = [], 0
        for i in range(max(len(a), len(b))):
            x, y = int(a[i]) if i < len(a) else 0, int(b[i]) if i < len(b) else 0
            total = x + y + carry
            steps.append(f"{x}+{y}" + (f"+{carry}" if carry else "") + f"={total}")
            carry = total // 10
        return ",".join(steps) + f" => {record.answer}"

    def check(self, record: Record, answer: str) -> bool:
        return answer == record.answer


@builtin_task
class Sort:
    name = "sort"
    kind: TaskKind = "structured"
    description = "sort 3-9 distinct letters; expert style writes the chain a<b<c first"

    def problem(self, rng: random.Random) -> Record:
        letters = "".join(rng.sample(LETTERS, rng.randint(3, 9)))
        return Record(f"sort({letters})=", answer="".join(sorted(letters)))

    def solve(self, record: Record, style: str, rng: random.Random) -> str:
        return record.answer if style == "base" else "<".join(record.answer) + f" => {record.answer}"

    def check(self, record: Record, answer: str) -> bool:
        return answer == record.answer


@builtin_task
class Reverse:
    name = "reverse"
    kind: TaskKind = "structured"
    description = "reverse a 3-10 letter string; expert style spells it backwards first"

    def problem(self, rng: random.Random) -> Record:
        word = "".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 10)))
        return Record(f"rev({word})=", answer=word[::-1])

    def solve(self, record: Record, style: str, rng: random.Random) -> str:
        return record.answer if style == "base" else "-".join(record.answer) + f" => {record.answer}"

    def check(self, record: Record, answer: str) -> bool:
        return answer == record.answer


@builtin_task
class Count:
    name = "count"
    kind: TaskKind = "structured"
    description = "count a letter in a 5-10 letter string over a-f; expert style keeps a running count"

    def problem(self, rng: random.Random) -> Record:
        text = "".join(rng.choice("abcdef") for _ in range(rng.randint(5, 10)))
        letter = rng.choice("abcdef")
        return Record(f"count({letter},{text})=", answer=str(text.count(letter)), meta={"letter": letter, "text": text})

    def solve(self, record: Record, style: str, rng: random.Random) -> str:
        if style == "base":
            return record.answer
        # each step writes the string's next letter, the letter counted, and the running count: the
        # comparison is between two adjacent letters, which a small model learns where it does not
        # learn to compare with a letter far back in the prompt
        letter, running, steps = record.meta["letter"], 0, []
        for ch in record.meta["text"]:
            running += ch == letter
            steps.append(f"{ch}{letter}{running}")
        return " ".join(steps) + f" => {record.answer}"

    def check(self, record: Record, answer: str) -> bool:
        return answer == record.answer


# Creative demonstrations draw letters from a skewed (Zipf-like) distribution: a base model trained on
# them favours a few answers, which leaves room for RL with a novelty reward to widen its outputs.
_ZIPF = [1.0 / (rank + 1) for rank in range(len(LETTERS))]


@builtin_task
class Word:
    name = "word"
    kind: TaskKind = "creative"
    description = "invent an n-letter word with a given first and last letter (any such word is valid)"

    def problem(self, rng: random.Random) -> Record:
        first, last, n = rng.choice(LETTERS), rng.choice(LETTERS), rng.randint(3, 7)
        return Record(f"word({first}..{last},{n})=", meta={"first": first, "last": last, "n": n})

    def solve(self, record: Record, style: str, rng: random.Random) -> str:
        m = record.meta
        middle = "".join(rng.choices(LETTERS, weights=_ZIPF, k=m["n"] - 2))
        word = m["first"] + middle + m["last"]
        return word if style == "base" else "-".join(word) + f" => {word}"

    def check(self, record: Record, answer: str) -> bool:
        m = record.meta
        return (
            len(answer) == m["n"]
            and answer.isascii()
            and answer.isalpha()
            and answer.islower()
            and answer[0] == m["first"]
            and answer[-1] == m["last"]
        )


@builtin_task
class Digits:
    name = "digits"
    kind: TaskKind = "creative"
    description = "write n digits (3-8) that sum to s (any such digit string is valid)"

    def problem(self, rng: random.Random) -> Record:
        n = rng.randint(3, 8)
        total = rng.randint(n + 2, 8 * n - 2)
        return Record(f"digits({n},{total})=", meta={"n": n, "sum": total})

    def solve(self, record: Record, style: str, rng: random.Random) -> str:
        n, remaining, digits = record.meta["n"], record.meta["sum"], []
        for left in range(n - 1, -1, -1):  # keep the rest reachable: 0 <= remaining <= 9 * left
            low, high = max(0, remaining - 9 * left), min(9, remaining)
            d = min(high, low + int(rng.choices(range(10), weights=_ZIPF[:10])[0]))
            digits.append(d)
            remaining -= d
        answer = "".join(map(str, digits))
        return answer if style == "base" else "+".join(answer) + f"={record.meta['sum']} => {answer}"

    def check(self, record: Record, answer: str) -> bool:
        return (
            re.fullmatch(r"[0-9]+", answer) is not None
            and len(answer) == record.meta["n"]
            and sum(map(int, answer)) == record.meta["sum"]
        )
