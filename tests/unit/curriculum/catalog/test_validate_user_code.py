"""`curriculum validate` runs no user code: a `python` source or reward is checked by finding its module's file
(`tasks.sources.find_function`), never by importing it; `validate --import` imports it, as `train` does.

Each module here leaves a file behind when it is imported, so the tests see whether its code ran."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from curriculum.catalog import check_catalog
from curriculum.cli import main
from tasks.sources import SourceError, find_function

pytestmark = pytest.mark.usefixtures("restore_sys_path")  # --import adds the catalog's folder to sys.path

_CATALOG = """\
name: user-code
model: {kind: builtin, name: tiny-base}
tasks:
  - id: rows
    kind: structured
    source: {kind: python, function: "DATA"}
    eval: {source: {kind: builtin, name: addition}}
    reward: {kind: python, function: "REWARD"}
schedule: {kind: chord}
"""
_LEAVES_A_FILE = 'from pathlib import Path\n(Path(__file__).parent / "{name}.ran").write_text("imported")\n'


@pytest.fixture()
def names(monkeypatch):
    """Module names no other test uses (an imported module stays in sys.modules); forgotten afterwards."""
    tag = uuid.uuid4().hex[:8]
    made = {"reward": f"reward_{tag}", "data": f"data_{tag}", "pkg": f"pkg_{tag}"}
    yield made
    for name in list(sys.modules):
        if name.split(".")[0] in made.values():
            del sys.modules[name]


def _write(folder: Path, names: dict, data: str | None = None, reward: str | None = None) -> Path:
    """A catalog in `folder` with a python data function and a python reward, each module leaving a file."""
    (folder / f"{names['reward']}.py").write_text(
        _LEAVES_A_FILE.format(name=names["reward"]) + "def score(completion, record):\n    return 1.0\n"
    )
    package = folder / names["pkg"]
    package.mkdir()
    (package / "__init__.py").write_text(_LEAVES_A_FILE.format(name=names["pkg"]))
    (package / f"{names['data']}.py").write_text(
        _LEAVES_A_FILE.format(name=names["data"])
        + "def rows(split, seed):\n    return [{'prompt': 'p', 'answer': '1'}]\n"
    )
    catalog = folder / "catalog.yaml"
    data = data or f"{names['pkg']}.{names['data']}:rows"
    catalog.write_text(_CATALOG.replace("DATA", data).replace("REWARD", reward or f"{names['reward']}:score"))
    return catalog


def _ran(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.rglob("*.ran"))


def test_validate_finds_the_modules_without_running_them(tmp_path, names, capsys):
    catalog = _write(tmp_path, names)
    assert main(["validate", str(catalog)]) == 0
    out = capsys.readouterr().out
    assert _ran(tmp_path) == []  # neither the reward module, nor the package's __init__, nor the data module ran
    assert f"tasks[0].source.function: {names['pkg']}.{names['data']}:rows: module found" in out
    assert f"tasks[0].reward.function: {names['reward']}:score: module found ({tmp_path / names['reward']}.py)" in out
    assert "the function itself was not imported" in out and "--import" in out
    assert not any(n in sys.modules for n in names.values())


def test_validate_import_runs_them_as_train_would(tmp_path, names, capsys):
    catalog = _write(tmp_path, names)
    assert main(["validate", "--import", str(catalog)]) == 0
    assert "not imported" not in capsys.readouterr().out
    assert _ran(tmp_path) == sorted([names["reward"], names["pkg"], names["data"]])


def test_a_missing_function_is_found_only_by_importing(tmp_path, names, capsys):
    catalog = _write(tmp_path, names, reward=f"{names['reward']}:no_such_function")
    assert check_catalog(catalog) == []  # the module is there; what it defines is unknown without running it
    (error,) = check_catalog(catalog, import_code=True)
    assert (error.line, error.path) == (8, "tasks[0].reward.function")
    assert "has no function 'no_such_function'" in error.message


@pytest.mark.parametrize(
    "function, path, words",
    [
        ("nowhere_xyz:score", "tasks[0].reward.function", "cannot find module 'nowhere_xyz' on the import path or in"),
        ("my-reward:score", "tasks[0].reward.function", "expected `package.module:function` (Python names)"),
        ("justamodule", "tasks[0].reward.function", "expected `package.module:function`"),
        ("REWARD.sub:score", "tasks[0].reward.function", "is a module, not a package"),
    ],
)
def test_a_module_that_cannot_be_found_is_an_error_at_its_line(tmp_path, names, capsys, function, path, words):
    catalog = _write(tmp_path, names, reward=function.replace("REWARD", names["reward"]))
    assert main(["validate", str(catalog)]) == 2
    err = capsys.readouterr().err
    assert f"{catalog}:8: {path}: " in err and words in err, err
    assert _ran(tmp_path) == []


def test_a_missing_submodule_of_a_package_is_found_without_running_the_package(tmp_path, names):
    catalog = _write(tmp_path, names, data=f"{names['pkg']}.absent:rows")
    (error,) = check_catalog(catalog)
    assert (error.line, error.path) == (6, "tasks[0].source.function")
    assert f"cannot find module '{names['pkg']}.absent'" in error.message
    assert _ran(tmp_path) == []


def test_find_function_knows_the_standard_library_and_the_working_directory(tmp_path, monkeypatch):
    assert find_function("json:loads").endswith("json/__init__.py")
    assert find_function("os.path:join").endswith(".py")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "here_mod_abc.py").write_text("raise SystemExit('must not run')\n")
    assert find_function("here_mod_abc:f") == str(tmp_path / "here_mod_abc.py")
    with pytest.raises(SourceError, match="cannot find module 'there_mod_abc'"):
        find_function("there_mod_abc:f", tmp_path / "elsewhere")
