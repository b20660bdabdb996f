"""Chat templates, built in the test (no download): SFT targets end with the template's own end of turn, and
decoding stops there; a template that rejects the system role refuses `system_prompt` with a clear message;
the template can be turned off, given arguments, or replaced by a plain prompt format for a base model."""

import pytest

from trainer.config import HFModel
from trainer.model import ModelLoadError, load_model
from trainer.tiny import tiny_random

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and not enable_thinking %}<think></think>{% endif %}{% endif %}"
)
GEMMA_LIKE = (
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def _folder(tmp_path, template: str, specials: list[str]):
    model, tok = tiny_random(seed=1)
    tok.add_special_tokens({"additional_special_tokens": specials})
    model.resize_token_embeddings(len(tok))
    tok.chat_template = template
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    return str(tmp_path)


def test_sft_targets_end_with_the_templates_end_of_turn(tmp_path):
    path = _folder(tmp_path, CHATML, ["<|im_start|>", "<|im_end|>", "<think>", "</think>"])
    _, fmt = load_model(HFModel(kind="hf", name=path))
    im_end = fmt.tokenizer.convert_tokens_to_ids("<|im_end|>")
    ids = fmt.completion_ids("42")
    assert ids[-1] == im_end and fmt.eos_id not in ids[:-1]  # the turn ends as the template ends it
    assert im_end in fmt.stop_ids  # and decoding stops at it
    assert fmt.decode([*fmt.tokenizer("42", add_special_tokens=False).input_ids, im_end, 5, 6]) == "42"
    prompt = fmt.tokenizer.decode(fmt.prompt_ids("2+2="))
    assert prompt == "<|im_start|>user\n2+2=<|im_end|>\n<|im_start|>assistant\n"


def test_template_arguments_reach_the_template(tmp_path):
    path = _folder(tmp_path, CHATML, ["<|im_start|>", "<|im_end|>", "<think>", "</think>"])
    _, fmt = load_model(HFModel(kind="hf", name=path, template_args={"enable_thinking": False}))
    assert fmt.tokenizer.decode(fmt.prompt_ids("q")).endswith("<|im_start|>assistant\n<think></think>")


def test_a_template_without_system_role_refuses_a_system_prompt_clearly(tmp_path):
    path = _folder(tmp_path, GEMMA_LIKE, ["<start_of_turn>", "<end_of_turn>"])
    with pytest.raises(ModelLoadError, match="chat template rejects model.system_prompt.*System role not supported"):
        load_model(HFModel(kind="hf", name=path, system_prompt="be brief"))
    _, fmt = load_model(HFModel(kind="hf", name=path))
    assert fmt.completion_ids("x")[-1] == fmt.tokenizer.convert_tokens_to_ids("<end_of_turn>")


def test_template_off_and_a_plain_prompt_format(tmp_path):
    path = _folder(tmp_path, CHATML, ["<|im_start|>", "<|im_end|>", "<think>", "</think>"])
    spec = HFModel(kind="hf", name=path, chat_template=False, prompt_format="Question: {prompt}\nAnswer:")
    _, fmt = load_model(spec)
    assert not fmt.uses_chat_template and fmt.completion_ids("7")[-1] == fmt.eos_id
    text = fmt.tokenizer.decode(fmt.prompt_ids("2+2?"), skip_special_tokens=True)
    assert text == "Question: 2+2?\nAnswer:"
    with pytest.raises(ValueError, match=r"exactly once"):
        HFModel(kind="hf", name=path, prompt_format="no slot")


def test_validate_refuses_a_system_prompt_the_local_template_rejects(tmp_path):
    from helpers import TINY

    from curriculum.catalog import CatalogInvalid, load_catalog

    path = _folder(tmp_path / "gemma", GEMMA_LIKE, ["<start_of_turn>", "<end_of_turn>"])
    with pytest.raises(CatalogInvalid, match="model.system_prompt: the model's chat template rejects a system"):
        load_catalog(TINY, [f"model={{kind: hf, name: {path}, system_prompt: be brief}}"])
    load_catalog(TINY, [f"model={{kind: hf, name: {path}}}"])  # no system prompt: fine
    chatml = _folder(tmp_path / "chatml", CHATML, ["<|im_start|>", "<|im_end|>", "<think>", "</think>"])
    load_catalog(TINY, [f"model={{kind: hf, name: {chatml}, system_prompt: be brief}}"])  # ChatML has the role
