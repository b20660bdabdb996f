"""Paths and small builders the test modules share (tests/ is on the import path: pyproject's pythonpath)."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
TINY = FIXTURES / "tiny.yaml"  # a small catalog on the tiny base model: seconds per run
DEMO = REPO / "catalogs" / "demo.yaml"


def tiny_base():
    """The shipped tiny-base model and its formatter."""
    from trainer.config import BuiltinModel
    from trainer.model import load_model

    return load_model(BuiltinModel(kind="builtin", name="tiny-base"))


def tiny_random(seed: int = 0):
    """The tiny architecture with random weights and its formatter."""
    from trainer.config import BuiltinModel
    from trainer.model import load_model

    return load_model(BuiltinModel(kind="builtin", name="tiny-random"), seed=seed)


def write_jsonl(path: Path, rows) -> Path:
    """Rows as JSON lines."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_table(path: Path, rows, kind: str) -> Path:
    """Rows as a csv, parquet or jsonl file."""
    import polars as pl

    frame = pl.DataFrame(rows)
    if kind == "csv":
        frame.write_csv(path)
    elif kind == "parquet":
        frame.write_parquet(path)
    else:
        write_jsonl(path, rows)
    return path


# Rows with the columns of a math file: question / solution / final, plus two extra columns.
MATH_ROWS = [
    {
        "question": f"What is {i} + {i}?",
        "solution": f"{i} + {i} = {2 * i}",
        "final": 2 * i,
        "level": i % 3,
        "tag": f"t{i}",
    }
    for i in range(12)
]
MATH_FIELDS = {"prompt": "question", "completion": "solution", "answer": "final"}


def source_spec(**data):
    """A data-source spec, validated the way the catalog validates it."""
    from pydantic import TypeAdapter

    from tasks.spec import SourceSpec

    return TypeAdapter(SourceSpec).validate_python(data)


def load_source(source, split="train", base_dir=Path("."), seed=0, count=0):
    """A source's rows of `split`, through its registered loader."""
    from tasks.build import SOURCES

    return SOURCES[source.kind](source, split, base_dir, seed, count)


def greedy_texts(model, fmt, prompts: list[str], max_new_tokens: int) -> list[str]:
    """Greedy completions of `prompts`, decoded (stop token dropped)."""
    from trainer.rollout import generate

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


def run_tables(root: Path) -> dict:
    """A run folder's decisions, steps and evals tables minus the wall-clock columns (`perf/`), the only thing
    two runs of one catalog and seed may differ in."""
    import polars as pl

    out = {}
    for name in ("decisions", "steps", "evals"):
        frame = pl.read_parquet(root / f"{name}.parquet")
        out[name] = frame.select([c for c in frame.columns if not c.startswith("perf/")])
    return out


def train_tiny(out: Path, *overrides: str, display=None):
    """A run of the tiny catalog with these overrides into `out` (the run's RunDir)."""
    from curriculum.catalog import load_catalog
    from curriculum.run.loop import train

    catalog = load_catalog(TINY, list(overrides))
    return train(catalog, catalog.model_dump(mode="json"), TINY.parent, out, display)
