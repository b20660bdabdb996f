"""Model and tokenizer loading, and the `Formatter` that turns task text into token ids.

- `builtin`: `tiny-base` (shipped weights, pre-trained on base-style data) or `tiny-random`.
- `hf`: any Hugging Face causal LM by hub id or local folder, through AutoModelForCausalLM and
  AutoTokenizer. A tokenizer with a chat template gets the prompt as a user message (with an optional
  system message) and the generation prompt; the completion follows and ends with the end token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from curriculum.errors import UserError
from trainer.config import ModelSpec
from trainer.tiny import TINY_BASE_DIR, tiny_random


class ModelLoadError(UserError):
    """The model or tokenizer cannot be loaded; the message says what to check."""


@dataclass
class Formatter:
    """Prompt and completion text -> token ids, the same way for SFT rows, rollouts and evaluation."""

    tokenizer: object
    system_prompt: str | None = None
    stop_ids: list[int] = field(default_factory=list)  # any of these ends a completion
    chat_template: bool = True  # use the tokenizer's template, if it has one
    template_args: dict = field(default_factory=dict)
    prompt_format: str | None = None  # plain text around {prompt}, without a template
    end_ids: list[int] | None = field(init=False, default=None)  # derived: the template's end of turn

    def __post_init__(self) -> None:
        # the end of an assistant turn as the template writes it (ChatML <|im_end|>, Gemma <end_of_turn>, ...):
        # SFT targets end with it and decoding stops at it; without a template, the eos token
        self.end_ids = end_of_turn_ids(self.tokenizer, self.template_args) if self.uses_chat_template else None
        if self.end_ids:
            self.stop_ids = sorted({*self.stop_ids, self.end_ids[-1]})

    @property
    def uses_chat_template(self) -> bool:
        return self.chat_template and bool(getattr(self.tokenizer, "chat_template", None))

    @property
    def eos_id(self) -> int:
        return self.tokenizer.eos_token_id

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else self.eos_id

    def prompt_ids(self, prompt: str) -> list[int]:
        tok = self.tokenizer
        if self.uses_chat_template:
            messages = ([{"role": "system", "content": self.system_prompt}] if self.system_prompt else []) + [
                {"role": "user", "content": prompt}
            ]
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **self.template_args)
            return tok(text, add_special_tokens=False).input_ids
        text = self.prompt_format.replace("{prompt}", prompt) if self.prompt_format else prompt
        ids = tok(text, add_special_tokens=False).input_ids
        return ([tok.bos_token_id] if tok.bos_token_id is not None else []) + ids

    def completion_ids(self, completion: str) -> list[int]:
        """The completion's tokens and the end of the turn: the template's own end marker, else eos."""
        end = self.end_ids or [self.eos_id]
        return self.tokenizer(completion, add_special_tokens=False).input_ids + end

    def decode(self, ids: list[int]) -> str:
        """A completion's text: up to (not including) the first stop token, specials dropped."""
        out = []
        for i in ids:
            if i in self.stop_ids:
                break
            out.append(i)
        return self.tokenizer.decode(out, skip_special_tokens=True)


MARK = "\u2063answer\u2063"  # text no template changes: where the assistant's content ends


def end_of_turn_ids(tokenizer: object, template_args: dict | None = None) -> list[int] | None:
    """The tokens a chat template writes right after an assistant message's content (its end-of-turn marker,
    trailing whitespace left out), found by rendering a conversation; None when it writes nothing there."""
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": MARK}]
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False, **(template_args or {}))
    except Exception:  # noqa: BLE001 -- a template that cannot render an assistant turn: no marker to learn
        return None
    if MARK not in text:
        return None
    after = text.split(MARK, 1)[1].rstrip()
    return tokenizer(after, add_special_tokens=False).input_ids or None if after else None


def check_system_prompt(fmt: Formatter) -> None:
    """Refuse a system prompt the chat template cannot render (Gemma's templates reject the system role)."""
    if not (fmt.system_prompt and fmt.uses_chat_template):
        return
    try:
        fmt.prompt_ids("hi")
    except Exception as exc:  # noqa: BLE001 -- jinja raises its own errors (TemplateError, ...)
        raise ModelLoadError(
            f"the model's chat template rejects model.system_prompt ({type(exc).__name__}: {exc}); remove it, or "
            "put the instruction into the task prompts"
        ) from None


def compute_dtype(spec: ModelSpec, base_dir: Path | None = None) -> torch.dtype | None:
    """The dtype the model's forward passes ask for (`HFModel.dtype`): float32, bfloat16 (autocast), or None
    for the runtime's default (float32, bf16 autocast on CUDA). `auto` reads the checkpoint's config: a bf16
    or fp16 checkpoint computes in bf16."""
    if spec.kind == "builtin" or spec.dtype == "auto" and _checkpoint_dtype(spec, base_dir) not in BF16_LIKE:
        return None
    return torch.float32 if spec.dtype == "float32" else torch.bfloat16


BF16_LIKE = ("bfloat16", "float16")


def model_target(name: str, base_dir: Path | None) -> str:
    """What `from_pretrained` is given for an `hf` model name: an existing folder (a `./` name taken from the
    catalog's folder `base_dir`, `~` expanded), else the name itself as a hub id."""
    path = Path(name).expanduser()
    if base_dir is not None and name.startswith(".") and not path.is_absolute():
        path = base_dir / path
    return str(path) if path.exists() else name


