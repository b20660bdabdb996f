"""YAML loading is bounded (curriculum.catalog.yamlio): a recursive alias, a "billion laughs", 10,000 levels of
nesting and a huge file each end in one error naming the line and the limit, exit 2, in well under 2 s; never a
RecursionError, a MemoryError or a hang. The hostile files are fixtures (`broken/yaml_*.yaml`, whose `# expect:`
headers test_catalog.py checks too); the huge ones are written here."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers import FIXTURES, REPO, TINY

from curriculum.catalog import CatalogInvalid, check_catalog, load_catalog
from curriculum.catalog.yamlio import MAX_BYTES, MAX_DEPTH, MAX_NODES, MAX_SHOWN, load_with_lines, parse_yaml
from curriculum.cli import main

BROKEN = FIXTURES / "broken"
HOSTILE = {
    "yaml_recursive_alias.yaml": (11, "alias *me is inside the node &me it repeats"),
    "yaml_billion_laughs.yaml": (18, f"alias *l3 expands past {MAX_NODES:,} keys, values and items (the limit"),
    "yaml_deep_lists.yaml": (5, f"nested deeper than {MAX_DEPTH} levels of mappings and lists (the limit)"),
    "yaml_deep_mappings.yaml": (5, f"nested deeper than {MAX_DEPTH} levels of mappings and lists (the limit)"),
    "yaml_undefined_alias.yaml": (10, "alias *addition has no anchor &addition before it"),
}


def _validate(path: str, capsys) -> tuple[int, str, float]:
    start = time.perf_counter()
    code = main(["validate", path])
    return code, capsys.readouterr().err, time.perf_counter() - start


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_file_is_one_error_at_its_line_within_two_seconds(name, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    rel = str((BROKEN / name).relative_to(REPO))
    line, message = HOSTILE[name]
    code, err, seconds = _validate(rel, capsys)
    assert code == 2 and "Traceback" not in err and "RecursionError" not in err
    assert f"error: {rel}: 1 error" in err
    assert f"{rel}:{line}: {message}" in err, err
    assert seconds < 2.0


def test_the_billion_laughs_file_is_small():
    """The point of the fixture: 1 KB of text that would expand to a billion strings."""
    assert (BROKEN / "yaml_billion_laughs.yaml").stat().st_size < 2_000


def test_a_huge_file_is_refused_before_it_is_read_whole(tmp_path, capsys):
    huge = tmp_path / "huge.yaml"
    with huge.open("w", encoding="utf-8") as fh:  # valid YAML, 12 MB: one list item per line
        fh.write("name: x\nitems:\n")
        fh.writelines("  - 1234567890\n" for _ in range(800_000))
    assert huge.stat().st_size > MAX_BYTES
    code, err, seconds = _validate(str(huge), capsys)
    assert code == 2 and "Traceback" not in err
    assert f"{huge}: larger than 10 MB, the limit for a catalog" in err
    assert seconds < 2.0


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_an_endless_file_is_refused_not_read_forever(capsys):
    code, err, seconds = _validate("/dev/zero", capsys)
    assert code == 2 and "larger than 10 MB" in err and seconds < 2.0


def test_a_file_just_under_the_node_limit_parses_and_one_over_is_refused():
    """Root mapping, its key and the list count too: 3 nodes + the items."""
    items = MAX_NODES - 3
    text = "items: [" + ", ".join(["1"] * items) + "]\n"
    data, _, _ = load_with_lines(text, "f.yaml")
    assert len(data["items"]) == items
    with pytest.raises(CatalogInvalid, match=f"past {MAX_NODES:,} keys, values and items"):
        load_with_lines(text.replace("[1,", "[1, 1,"), "f.yaml")


def test_nesting_at_the_limit_parses_and_one_deeper_is_refused():
    """The root mapping is level 1."""
    ok = MAX_DEPTH - 1
    data, _ = parse_yaml("a: " + "[" * ok + "]" * ok, "f.yaml")
    depth, node = 1, data["a"]
    while isinstance(node, list):
        depth, node = depth + 1, node[0] if node else None
    assert depth == MAX_DEPTH
    with pytest.raises(CatalogInvalid, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_yaml("a: " + "[" * (ok + 1) + "]" * (ok + 1), "f.yaml")


def test_an_alias_counts_the_depth_it_stands_for():
    """Fifty levels named once and repeated under fifty more levels is a hundred and one levels."""
    anchor = "&deep " + "[" * 50 + "]" * 50
    text = f"a: {anchor}\nb: " + "[" * 50 + "*deep" + "]" * 50
    with pytest.raises(CatalogInvalid, match="alias \\*deep nests deeper than 100 levels"):
        parse_yaml(text, "f.yaml")


def test_ordinary_anchors_and_merge_keys_still_work():
    text = "base: &b {lr: 0.1, steps: 3}\none: {<<: *b, steps: 4}\ntwo: *b\n"
    data, _ = parse_yaml(text, "f.yaml")
    assert data["one"] == {"lr": 0.1, "steps": 4} and data["two"] == {"lr": 0.1, "steps": 3}


def test_python_tags_are_refused_and_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (error,) = check_catalog(BROKEN / "yaml_python_tag.yaml")
    assert error.line == 2 and "python/object/apply:os.system" in error.message
    assert "plain YAML values only" in error.message
    assert not (tmp_path / "pwned.txt").exists()


def test_an_override_value_is_bounded_too():
    (error,) = check_catalog(TINY, ["training.grpo=&g {x: *g}"])
    assert (error.file, error.path) == ("command line", "training.grpo")
    assert "alias *g is inside the node &g it repeats" in error.message


def test_thousands_of_errors_print_the_first_fifty_and_a_count(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text("name: x\n" + "".join(f"unknown_{i}: 1\n" for i in range(200)), encoding="utf-8")
    with pytest.raises(CatalogInvalid) as info:
        load_catalog(path)
    assert len(info.value.errors) > 200  # every error is kept
    lines = info.value.lines
    assert lines[0] == f"{path}: {len(info.value.errors)} errors"
    assert len(lines) == 1 + MAX_SHOWN + 1
    assert lines[-1] == f"... and {len(info.value.errors) - MAX_SHOWN} more"


def test_the_fixture_headers_match_these_expectations():
    for name, (line, _) in HOSTILE.items():
        header = Path(BROKEN / name).read_text(encoding="utf-8").splitlines()[0]
        assert header.startswith(f"# expect: {line} - "), (name, header)
