"""Data sources: JSONL, CSV, Parquet, `save_to_disk` folders, local hub-style folders and Python
functions load the rows of a split as Records; failures raise SourceError with a useful message;
`check` finds problems without loading whole files. All data is written to tmp_path; nothing goes
to the network."""

import sys
from pathlib import Path

import pytest
from helpers import MATH_FIELDS, MATH_ROWS, write_jsonl, write_table
from helpers import load_source as load
from helpers import source_spec as spec

from tasks.base import Record
from tasks.sources import SourceError

pytestmark = pytest.mark.usefixtures("restore_sys_path")  # import_function adds folders to sys.path


# ------------------------------------------------------------------------------- files: jsonl/csv/parquet


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet"])
def test_single_file_is_split_train_with_field_mapping(tmp_path, kind):
    write_table(tmp_path / f"math.{kind}", MATH_ROWS, kind)
    src = spec(kind=kind, path=f"math.{kind}", fields=MATH_FIELDS)

    records = load(src, "train", tmp_path)

    assert len(records) == 12
    r = records[5]
    assert isinstance(r, Record)
    assert r.prompt == "What is 5 + 5?"
    assert r.completion == "5 + 5 = 10"
    assert r.answer == "10"  # an integer column becomes a string
    assert set(r.meta) == {"level", "tag"}  # the mapped columns are not repeated in meta
    assert r.meta["tag"] == "t5"
    assert [x.prompt for x in records] == [row["question"] for row in MATH_ROWS]  # file order


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet"])
def test_split_to_file_mapping_loads_each_split(tmp_path, kind):
    write_table(tmp_path / f"train.{kind}", MATH_ROWS[:8], kind)
    write_table(tmp_path / f"test.{kind}", MATH_ROWS[8:], kind)
    src = spec(kind=kind, path={"train": f"train.{kind}", "test": f"test.{kind}"}, fields=MATH_FIELDS)

    train, test = load(src, "train", tmp_path), load(src, "test", tmp_path)

    assert [r.answer for r in train] == ["0", "2", "4", "6", "8", "10", "12", "14"]
    assert [r.answer for r in test] == ["16", "18", "20", "22"]


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet"])
def test_missing_split_lists_the_splits(tmp_path, kind):
    write_table(tmp_path / f"train.{kind}", MATH_ROWS, kind)
    write_table(tmp_path / f"dev.{kind}", MATH_ROWS, kind)
    src = spec(kind=kind, path={"train": f"train.{kind}", "dev": f"dev.{kind}"}, fields=MATH_FIELDS)

    with pytest.raises(SourceError) as err:
        load(src, "test", tmp_path)

    msg = str(err.value)
    assert "'test'" in msg and "splits: train, dev" in msg


def test_single_file_has_only_split_train(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"prompt": "p"}])
    with pytest.raises(SourceError, match=r"no split 'test'.*splits: train\)"):
        load(spec(kind="jsonl", path="a.jsonl"), "test", tmp_path)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(SourceError, match="data file not found") as err:
        load(spec(kind="csv", path="nope.csv"), "train", tmp_path)
    assert str(tmp_path / "nope.csv") in str(err.value)


def test_absolute_path_ignores_base_dir(tmp_path):
    path = write_jsonl(tmp_path / "abs.jsonl", [{"prompt": "hello", "answer": "x"}])
    records = load(spec(kind="jsonl", path=str(path)), "train", tmp_path / "elsewhere")
    assert [(r.prompt, r.answer) for r in records] == [("hello", "x")]


