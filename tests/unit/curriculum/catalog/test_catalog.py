"""Catalog validation: every broken catalog is reported as `file:line: yaml.path: message`, never a traceback.

Each `tests/fixtures/broken/*.yaml` is a one- or two-task catalog with ONE main problem, named by its first line:

    # expect: <line> <yaml.path> <substring of the message>

(`-` stands for "no line" or "the document root"). An optional second line `# xfail: <reason>` marks a
fixture that shows a known product bug; its tests are strict xfails, so they start failing once it is fixed.
`# flaky: <reason>` marks one whose report depends on the run (a non-strict xfail).
The tests at the end (`known bugs`) pin further product bugs the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from curriculum.catalog import check_catalog, load_catalog
from curriculum.cli import main
from trainer.config import TrainingSpec

REPO = Path(__file__).resolve().parents[4]
FIXTURES = REPO / "tests" / "fixtures"
BROKEN = sorted((FIXTURES / "broken").glob("*.yaml"))
DEMO = REPO / "catalogs" / "demo.yaml"

_EXPECT = re.compile(r"^# expect: (\S+) (\S+) (.+)$")
_MARK = re.compile(r"^# (xfail|flaky): (.+)$")


@dataclass(frozen=True)
class Expect:
    """What the `# expect:` header of a fixture promises."""

    line: int | None
    path: str
    message: str


def _expect(fixture: Path) -> Expect:
    first = fixture.read_text(encoding="utf-8").splitlines()[0]
    match = _EXPECT.match(first)
    assert match, f"{fixture.name}: first line must be '# expect: <line> <yaml.path> <message>', got {first!r}"
    line, path, message = match.groups()
    return Expect(None if line == "-" else int(line), "" if path == "-" else path, message.strip())


def _fixture_params() -> list:
    params = []
    for fixture in BROKEN:
        lines = fixture.read_text(encoding="utf-8").splitlines()
        mark = _MARK.match(lines[1]) if len(lines) > 1 else None
        marks = [pytest.mark.xfail(reason=mark.group(2), strict=mark.group(1) == "xfail")] if mark else []
        params.append(pytest.param(fixture, id=fixture.stem, marks=marks))
    return params


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


# --------------------------------------------------------------------------------------------------
# the broken fixtures


def test_there_are_enough_broken_fixtures():
    """The fixture folder holds at least 14 broken catalogs, each with a parseable `# expect:` header."""
    assert len(BROKEN) >= 14
    for fixture in BROKEN:
        _expect(fixture)


@pytest.mark.parametrize("fixture", _fixture_params())
def test_check_catalog_reports_the_expected_error(fixture: Path):
    """check_catalog finds the fixture's problem at the line and YAML path of its header, in this file."""
    expect = _expect(fixture)
    errors = check_catalog(fixture)
    assert errors, "a broken catalog must report at least one error"
    assert all(e.file == str(fixture) for e in errors), errors
    matching = [e for e in errors if e.line == expect.line and e.path == expect.path and expect.message in e.message]
    assert matching, f"no error like {expect} in:\n" + "\n".join(map(repr, errors))


@pytest.mark.parametrize("fixture", _fixture_params())
def test_cli_validate_reports_fixture(fixture: Path, capsys, monkeypatch):
    """`curriculum validate FILE` (in-process) exits 2 and prints file:line and the YAML path, no traceback."""
    expect = _expect(fixture)
    monkeypatch.chdir(REPO)
    rel = _rel(fixture)  # a short relative path, as a user types it
    code = main(["validate", rel])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert rel in err, err
    if expect.line is not None:
        assert f"{rel}:{expect.line}:" in err, err
    if expect.path:
        assert expect.path in err, err


# --------------------------------------------------------------------------------------------------
# valid catalogs, several errors, overrides, messages


@pytest.mark.parametrize("catalog", sorted((REPO / "catalogs").glob("*.yaml")), ids=lambda p: p.name)
def test_repo_catalogs_are_valid(catalog: Path):
    """Every catalog shipped in catalogs/ validates without a single error."""
    assert check_catalog(catalog) == []


def test_repo_has_catalogs():
    """The parametrized test above is not vacuous: catalogs/ has the demo."""
    assert DEMO.is_file()


def test_several_errors_are_reported_at_once():
    """Three unrelated problems (registry, graph, schema) in one file are all reported, each at its line."""
    fixture = FIXTURES / "three_problems.yaml"
    errors = check_catalog(fixture)
    found = {(e.line, e.path) for e in errors}
    assert found == {(14, "tasks[0].source.name"), (16, "tasks[0].requires[0]"), (20, "training.lrr")}, errors
    assert len(errors) == 3


def test_override_with_a_bad_value_is_blamed_on_the_command_line():
    """A bad override value is reported against "command line" at its YAML path, not against the file."""
    errors = check_catalog(DEMO, ["training.lr=abc"])
    assert [(e.file, e.line, e.path) for e in errors] == [("command line", None, "training.lr")], errors
    assert "abc" in errors[0].message


