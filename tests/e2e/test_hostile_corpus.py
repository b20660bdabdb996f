"""A generated corpus of careless and hostile input: every field of the shipped catalogs deleted, retyped, out
of range or non-finite, whole sections replaced, YAML bombs, deep nesting, bad encodings; and bad data files.
Each input either validates (the mutation was harmless) or ends with exit 2, one message naming the file, and
no traceback, within 10 s. Where validation passes, `plan` and a 2-step `train` must hold the same promise
(those run under `-m slow`).

    python tests/e2e/test_hostile_corpus.py    # prints the counts
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import time
from pathlib import Path

import polars as pl
import pytest
import yaml
from helpers import DEMO, REPO, TINY

from curriculum.cli import main

SOURCES = [DEMO, TINY, REPO / "catalogs" / "experiment.yaml"]
DATA_CATALOG = """
name: data
model: {kind: builtin, name: tiny-base}
tasks:
  - id: qa
    kind: structured
    source: {kind: KIND, path: PATH}
    sft: {size: 1}
    eval: {split: train, size: 1}
    reward: {kind: exact}
schedule: {kind: chord, sft_batch: 1, rl_batch: 1}
training: {steps: 2, rollout: {group_size: 2, max_new_tokens: 4}}
evaluation: {every: 0, max_new_tokens: 4}
"""
BAD_VALUES = {
    "text": "x",
    "list": [],
    "map": {"a": 1},
    "negative": -1,
    "huge": 10**15,
    "inf": float("inf"),
    "nan": float("nan"),
    "null": None,
    "bool": True,
}


def _leaves(data, path=()):
    """Every (path, value) in the data, inner nodes included."""
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _leaves(value, (*path, i))


def _set(data, path, value=None, delete=False):
    target = data
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value


def catalog_mutations() -> list[tuple[str, str]]:
    """(name, YAML text) of each mutated catalog."""
    out = []
    for source in SOURCES:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        for path, _ in _leaves(data):
            if not path:
                continue
            where = f"{source.stem}:{'.'.join(map(str, path))}"
            if isinstance(path[-1], str):
                mutated = copy.deepcopy(data)
                _set(mutated, path, delete=True)
                out.append((f"{where} deleted", yaml.safe_dump(mutated)))
            for label, value in BAD_VALUES.items():
                mutated = copy.deepcopy(data)
                _set(mutated, path, value)
                out.append((f"{where}={label}", yaml.safe_dump(mutated, allow_unicode=True)))
    return out + _text_attacks()


def _text_attacks() -> list[tuple[str, str | bytes]]:
    demo = DEMO.read_text(encoding="utf-8")
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(12)
    )
    return [
        ("empty file", ""),
        ("only a comment", "# nothing\n"),
        ("a list at the top", "- a\n- b\n"),
        ("a scalar at the top", "42\n"),
        ("billion laughs", laughs),
        ("recursive alias", "a: &a [*a]\n"),
        ("self-referencing map", "a: &a {b: *a}\n"),
        ("deep lists", "a: " + "[" * 10_000 + "]" * 10_000 + "\n"),
        ("deep maps", "a: " + "{b: " * 5_000 + "1" + "}" * 5_000 + "\n"),
        ("undefined alias", demo + "extra: *nowhere\n"),
        ("python tag", demo.replace("seed: 0", "seed: !!python/object/apply:os.system ['true']")),
        ("duplicate key", demo + "seed: 3\n"),
        ("tab indentation", demo.replace("  kind: builtin", "\tkind: builtin", 1)),
        ("unclosed bracket", demo.replace("{size: 32}", "{size: 32", 1)),
        ("latin-1 bytes", demo.encode("utf-8") + "# caf\xe9\n".encode("latin-1")),
        ("UTF-16 file", demo.encode("utf-16")),
        ("NUL bytes", demo.encode("utf-8") + b"\x00\x00\n"),
        ("binary garbage", bytes(range(256)) * 4),
        ("a 12 MB file", "# " + "x" * (12 * 2**20) + "\n"),
        ("bad date", demo.replace("seed: 0", "seed: 2024-13-45")),
        ("huge integer", demo.replace("seed: 0", "seed: " + "9" * 5000)),
        ("lone surrogate escape", demo.replace("name: demo", 'name: "\\ud800"')),
        ("name is a path", demo.replace("name: demo", "name: ../../outside")),
    ]


def data_files(folder: Path) -> list[tuple[str, str, Path]]:
    """(name, source kind, path) of bad data files."""
    cases = []

    def write(name: str, kind: str, content: str | bytes) -> None:
        path = folder / f"{len(cases):02d}.{kind}"
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        cases.append((name, kind, path))

    row = '{"prompt": "2+2=", "completion": "4", "answer": "4"}\n'
    write("invalid JSON", "jsonl", row + "{not json}\n")
    write("a list per line", "jsonl", row + "[1, 2]\n")
    write("a string per line", "jsonl", row + '"text"\n')
    write("nested 100,000 deep", "jsonl", row + '{"prompt": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    write("not UTF-8", "jsonl", row.encode() + '{"prompt": "caf\xe9"}\n'.encode("latin-1"))
    write(
        "a lone surrogate in the prompt", "jsonl", row + '{"prompt": "a\\ud800b", "completion": "1", "answer": "1"}\n'
    )
    write("a lone surrogate in the completion", "jsonl", '{"prompt": "p", "completion": "\\udfff", "answer": "1"}\n')
    write("a NUL in the answer", "jsonl", row + '{"prompt": "p", "completion": "1", "answer": "1\\u0000"}\n')
    write("no prompt column", "jsonl", '{"question": "2+2=", "completion": "4", "answer": "4"}\n')
    write("an empty prompt", "jsonl", row + '{"prompt": "", "completion": "4", "answer": "4"}\n')
    write("a number as the prompt", "jsonl", row + '{"prompt": 7, "completion": "4", "answer": "4"}\n')
    write("only blank lines", "jsonl", "\n\n\n")
    write("an empty file", "jsonl", "")
    write("UTF-16", "jsonl", row.encode("utf-16"))
    write("binary garbage", "jsonl", bytes(range(256)))
    write(
        "no answer for an exact reward",
        "jsonl",
        row + '{"prompt": "3+3=", "completion": "6"}\n' + row.replace("2+2", "1+1"),
    )
    write("csv: no prompt column", "csv", "question,completion,answer\n2+2=,4,4\n")
    write("csv: not UTF-8", "csv", "prompt,completion,answer\n".encode() + "caf\xe9,4,4\n".encode("latin-1"))
    write("csv: ragged rows", "csv", 'prompt,completion,answer\n2+2=,4,4,5,6\n"unclosed,4\n')
    write("csv: empty", "csv", "")
    write("parquet: garbage", "parquet", b"PAR1" + bytes(100) + b"PAR1")
    write("parquet: truncated", "parquet", _parquet_bytes()[:40])
    path = folder / f"{len(cases):02d}.parquet"
    pl.DataFrame({"question": ["2+2="], "completion": ["4"], "answer": ["4"]}).write_parquet(path)
    cases.append(("parquet: no prompt column", "parquet", path))
    path = folder / f"{len(cases):02d}.parquet"
    pl.DataFrame({"prompt": ["2+2=", None], "completion": ["4", "5"], "answer": ["4", "5"]}).write_parquet(path)
    cases.append(("parquet: a null prompt", "parquet", path))
    return cases


def _parquet_bytes() -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame({"prompt": ["2+2="], "completion": ["4"], "answer": ["4"]}).write_parquet(buffer)
    return buffer.getvalue()


def _run(argv: list[str]) -> tuple[int, str, float]:
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code
        except BaseException as exc:  # noqa: BLE001 -- the point: nothing may escape
            code = f"escaped {type(exc).__name__}: {exc}"[:300]
    return code, out.getvalue() + err.getvalue(), time.perf_counter() - started


def _problem(name: str, code, text: str, seconds: float, file: Path) -> str | None:
    if code not in (0, 2):
        return f"{name}: exit {code!r}: {text[-300:]}"
    if "Traceback" in text:
        return f"{name}: a traceback"
    if code == 2 and (str(file) not in text and file.name not in text):
        return f"{name}: the message does not name the file: {text[:200]!r}"
    if seconds > 10:
        return f"{name}: {seconds:.1f} s"
    return None


def validate_corpus(folder: Path) -> tuple[dict[str, int], list[str], list[Path]]:
    """Counts of exit codes, problems, and the catalogs that validated."""
    counts, problems, passed = {"exit 2": 0, "valid": 0}, [], []
    for i, (name, text) in enumerate(catalog_mutations()):
        path = folder / f"c{i:04d}.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        code, output, seconds = _run(["validate", str(path)])
        if (problem := _problem(name, code, output, seconds, path)) is not None:
            problems.append(problem)
        elif code == 2:
            counts["exit 2"] += 1
        else:
            counts["valid"] += 1
            passed.append(path)
    return counts, problems, passed


def test_every_malformed_catalog_fails_cleanly(tmp_path):
    counts, problems, _ = validate_corpus(tmp_path)
    assert not problems, "\n".join(problems[:20])
    assert counts["exit 2"] >= 150, counts


def test_every_bad_data_file_fails_cleanly(tmp_path):
    problems, refused = [], 0
    for name, kind, path in data_files(tmp_path):
        catalog = tmp_path / f"{path.stem}-{kind}.yaml"
        catalog.write_text(DATA_CATALOG.replace("KIND", kind).replace("PATH", path.name), encoding="utf-8")
        code, output, seconds = _run(["plan", str(catalog)])
        if code != 2:
            problems.append(f"{name}: exit {code!r}: {output[-300:]}")
        elif (problem := _problem(name, code, output, seconds, path)) is not None:
            problems.append(problem)
        else:
            refused += 1
    assert not problems, "\n".join(problems)
    assert refused >= 20


@pytest.mark.slow
def test_what_validates_also_plans_and_trains_cleanly(tmp_path):
    """Mutations that validate: `plan` (each) and a 2-step `train` (every fourth: about 25 min in all on 2 cores)
    end in exit 0 or 2, never a traceback."""
    _, _, passed = validate_corpus(tmp_path)
    problems = []
    for i, path in enumerate(passed):
        train = ["train", str(path), "--steps", "2", "--no-progress", "--out", f"{path}.run", "evaluation.every=0"]
        for argv in [["plan", str(path)]] + ([train] if i % 4 == 0 else []):
            code, output, seconds = _run(argv)
            if code not in (0, 2) or "Traceback" in output:
                problems.append(f"{path.name} {argv[0]}: exit {code!r}: {output[-300:]}")
    assert not problems, "\n".join(problems[:20])


if __name__ == "__main__":  # the counts, for a note
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        counts, problems, passed = validate_corpus(Path(tmp))
        print(f"{sum(counts.values()) + len(problems)} catalogs: {counts}, problems {len(problems)}")
        for p in problems:
            print("  ", p)
        print(json.dumps({"data files": len(data_files(Path(tmp)))}))
