"""The tiny-base recipe's pre-training rows: an expert row is cued, a terse row is left alone. (The recipe
run and the shipped model: tests/e2e/test_base_model.py.)"""

from helpers import tiny_base

from curriculum.run.base_model import pretraining_row


def test_pretraining_cues_expert_rows_and_leaves_terse_rows_alone():
    """An expert row's first character (`w` of `work: `) moves into the prompt, so the loss never trains
    starting a scratchpad; the token sequence is unchanged. A terse row is prompt + answer as is."""
    model, fmt = tiny_base()
    expert = pretraining_row(fmt, "sort", "sort(cab)=", "work: a<b<c => abc")
    assert fmt.tokenizer.decode(expert.prompt_ids, skip_special_tokens=True) == "sort(cab)=w"
    assert fmt.tokenizer.decode(expert.completion_ids, skip_special_tokens=True) == "ork: a<b<c => abc"
    assert expert.prompt_ids + expert.completion_ids == fmt.prompt_ids("sort(cab)=") + fmt.completion_ids(
        "work: a<b<c => abc"
    )
    terse = pretraining_row(fmt, "sort", "sort(cab)=", "abc")
    assert (terse.prompt_ids, terse.completion_ids) == (fmt.prompt_ids("sort(cab)="), fmt.completion_ids("abc"))
