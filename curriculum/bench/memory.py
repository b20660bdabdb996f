"""Benchmark: peak memory of the vocabulary-sized work at Qwen's vocabulary (151,936), on CPU, with a small
hidden size so the scores dominate. Prints figures; not a test.

    python -m curriculum.bench.memory                 # this checkout
    python -m curriculum.bench.memory --src OLD_TREE  # the same cases against another checkout's trainer

Each case runs in a fresh process: it builds a random-weight Qwen2 model (hidden 64, 2 layers, tied
embeddings) and its inputs, resets the kernel's peak-RSS mark (/proc/self/clear_refs), runs the case once,
and reports VmHWM minus the RSS before it: the extra memory the case needed at its peak.

- `rollout`: decoding 32 rows (prompts of 48 tokens, 48 new tokens) with the KV cache;
- `kl-probe`: evaluation's KL to the base, 16 prompts x 2 base samples of 48 tokens (batch_size 32);
- `sft-step`: forward and backward of the SFT log-probs, 8 rows of 48 prompt + 96 completion tokens;
- `rl-step`: forward and backward of the RL log-probs, 32 rows of 48 prompt + 48 response tokens.

Then an estimate for `catalogs/qwen-math-writing.yaml` on one GPU (`estimate_catalog`), from the same
accounting (`score_bytes`), which is first checked against these measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

VOCAB = 151_936
CASES = ("rollout", "kl-probe", "sft-step", "rl-step")
SHAPES = {  # rows, prompt tokens, scored tokens per row
    "rollout": (32, 48, 48),
    "kl-probe": (32, 48, 48),
    "sft-step": (8, 48, 96),
    "rl-step": (32, 48, 48),
}
CHILD = r"""
import gc, inspect, json, sys, types
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

case, chunk = sys.argv[1], (int(sys.argv[2]) if sys.argv[2] != "none" else None)
torch.manual_seed(0)
config = Qwen2Config(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                     tie_word_embeddings=True)
model = Qwen2ForCausalLM._from_config(config).eval()
fmt = types.SimpleNamespace(stop_ids=[VOCAB - 1], pad_id=0)
rows, prompt, scored = SHAPES[case]
g = torch.Generator().manual_seed(0)
prompts = [torch.randint(1, VOCAB - 1, (prompt,), generator=g).tolist() for _ in range(rows)]


def chunked(fn):
    return {"chunk": chunk} if "chunk" in inspect.signature(fn).parameters else {}


