"""Reward for the creative-writing task of `qwen-math-writing.yaml` (user code, named in the catalog as
`python: writing_reward:score`; the catalog's folder is on the import path).

score = validity x diversity:
- validity: 1 when the story has 40-400 words and ends a sentence, else 0;
- diversity: distinct-2 of the story (unique word bigrams / bigrams), so repetitive text earns less.
"""


def score(completion: str, record: dict) -> float:
    words = completion.split()
    if not 40 <= len(words) <= 400 or not completion.rstrip().endswith((".", "!", "?", '"')):
        return 0.0
    bigrams = list(zip(words, words[1:]))
    return len(set(bigrams)) / len(bigrams)