def test_default_field_names_and_absent_columns_are_none(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", [{"prompt": "p1", "completion": "c1", "answer": 3.5}, {"prompt": "p2", "id": 7}])
    r1, r2 = load(spec(kind="jsonl", path="d.jsonl"), "train", tmp_path)
    assert (r1.prompt, r1.completion, r1.answer, r1.meta) == ("p1", "c1", "3.5", {})
    assert (r2.prompt, r2.completion, r2.answer, r2.meta) == ("p2", None, None, {"id": 7})


def test_one_column_can_be_both_completion_and_answer(tmp_path):
    # GSM8K-style: the `answer` column is a worked solution ending in `#### 72`, used as both
    write_jsonl(tmp_path / "g.jsonl", [{"question": "q", "answer": "48+24=72\n#### 72"}])
    src = spec(kind="jsonl", path="g.jsonl", fields={"prompt": "question", "completion": "answer", "answer": "answer"})
    (r,) = load(src, "train", tmp_path)
    assert (r.prompt, r.completion, r.answer, r.meta) == ("q", "48+24=72\n#### 72", "48+24=72\n#### 72", {})


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet"])
def test_empty_completion_cell_is_none(tmp_path, kind):
    rows = [{"prompt": "a", "completion": "x"}, {"prompt": "b", "completion": None}]
    write_table(tmp_path / f"c.{kind}", rows, kind)
    records = load(spec(kind=kind, path=f"c.{kind}"), "train", tmp_path)
    assert [r.completion for r in records] == ["x", None]


def test_jsonl_skips_blank_lines(tmp_path):
    (tmp_path / "b.jsonl").write_text('{"prompt": "a"}\n\n   \n{"prompt": "b"}\n', encoding="utf-8")
    assert [r.prompt for r in load(spec(kind="jsonl", path="b.jsonl"), "train", tmp_path)] == ["a", "b"]


def test_csv_keeps_text_as_is(tmp_path):
    # infer_schema=False: "007" stays a string, not the number 7; commas inside quotes survive
    (tmp_path / "t.csv").write_text('prompt,answer\n"code, please",007\n', encoding="utf-8")
    (r,) = load(spec(kind="csv", path="t.csv"), "train", tmp_path)
    assert (r.prompt, r.answer) == ("code, please", "007")


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet"])
def test_row_without_prompt_names_the_column(tmp_path, kind):
    rows = [dict(r) for r in MATH_ROWS[:4]]
    rows[2]["question"] = None
    write_table(tmp_path / f"m.{kind}", rows, kind)

    with pytest.raises(SourceError) as err:
        load(spec(kind=kind, path=f"m.{kind}", fields=MATH_FIELDS), "train", tmp_path)

    msg = str(err.value)
    assert "row 2" in msg and "'question'" in msg
    assert "columns: final, level, question, solution, tag" in msg


def test_prompt_column_absent_lists_the_columns(tmp_path):
    write_jsonl(tmp_path / "q.jsonl", [{"text": "hi", "label": 1}])
    with pytest.raises(SourceError, match=r"no text in column 'prompt' \(columns: label, text\)"):
        load(spec(kind="jsonl", path="q.jsonl"), "train", tmp_path)


def test_empty_prompt_is_rejected(tmp_path):
    write_jsonl(tmp_path / "e.jsonl", [{"prompt": "ok"}, {"prompt": ""}])
    with pytest.raises(SourceError, match="row 1 has no text in column 'prompt'"):
        load(spec(kind="jsonl", path="e.jsonl"), "train", tmp_path)


def test_bad_json_line_gives_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "a"}\n{"prompt": "b"}\n{"prompt": oops}\n', encoding="utf-8")
    with pytest.raises(SourceError) as err:
        load(spec(kind="jsonl", path="bad.jsonl"), "train", tmp_path)
    assert str(err.value).startswith(f"{path}:3: not valid JSON")


def test_json_line_that_is_not_an_object(tmp_path):
    path = tmp_path / "list.jsonl"
    path.write_text('{"prompt": "a"}\n["prompt", "b"]\n', encoding="utf-8")
    with pytest.raises(SourceError, match=r"list\.jsonl:2: expected a JSON object"):
        load(spec(kind="jsonl", path="list.jsonl"), "train", tmp_path)