def run():
    from trainer.rollout import completion_logprobs, generate
    if case == "rollout":
        with torch.no_grad():
            generate(model, prompts, max_new_tokens=scored, temperature=1.0, generator=g, stop_ids=fmt.stop_ids,
                     pad_id=0)
    elif case == "kl-probe":
        from trainer.drift import kl_to_base
        kl_to_base(model, base, fmt, prompts[: rows // 2], samples=2, max_new_tokens=scored, temperature=1.0,
                   generator=g, batch_size=rows, **chunked(kl_to_base))
    elif case == "sft-step":
        from trainer.sft import sft_logprobs
        logprobs, mask = sft_logprobs(model, sft_rows, 0, **chunked(sft_logprobs))
        (-(logprobs * mask).sum() / mask.sum()).backward()
    else:
        logprobs = completion_logprobs(model, *rl_args, 1.0, **chunked(completion_logprobs))
        (logprobs * rl_args[3]).sum().backward()


if case == "kl-probe":
    import copy
    base = copy.deepcopy(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.01)
if case == "sft-step":
    from trainer.batch import SFTRow
    sft_rows = [SFTRow("t", p, torch.randint(1, VOCAB - 1, (scored,), generator=g).tolist()) for p in prompts]
if case == "rl-step":
    from trainer.rollout import generate
    with torch.no_grad():
        out = generate(model, prompts, max_new_tokens=scored, temperature=1.0, generator=g, stop_ids=fmt.stop_ids,
                       pad_id=0)
    rl_args = (out.prompt_ids, out.prompt_mask, out.response_ids, out.response_mask)
    model.train()


def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
run()
print(json.dumps({"peak_extra": status("VmHWM") - before}))
"""


def measure(case: str, src: Path, chunk: int | None) -> int:
    """Peak extra bytes of one case, in a fresh process importing `trainer` from `src`."""
    code = f"VOCAB = {VOCAB}\nSHAPES = {SHAPES!r}\n" + CHILD
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_DISABLE_PROGRESS_BARS": "1", "OMP_NUM_THREADS": "2"}
    # every block over 1 MiB is its own mapping, returned when freed: the peak RSS is the peak of live tensors
    env |= {"MALLOC_MMAP_THRESHOLD_": str(2**20), "MALLOC_TRIM_THRESHOLD_": str(2**20)}
    out = subprocess.run(
        [sys.executable, "-c", code, case, "none" if chunk is None else str(chunk)],
        env=env,
        capture_output=True,
        text=True,
        cwd=src,
    )
    if out.returncode != 0:
        raise SystemExit(f"case {case} failed in {src}:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_extra"]


# --------------------------------------------------------------------------------------------------
# the accounting, checked against the measurements above, then applied to a real catalog


def score_bytes(
    case: str, rows: int, prompt: int, scored: int, vocab: int, chunk: int | None, b: int = 4, hidden: int = 64
) -> float:
    """The peak bytes of the vocabulary-sized work of a case with this engine on a model whose scores are its
    head's projection (`trainer.logits.fused_head`), `b` bytes per score in the matmul (4 in float32, 2 under
    bf16 autocast), `chunk` positions at a time (None: all n = rows x scored at once):

    - rollout: per decoding step the last position's scores (rows x V) in the matmul dtype, then float32: the
      scores, the softmax and the sampled token's log-softmax (3 x rows x V x 4);
    - kl-probe: per span, both models' scores (2 x span x V x b) and position_kl's two float32 tensors plus one
      in flight (3 x span x V x 4);
    - sft-step, rl-step: the hidden states and their gradient (2 x n x hidden x 4), and per span the scores,
      their float32 copy and the softmax-gradient (span x V x (b + 2 x 4)).
    """
    span = min(chunk or rows * scored, rows * scored)
    if case == "rollout":
        return rows * vocab * (b + 3 * 4)
    if case == "kl-probe":
        return span * vocab * (2 * b + 3 * 4)
    return 2 * rows * scored * hidden * 4 + span * vocab * (b + 2 * 4)


def _kv_bytes(config: dict, tokens: float, b: int = 2) -> float:
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    return tokens * config["num_hidden_layers"] * 2 * config["num_key_value_heads"] * head_dim * b


QWEN25_05B = {  # Qwen/Qwen2.5-0.5B-Instruct config.json
    "vocab_size": 151_936,
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "params": 494_032_768,
}


def estimate_catalog(catalog_path: Path, config: dict = QWEN25_05B) -> dict[str, float]:
    """Peak bytes of the catalog's largest phases on one GPU under bf16 autocast, from its settings and the
    model's config (prompts taken at 256 tokens, demonstrations at max_seq_len or 1024): weights, gradients
    and AdamW state in float32 (16 bytes per parameter), the frozen float32 reference for the KL probe
    (4 bytes per parameter), and the largest of rollouts, the KL probe and a micro-batch's backward, whose
    layer activations are taken at 34 x hidden bytes per token per layer (Korthikanti et al. 2022, bf16 with
    a fused attention kernel), or hidden x 2 bytes per layer with gradient checkpointing."""
    from curriculum.catalog import load_catalog

    catalog = load_catalog(catalog_path)
    t, e = catalog.training, catalog.evaluation
    V, P, h, L = config["vocab_size"], config["params"], config["hidden_size"], config["num_hidden_layers"]
    prompt, chunk = 256, t.logit_chunk
    rollout_rows = catalog.schedule.rl_batch * t.rollout.group_size
    R = t.rollout.max_new_tokens
    eval_R = e.max_new_tokens or R
    demo = t.max_seq_len - prompt if t.max_seq_len else 1024
    micro = t.micro_batch or max(catalog.schedule.sft_batch, rollout_rows)
    act_per_token = (2 * h if t.gradient_checkpointing else 34 * h) * L
    out = {
        "weights, gradients, AdamW (fp32)": 16 * P,
        "KL reference (fp32)": 4 * P if (e.kl_samples > 0 or t.grpo.kl_coef > 0) else 0,
    }
    phases = {
        "rollout": _kv_bytes(config, rollout_rows * (prompt + R))
        + score_bytes("rollout", rollout_rows, prompt, R, V, chunk, 2),
        "eval sampling": _kv_bytes(config, e.batch_size * (prompt + eval_R))
        + score_bytes("rollout", e.batch_size, prompt, eval_R, V, chunk, 2),
        "KL probe": score_bytes("kl-probe", e.batch_size, prompt, eval_R, V, chunk, 2),
        "SFT micro-batch": score_bytes("sft-step", micro, prompt, demo, V, chunk, 2, h)
        + micro * (prompt + demo) * act_per_token,
        "RL micro-batch": score_bytes("rl-step", micro, prompt, R, V, chunk, 2, h)
        + micro * (prompt + R) * act_per_token,
    }
    out.update({f"largest phase: {k}": v for k, v in [max(phases.items(), key=lambda kv: kv[1])]})
    out["phases"] = phases
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m curriculum.bench.memory", description=__doc__.split("\n")[0])
    parser.add_argument("--src", type=Path, help="another checkout: measure its trainer too (before)")
    parser.add_argument("--chunk", type=int, default=1024, help="logit_chunk of this checkout (default 1024)")
    parser.add_argument("--catalog", type=Path, default=Path("catalogs/qwen-math-writing.yaml"))
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parents[2]
    mb = 2**20
    trees = ([("before", args.src.resolve())] if args.src else []) + [("after", here)]
    print(f"peak extra memory at vocabulary {VOCAB:,}, hidden 64, CPU float32 (MiB; predicted by score_bytes):")
    for case in CASES:
        rows, prompt, scored = SHAPES[case]
        cells = []
        for name, src in trees:
            chunk = args.chunk if name == "after" else None
            measured = measure(case, src, chunk)
            cells.append(f"{name} {measured / mb:7.0f}")
        predicted = score_bytes(case, rows, prompt, scored, VOCAB, args.chunk)
        shown = "   ".join(cells)
        print(f"  {case:9s} {rows:3d} rows x {scored:3d} tokens: {shown}   (after predicted {predicted / mb:.0f})")
    if args.catalog.is_file():
        est = estimate_catalog(args.catalog)
        phases = est.pop("phases")
        print(f"\nestimate for {args.catalog} with Qwen2.5-0.5B on one GPU, bf16 autocast (GB):")
        for name, value in {**est, **{f"  phase {k}": v for k, v in phases.items()}}.items():
            print(f"  {name:40s} {value / 1e9:7.1f}")
        total = sum(v for k, v in est.items())
        print(f"  {'total at the peak':40s} {total / 1e9:7.1f}")


if __name__ == "__main__":
    main()
