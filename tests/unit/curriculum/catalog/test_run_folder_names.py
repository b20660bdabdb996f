"""A catalog's `name` names its default run folder (`runs/<name>-<time>` in curriculum.run.loop.default_out,
`runs/<name>-experiment` in curriculum.cli.experiment), so it must be a plain file name: a `/`, `\\`, `..` or an
absolute path would put the run folder outside the folder the user chose (fixtures: broken/name_is_*.yaml)."""

import json

import pytest
from helpers import TINY
from pydantic import ValidationError

from curriculum.catalog import check_catalog
from curriculum.catalog.experiment import ArmSpec

HOSTILE = [
    "../escape",
    "../../etc/cron.d/x",
    "/tmp/abs",
    "a/b",
    "a\\b",
    "..",
    ".",
    ".hidden",
    "-rf",
    "",
    "ok\n",
    "C:evil",
    "x" * 101,
    "tab\tname",
    "caf\u00e9",
]


@pytest.mark.parametrize("name", HOSTILE, ids=repr)
def test_a_name_that_is_not_a_plain_file_name_is_refused(name):
    (error,) = check_catalog(TINY, ["name=" + _yaml_str(name)])
    assert error.path == "name"
    assert "cannot name a run folder" in error.message and "letters, digits, _ . - only" in error.message


@pytest.mark.parametrize("name", ["tiny", "qwen-math-writing", "run_2.v3", "A1", "_x", "x" * 100])
def test_a_plain_name_is_accepted_and_its_run_folder_stays_under_runs(name, tmp_path):
    assert check_catalog(TINY, ["name=" + _yaml_str(name)]) == []
    runs = tmp_path / "runs"
    for folder in (runs / f"{name}-20250101-120000", runs / f"{name}-experiment"):  # as the two commands build them
        assert folder.resolve().parent == runs.resolve()


def test_an_arm_name_with_a_trailing_newline_is_refused():
    """`re.match(r"...$")` let "arm\\n" through (`$` matches before a final newline); arm names are folders too."""
    with pytest.raises(ValidationError, match="letters, digits"):
        ArmSpec(name="mine\n")
    assert ArmSpec(name="mine").name == "mine"


def _yaml_str(text: str) -> str:
    """`text` as a YAML double-quoted scalar (JSON strings are YAML)."""
    return json.dumps(text)