def test_unreadable_parquet_is_a_source_error(tmp_path):
    (tmp_path / "x.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(SourceError, match="cannot read"):
        load(spec(kind="parquet", path="x.parquet"), "train", tmp_path)


# ------------------------------------------------------------------------------- disk (save_to_disk)


def test_disk_dataset_dict_loads_each_split(tmp_path):
    from datasets import Dataset, DatasetDict

    DatasetDict(
        {
            "train": Dataset.from_list(MATH_ROWS[:10]),
            "test": Dataset.from_list(MATH_ROWS[10:]),
        }
    ).save_to_disk(str(tmp_path / "dd"))
    src = spec(kind="disk", path="dd", fields=MATH_FIELDS)

    train, test = load(src, "train", tmp_path), load(src, "test", tmp_path)

    assert [r.prompt for r in train] == [r["question"] for r in MATH_ROWS[:10]]
    assert [(r.completion, r.answer, r.meta) for r in test] == [
        ("10 + 10 = 20", "20", {"level": 1, "tag": "t10"}),
        ("11 + 11 = 22", "22", {"level": 2, "tag": "t11"}),
    ]
    with pytest.raises(SourceError, match=r"no split 'validation'.*splits: train, test"):
        load(src, "validation", tmp_path)


def test_disk_single_dataset_is_split_train(tmp_path):
    from datasets import Dataset

    Dataset.from_list(MATH_ROWS[:6]).save_to_disk(str(tmp_path / "one"))
    src = spec(kind="disk", path=str(tmp_path / "one"), fields=MATH_FIELDS)

    records = load(src, "train", Path("/nonexistent-base"))

    assert [r.answer for r in records] == ["0", "2", "4", "6", "8", "10"]
    with pytest.raises(SourceError, match=r"single Dataset.*got split 'test'"):
        load(src, "test", tmp_path)


def test_disk_missing_folder(tmp_path):
    with pytest.raises(SourceError, match="dataset folder not found"):
        load(spec(kind="disk", path="missing"), "train", tmp_path)


def test_disk_folder_that_is_not_a_dataset(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file.txt").write_text("x")
    with pytest.raises(SourceError, match="cannot load dataset folder"):
        load(spec(kind="disk", path="junk"), "train", tmp_path)


# ------------------------------------------------------------------------------- hub (local folder)


@pytest.fixture
def offline_hf(tmp_path, monkeypatch):
    """No network and a private cache: env vars for any child, and the values datasets read at import."""
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


def test_hub_local_folder_with_data_dir_layout(tmp_path, offline_hf):
    # the layout of a hub dataset repo: data/train.jsonl, data/test.jsonl (datasets infers the splits)
    (tmp_path / "repo" / "data").mkdir(parents=True)
    write_jsonl(tmp_path / "repo" / "data" / "train.jsonl", MATH_ROWS[:9])
    write_jsonl(tmp_path / "repo" / "data" / "test.jsonl", MATH_ROWS[9:])
    src = spec(kind="hub", name=str(tmp_path / "repo"), fields=MATH_FIELDS)

    train, test = load(src, "train", tmp_path), load(src, "test", tmp_path)

    assert [r.prompt for r in train] == [r["question"] for r in MATH_ROWS[:9]]
    assert [(r.answer, r.meta["tag"]) for r in test] == [("18", "t9"), ("20", "t10"), ("22", "t11")]


def test_hub_relative_name_resolves_against_base_dir_csv_at_root(tmp_path, offline_hf):
    (tmp_path / "csvrepo").mkdir()
    write_table(tmp_path / "csvrepo" / "train.csv", MATH_ROWS[:7], "csv")
    write_table(tmp_path / "csvrepo" / "test.csv", MATH_ROWS[7:], "csv")
    src = spec(kind="hub", name="csvrepo", fields=MATH_FIELDS)

    train, test = load(src, "train", tmp_path), load(src, "test", tmp_path)

    assert len(train) == 7 and len(test) == 5
    assert test[0].prompt == "What is 7 + 7?"
    assert test[0].answer == "14"  # datasets infers an int column; the Record keeps a string


def test_hub_unknown_split_is_a_source_error(tmp_path, offline_hf):
    (tmp_path / "repo" / "data").mkdir(parents=True)
    write_jsonl(tmp_path / "repo" / "data" / "train.jsonl", MATH_ROWS[:3])
    write_jsonl(tmp_path / "repo" / "data" / "test.jsonl", MATH_ROWS[3:6])
    with pytest.raises(SourceError) as err:
        load(spec(kind="hub", name=str(tmp_path / "repo"), fields=MATH_FIELDS), "validation", tmp_path)
    msg = str(err.value)
    assert "split 'validation'" in msg and "Unknown split" in msg


# ------------------------------------------------------------------------------- python functions


def write_module(tmp_path: Path, monkeypatch, name: str, code: str) -> None:
    (tmp_path / f"{name}.py").write_text(code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)


def test_python_source_passes_split_and_seed(tmp_path, monkeypatch):
    write_module(
        tmp_path,
        monkeypatch,
        "user_rows_ok",
        "def rows(split, seed):\n"
        "    for i in range(3):\n"
        "        yield {'q': f'{split}-{seed}-{i}', 'a': i * seed, 'extra': [i]}\n",
    )
    src = spec(kind="python", function="user_rows_ok:rows", fields={"prompt": "q", "answer": "a"})

    records = load(src, "test", tmp_path, seed=7)

    assert [r.prompt for r in records] == ["test-7-0", "test-7-1", "test-7-2"]
    assert [r.answer for r in records] == ["0", "7", "14"]
    assert [r.completion for r in records] == [None, None, None]
    assert records[2].meta == {"extra": [2]}
    assert load(src, "train", tmp_path, seed=1)[1].prompt == "train-1-1"


def test_python_source_module_next_to_the_catalog_is_found(tmp_path, monkeypatch):
    catalog_dir = tmp_path / "catalog"
    catalog_dir.mkdir()
    (catalog_dir / "user_rows_beside.py").write_text("def rows(split, seed):\n    return [{'prompt': split}]\n")
    monkeypatch.delitem(sys.modules, "user_rows_beside", raising=False)
    monkeypatch.chdir(tmp_path)  # not the catalog folder

    (r,) = load(spec(kind="python", function="user_rows_beside:rows"), "dev", catalog_dir)

    assert r.prompt == "dev"


def test_python_source_exception_text_reaches_the_user(tmp_path, monkeypatch):
    write_module(
        tmp_path,
        monkeypatch,
        "user_rows_raise",
        "def rows(split, seed):\n    yield {'prompt': 'x'}\n    raise KeyError('no such split: ' + split)\n",
    )
    with pytest.raises(SourceError) as err:
        load(spec(kind="python", function="user_rows_raise:rows"), "dev", tmp_path, seed=3)
    msg = str(err.value)
    assert "user_rows_raise:rows('dev', 3) failed" in msg
    assert "KeyError" in msg and "no such split: dev" in msg


def test_python_source_must_yield_dicts(tmp_path, monkeypatch):
    write_module(tmp_path, monkeypatch, "user_rows_tuples", "def rows(split, seed):\n    return [('a', 'b')]\n")
    with pytest.raises(SourceError, match="must yield dicts"):
        load(spec(kind="python", function="user_rows_tuples:rows"), "train", tmp_path)


@pytest.mark.parametrize("function", ["user_rows_ok.rows", "user_rows_ok:", ":rows"])
def test_python_source_bad_function_spec(tmp_path, function):
    with pytest.raises(SourceError, match="expected `package.module:function`"):
        load(spec(kind="python", function=function), "train", tmp_path)


def test_python_source_unknown_module_and_function(tmp_path, monkeypatch):
    with pytest.raises(SourceError, match=r"cannot import 'no_such_module_xyz': ModuleNotFoundError"):
        load(spec(kind="python", function="no_such_module_xyz:rows"), "train", tmp_path)
    write_module(tmp_path, monkeypatch, "user_rows_nofn", "VALUE = 1\n")
    with pytest.raises(SourceError, match="'user_rows_nofn' has no function 'VALUE'"):
        load(spec(kind="python", function="user_rows_nofn:VALUE"), "train", tmp_path)


# ------------------------------------------------------------------------------- builtin loader


def test_builtin_loader_makes_count_rows_and_rejects_unknown(tmp_path):
    records = load(spec(kind="builtin", name="reverse", style="expert"), "train", tmp_path, seed=1, count=25)
    assert len(records) == 25
    assert all(r.completion.endswith(f"=> {r.answer}") for r in records)
    with pytest.raises(SourceError, match="unknown built-in task 'nope'; known: addition, count, digits"):
        load(spec(kind="builtin", name="nope"), "train", tmp_path, count=1)
    with pytest.raises(SourceError, match="has splits train, test; got 'dev'"):
        load(spec(kind="builtin", name="reverse"), "dev", tmp_path, count=1)
