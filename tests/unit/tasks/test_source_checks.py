"""Source checks without a full load (`curriculum validate`): missing files, splits, columns, names."""

import json
import sys
from pathlib import Path

import polars as pl
import pytest
from pydantic import TypeAdapter

from tasks.build import SOURCES
from tasks.sources import SourceError, check_source, split_problem
from tasks.spec import SourceSpec

_SOURCE = TypeAdapter(SourceSpec)

# Rows with the columns of a math file: question / solution / final, plus two extra columns.
ROWS = [
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


@pytest.fixture(autouse=True)
def restore_sys_path(monkeypatch):
    """import_function adds folders to sys.path; undo that after each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))


def spec(**data):
    """A source spec, validated the way the catalog validates it."""
    return _SOURCE.validate_python(data)


def load(source, split="train", base_dir=Path("."), seed=0, count=0):
    return SOURCES[source.kind](source, split, base_dir, seed, count)


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_table(path: Path, rows, kind: str) -> Path:
    frame = pl.DataFrame(rows)
    if kind == "csv":
        frame.write_csv(path)
    elif kind == "parquet":
        frame.write_parquet(path)
    else:
        write_jsonl(path, rows)
    return path


# --------------------------------------------------------------- check_source, split_problem (no full load)


def test_check_reports_a_missing_file(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", ROWS)
    src = spec(kind="jsonl", path={"train": "train.jsonl", "test": "gone.jsonl"}, fields=MATH_FIELDS)

    problems = check_source(src, tmp_path)

    assert problems == [(("path", "test"), f"data file not found: {tmp_path / 'gone.jsonl'}")]


def test_check_reports_a_missing_split(tmp_path):
    write_table(tmp_path / "all.csv", ROWS, "csv")
    src = spec(kind="csv", path="all.csv", fields=MATH_FIELDS)

    assert check_source(src, tmp_path) == [] and split_problem(src, "train", tmp_path) is None
    msg = split_problem(src, "test", tmp_path)
    assert "no split 'test'" in msg and "(splits: train)" in msg


def test_check_reports_a_missing_split_of_a_disk_dataset(tmp_path):
    from datasets import Dataset, DatasetDict

    splits = {"train": Dataset.from_list(ROWS[:4]), "test": Dataset.from_list(ROWS[4:6])}
    DatasetDict(splits).save_to_disk(str(tmp_path / "dd"))
    Dataset.from_list(ROWS[:4]).save_to_disk(str(tmp_path / "one"))

    dd, one = spec(kind="disk", path="dd"), spec(kind="disk", path="one")
    assert check_source(dd, tmp_path) == [] and split_problem(dd, "test", tmp_path) is None
    msg = split_problem(dd, "validation", tmp_path)
    assert "no split 'validation'" in msg and "train, test" in msg
    assert check_source(one, tmp_path) == [] and split_problem(one, "train", tmp_path) is None
    assert "no split 'test'" in split_problem(one, "test", tmp_path)


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet"])
def test_check_reports_a_missing_prompt_column(tmp_path, kind):
    write_table(tmp_path / f"m.{kind}", ROWS, kind)
    src = spec(kind=kind, path=f"m.{kind}", fields={"prompt": "problem"})

    problems = check_source(src, tmp_path)

    assert len(problems) == 1
    sub, msg = problems[0]
    assert sub == ("fields", "prompt")
    assert msg.startswith(f"m.{kind} has no column 'problem'")
    assert "question" in msg and "solution" in msg


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_check_reads_only_the_header_of_a_file(tmp_path, kind):
    # a valid first row followed by a megabyte of garbage: a full load fails, check only looks at
    # the first row / header, so it finds nothing wrong
    path = write_table(tmp_path / f"big.{kind}", ROWS[:1], kind)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(('{{{ not a row ,,,"\n' if kind == "jsonl" else 'a,"b\n') * 50_000)
    src = spec(kind=kind, path=f"big.{kind}", fields=MATH_FIELDS)

    assert check_source(src, tmp_path) == []
    with pytest.raises(SourceError):
        load(src, "train", tmp_path)


def test_check_builtin_python_and_disk(tmp_path):
    assert check_source(spec(kind="builtin", name="addition"), tmp_path) == []
    [(sub, msg)] = check_source(spec(kind="builtin", name="mult"), tmp_path)
    assert sub == ("name",) and "unknown built-in task 'mult'" in msg and "addition" in msg
    assert "'dev'" in split_problem(spec(kind="builtin", name="sort"), "dev", tmp_path)
    [(sub, msg)] = check_source(spec(kind="python", function="no_colon"), tmp_path)
    assert sub == ("function",) and "package.module:function" in msg
    assert split_problem(spec(kind="python", function="m:f"), "any", tmp_path) is None  # unknowable: not loaded
    [(sub, msg)] = check_source(spec(kind="disk", path="nowhere"), tmp_path)
    assert sub == ("path",) and msg == f"dataset folder not found: {tmp_path / 'nowhere'}"
