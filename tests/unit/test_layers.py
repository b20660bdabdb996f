"""The floors of the house (ARCHITECTURE.md): imports only point down, and no module imports itself in a
circle. Read with `ast` from the source, so an import inside a function counts as much as one at the top
(an `importlib.import_module("...")` string is not an import statement and is not seen).

    leaf        curriculum.{seeding, errors, spec, records}, curriculum.signals    nothing else of ours
    components  tasks, schedulers, trainer                                         leaves, themselves
    catalog     curriculum.catalog                                                 + components
    run         curriculum.run                                                     + catalog
    report      curriculum.report                                                  + run (reads run folders)
    bench       curriculum.bench                                                   + run, report, views (it times them)
    views       curriculum.views                                                   leaves only: data in, pictures out
    cli         curriculum.cli, curriculum.__main__                                anything
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("curriculum", "tasks", "schedulers", "trainer")
COMPONENTS = {"tasks", "schedulers", "trainer"}
# floor -> the floors it may import
ALLOWED: dict[str, set[str]] = {
    "leaf": {"leaf"},
    "tasks": {"leaf", "tasks"},
    "schedulers": {"leaf", "schedulers"},
    "trainer": {"leaf", "trainer"},
    "catalog": {"leaf", *COMPONENTS, "catalog"},
    "run": {"leaf", *COMPONENTS, "catalog", "run"},
    "report": {"leaf", *COMPONENTS, "catalog", "run", "report"},
    "bench": {"leaf", *COMPONENTS, "catalog", "run", "report", "views", "bench"},
    "experiment": {"leaf", *COMPONENTS, "catalog", "run", "report", "experiment"},
    "views": {"leaf", "views"},
    "cli": {"leaf", *COMPONENTS, "catalog", "run", "report", "bench", "experiment", "views", "cli"},
}
LEAVES = (
    "curriculum.seeding",
    "curriculum.errors",
    "curriculum.spec",
    "curriculum.records",
    "curriculum.compute",
    "curriculum.signals",
)


def floor(module: str) -> str:
    """The floor of one of our modules (dotted name)."""
    parts = module.split(".")
    if parts[0] in COMPONENTS:
        return parts[0]
    if module == "curriculum" or ".".join(parts[:2]) in LEAVES:
        return "leaf"
    if module == "curriculum.__main__":
        return "cli"
    if parts[1] not in ALLOWED or parts[1] in COMPONENTS or parts[1] == "leaf":
        raise AssertionError(f"{module}: on no floor; put it in one of curriculum's sub-packages (ARCHITECTURE.md)")
    return parts[1]


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module of our packages under `root`."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports(path: Path, name: str, known: set[str]) -> list[tuple[int, str]]:
    """(line, module) of every import of one of our modules in the file of module `name`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package upwards
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from tasks import builtin` imports the module tasks.builtin
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a non-module attribute: its module
                target = target.rpartition(".")[0]
            if target and target.split(".")[0] in PACKAGES:
                found.append((node.lineno, target))
    return found


def violations(root: Path) -> tuple[list[str], list[str]]:
    """(upward or sideways imports, import circles), each said as `file:line: ...`."""
    mods = modules(root)
    known = set(mods)
    graph = nx.DiGraph()
    bad = []
    for name, path in mods.items():
        graph.add_node(name)
        here = floor(name)
        for line, target in imports(path, name, known):
            rel = path.relative_to(root)
            if target == name:
                continue
            graph.add_edge(name, target, line=line)
            there = floor(target)
            if there not in ALLOWED[here]:
                may = ", ".join(sorted(ALLOWED[here]))
                bad.append(f"{rel}:{line}: {name} ({here}) imports {target} ({there}); {here} may import: {may}")
    circles = []
    for cycle in nx.simple_cycles(graph):
        path = mods[cycle[0]].relative_to(root)
        line = graph.edges[cycle[0], cycle[1 % len(cycle)]]["line"]
        circles.append(f"{path}:{line}: import circle {' -> '.join([*cycle, cycle[0]])}")
    return bad, circles


def test_imports_point_down_and_never_in_a_circle():
    bad, circles = violations(REPO)
    assert not bad, "imports that do not point down:\n" + "\n".join(bad)
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_every_module_is_on_a_floor():
    """A new module outside the floors is an error, not silently allowed."""
    for name in modules(REPO):
        assert floor(name) in ALLOWED


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    return tmp_path


def test_the_guard_fails_on_an_upward_import_naming_file_and_line(tmp_path):
    """The check itself can fail: a component that imports the orchestration, or a view that imports the
    trainer, is named with its file and line."""
    root = _tree(
        tmp_path,
        {
            "curriculum/run/__init__.py": "",
            "curriculum/run/loop.py": "import tasks.build\n",
            "curriculum/views/__init__.py": "",
            "curriculum/views/plan.py": "x = 1\nfrom trainer import step\n",
            "tasks/build.py": "\n\ndef f():\n    from curriculum.run.loop import train\n",
            "trainer/step.py": "",
        },
    )
    bad, _ = violations(root)
    assert any(
        b.startswith(str(Path("tasks/build.py")) + ":4: tasks.build (tasks) imports curriculum.run.loop") for b in bad
    ), bad
    assert any(
        b.startswith(str(Path("curriculum/views/plan.py")) + ":2: curriculum.views.plan (views)") for b in bad
    ), bad
    assert len(bad) == 2, bad  # run -> tasks is allowed


def test_the_guard_fails_on_an_import_circle(tmp_path):
    root = _tree(
        tmp_path,
        {
            "schedulers/registry.py": "from schedulers import chord\n",
            "schedulers/chord.py": "from schedulers.registry import scheduler\n",
        },
    )
    bad, circles = violations(root)
    assert not bad
    assert len(circles) == 1 and "import circle" in circles[0], circles
    assert "schedulers.chord" in circles[0] and "schedulers.registry" in circles[0]