def _checkpoint_dtype(spec: ModelSpec, base_dir: Path | None) -> str | None:
    from transformers import AutoConfig

    target = model_target(spec.name, base_dir)
    try:
        config = AutoConfig.from_pretrained(target, revision=spec.revision, trust_remote_code=spec.trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read the config of model {str(target)!r}: {exc}") from None
    dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    return str(dtype).removeprefix("torch.") if dtype is not None else None


def count_parameters(model: torch.nn.Module) -> int:
    """Every parameter once (`parameters()` yields a tied embedding once): the N of `curriculum.compute`."""
    return sum(p.numel() for p in model.parameters())


def model_size(spec: ModelSpec, seed: int = 0, base_dir: Path | None = None) -> tuple[int, Formatter]:
    """The parameter count and the formatter of a model, without loading its weights where that costs: a
    hub or folder model is built from its config on the meta device (no memory, no download beyond the config
    and tokenizer); the built-in models are small and simply loaded."""
    if spec.kind == "builtin":
        model, fmt = load_model(spec, seed, base_dir)
        return count_parameters(model), fmt
    from transformers import AutoConfig

    target = model_target(spec.name, base_dir)
    kwargs = {"revision": spec.revision, "trust_remote_code": spec.trust_remote_code}
    try:
        tokenizer = AutoTokenizer.from_pretrained(target, **kwargs)
        config = AutoConfig.from_pretrained(target, **kwargs)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config, trust_remote_code=spec.trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load model {str(target)!r}: {exc}") from None
    return count_parameters(model), _formatter(spec, tokenizer, [])


def _stop_ids(model: PreTrainedModel, tokenizer: object) -> list[int]:
    ids = {tokenizer.eos_token_id}
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(gen_eos if isinstance(gen_eos, list) else [gen_eos])
    return sorted(i for i in ids if i is not None)


def load_model(spec: ModelSpec, seed: int = 0, base_dir: Path | None = None) -> tuple[PreTrainedModel, Formatter]:
    """The model (float32 unless `dtype` says otherwise, on CPU) and its formatter. `seed` seeds the
    random weights of `tiny-random`; a relative `hf` folder is taken from `base_dir`."""
    name = spec.name
    system_prompt = None
    if spec.kind == "builtin":
        if name == "tiny-random":
            model, tokenizer = tiny_random(seed)
        elif name == "tiny-base":
            if not (TINY_BASE_DIR / "model.safetensors").is_file():
                raise ModelLoadError(
                    f"tiny-base weights missing at {TINY_BASE_DIR}; rebuild them: curriculum build-base"
                )
            model, tokenizer = load_pretrained(TINY_BASE_DIR)
        else:
            raise ModelLoadError(f"unknown built-in model {name!r}; known: tiny-base, tiny-random")
    else:
        system_prompt = spec.system_prompt
        target = model_target(name, base_dir)
        # float32 master weights whatever the checkpoint's dtype; `compute_dtype` says how forwards run
        model, tokenizer = load_pretrained(
            target, revision=spec.revision, dtype=torch.float32, trust_remote_code=spec.trust_remote_code
        )
    if tokenizer.eos_token_id is None:
        raise ModelLoadError(f"tokenizer of {name!r} has no eos token; completions could never end")
    if spec.kind == "builtin":
        return model, Formatter(tokenizer, system_prompt, _stop_ids(model, tokenizer))
    fmt = _formatter(spec, tokenizer, _stop_ids(model, tokenizer))
    check_system_prompt(fmt)
    return model, fmt


def _formatter(spec: ModelSpec, tokenizer: object, stop_ids: list[int]) -> Formatter:
    return Formatter(
        tokenizer, spec.system_prompt, stop_ids, spec.chat_template, dict(spec.template_args), spec.prompt_format
    )


def load_pretrained(
    target: str | Path, revision: str | None = None, dtype: torch.dtype = torch.float32, trust_remote_code: bool = False
) -> tuple[PreTrainedModel, object]:
    """AutoModelForCausalLM + AutoTokenizer from a folder or hub id, with a clear error."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(target, revision=revision, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            target, revision=revision, dtype=dtype, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load model {str(target)!r}: {exc}") from None
    return model, tokenizer


def dropout_settings(model: torch.nn.Module) -> dict[str, float]:
    """The model config's dropout probabilities above 0 (fields named like `*dropout*` or `*pdrop*`)."""
    config = getattr(model, "config", None)
    fields = config.to_dict() if config is not None else {}
    return {
        k: v
        for k, v in fields.items()
        if ("dropout" in k or "pdrop" in k) and isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
    }


def enable_checkpointing(model: torch.nn.Module) -> None:
    """Turn on transformers' gradient checkpointing (`training.gradient_checkpointing`), or refuse with the reason:
    the model must support it and have no dropout (the step puts the checkpointing layers in training mode,
    which would turn on a dropout written in the layer itself: RL log-probs would no longer be the sampler's)."""
    kind = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
    if not getattr(model, "supports_gradient_checkpointing", False):
        raise ModelLoadError(f"training.gradient_checkpointing: the model ({kind}) does not support it; turn it off")
    dropout = dropout_settings(model)
    if dropout:
        shown = ", ".join(f"{k}={v:g}" for k, v in dropout.items())
        raise ModelLoadError(
            f"training.gradient_checkpointing: the model ({kind}) has dropout ({shown}); checkpointing would run its "
            "layers with dropout on in the RL forward. Turn one off (a config with dropout 0 in a local folder)"
        )
    if hasattr(model, "activation_checkpointing_enable"):  # the name from transformers 5.x on
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
