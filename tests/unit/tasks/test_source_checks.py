"""Source checks without a full load (`curriculum validate`): missing files, splits, columns, names."""

import pytest
from helpers import MATH_FIELDS, MATH_ROWS, write_jsonl, write_table
from helpers import load_source as load
from helpers import source_spec as spec

from tasks.sources import SourceError, check_source, split_problem

pytestmark = pytest.mark.usefixtures("restore_sys_path")  # import_function adds folders to sys.path


# --------------------------------------------------------------- check_source, split_problem (no full load)


def test_check_reports_a_missing_file(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", MATH_ROWS)
    src = spec(kind="jsonl", path={"train": "train.jsonl", "test": "gone.jsonl"}, fields=MATH_FIELDS)

    problems = check_source(src, tmp_path)

    assert problems == [(("path", "test"), f"data file not found: {tmp_path / 'gone.jsonl'}")]


def test_check_reports_a_missing_split(tmp_path):
    write_table(tmp_path / "all.csv", MATH_ROWS, "csv")
    src = spec(kind="csv", path="all.csv", fields=MATH_FIELDS)

    assert check_source(src, tmp_path) == [] and split_problem(src, "train", tmp_path) is None
    msg = split_problem(src, "test", tmp_path)
    assert "no split 'test'" in msg and "(splits: train)" in msg


def test_check_reports_a_missing_split_of_a_disk_dataset(tmp_path):
    from datasets import Dataset, DatasetDict

    splits = {"train": Dataset.from_list(MATH_ROWS[:4]), "test": Dataset.from_list(MATH_ROWS[4:6])}
    DatasetDict(splits).save_to_disk(str(tmp_path / "dd"))
    Dataset.from_list(MATH_ROWS[:4]).save_to_disk(str(tmp_path / "one"))

    dd, one = spec(kind="disk", path="dd"), spec(kind="disk", path="one")
    assert check_source(dd, tmp_path) == [] and split_problem(dd, "test", tmp_path) is None
    msg = split_problem(dd, "validation", tmp_path)
    assert "no split 'validation'" in msg and "train, test" in msg
    assert check_source(one, tmp_path) == [] and split_problem(one, "train", tmp_path) is None
    assert "no split 'test'" in split_problem(one, "test", tmp_path)


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet"])
def test_check_reports_a_missing_prompt_column(tmp_path, kind):
    write_table(tmp_path / f"m.{kind}", MATH_ROWS, kind)
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
    path = write_table(tmp_path / f"big.{kind}", MATH_ROWS[:1], kind)
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