def test_override_sets_the_value():
    """A valid override is applied (YAML-typed) before validation."""
    assert load_catalog(DEMO, ["training.steps=7"]).training.steps == 7
    assert load_catalog(DEMO, ["tasks[1].weight=2.5"]).tasks[1].weight == 2.5


@pytest.mark.parametrize(
    "override, path, words",
    [
        ("tasks[x]=1", "tasks[x]", "bad key path"),
        ("training.steps", "training.steps", "key=value"),
        ("tasks[9].weight=2", "tasks[9].weight", "tasks has 6 items; no [9]"),
        ("name.first=1", "name.first", "name is not a mapping"),
    ],
)
def test_bad_override_is_reported_not_raised(override, path, words):
    """A malformed or unappliable override becomes a "command line" error; check_catalog does not raise."""
    errors = check_catalog(DEMO, [override])
    assert [(e.file, e.path) for e in errors] == [("command line", path)], errors
    assert words in errors[0].message


def test_unknown_key_lists_allowed_keys_and_suggests_the_close_match():
    """A typo'd key names the close match and every key allowed at that place."""
    (error,) = check_catalog(FIXTURES / "broken" / "unknown_key.yaml")
    assert "did you mean 'lr'?" in error.message
    listed = error.message.split("expected one of:", 1)[1]
    assert [k.strip() for k in listed.split(",")] == list(TrainingSpec.model_fields)


def test_unknown_key_inside_a_tagged_union_lists_that_members_keys():
    """Inside `reward: {kind: exact}` the allowed keys are those of ExactReward (the discriminator is honoured)."""
    (error,) = check_catalog(DEMO, ["tasks[0].reward={kind: exact, ignorecase: true}"])
    assert error.path == "tasks[0].reward.ignorecase"
    assert "did you mean 'ignore_case'?" in error.message
    assert "expected one of: kind, pattern, ignore_case" in error.message


# --------------------------------------------------------------------------------------------------
# regressions: each of these once failed

_TEMPLATE = """\
name: bug
model: {kind: builtin, name: tiny-base}
tasks:
  - id: a
    kind: structured
    source: SOURCE
    reward: {kind: builtin}
    requires: REQUIRES
schedule: SCHEDULE
"""


def _write(tmp_path: Path, source="{kind: builtin, name: addition}", requires="[]", schedule="{kind: chord}") -> Path:
    path = tmp_path / "bug.yaml"
    text = _TEMPLATE.replace("SOURCE", source).replace("REQUIRES", requires).replace("SCHEDULE", schedule)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("requires", ["[[b]]", "[{b: 1}]"])
def test_non_string_prerequisite_is_reported(tmp_path, requires):
    """`requires: [[b]]` is a schema error at tasks[0].requires[0], not a TypeError."""
    errors = check_catalog(_write(tmp_path, requires=requires))
    assert any(e.path == "tasks[0].requires[0]" for e in errors), errors


def test_non_string_builtin_name_is_reported(tmp_path):
    """`source: {kind: builtin, name: [addition]}` is a schema error at tasks[0].source.name, not a TypeError."""
    errors = check_catalog(_write(tmp_path, source="{kind: builtin, name: [addition]}"))
    assert any(e.path == "tasks[0].source.name" for e in errors), errors


def test_non_string_chord_preset_is_reported(tmp_path):
    """`preset: [chord-mu]` is a schema error at schedule.preset, not a TypeError."""
    errors = check_catalog(_write(tmp_path, schedule="{kind: chord, preset: [chord-mu]}"))
    assert any(e.path == "schedule.preset" for e in errors), errors


def test_missing_kind_lists_the_kinds():
    """A schedule without `kind` lists the schedule kinds."""
    errors = check_catalog(DEMO, ["schedule={mu: 0.5}"])
    (error,) = [e for e in errors if e.path == "schedule.kind"]
    assert "None" not in error.message and "sequential" in error.message, error


def test_override_creating_an_unknown_section_is_blamed_on_the_command_line():
    """`nosuch.key=1` creates an unknown top-level key: the error is the command line's, not demo.yaml's."""
    (error,) = check_catalog(DEMO, ["nosuch.key=1"])
    assert (error.file, error.path) == ("command line", "nosuch"), error


def test_bad_split_mapping_path_has_no_union_member_names(tmp_path):
    """`path: {train: 5}` is reported at tasks[0].source.path(.train), never at `...path.str`."""
    errors = check_catalog(_write(tmp_path, source="{kind: jsonl, path: {train: 5}}"))
    assert errors and not any(".str" in e.path for e in errors), errors


def test_duplicate_key_does_not_hide_other_errors(tmp_path):
    """A duplicate key is reported together with the file's other errors (here: an empty task list)."""
    path = tmp_path / "dup.yaml"
    path.write_text("name: a\nname: b\nmodel: {kind: builtin}\ntasks: []\nschedule: {kind: chord}\n", encoding="utf-8")
    assert {e.path for e in check_catalog(path)} == {"name", "tasks"}
