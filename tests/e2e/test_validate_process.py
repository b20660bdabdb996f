"""`curriculum validate` as a user runs it: a separate process, piped output, any hash seed."""

import os
import subprocess
import sys

from helpers import FIXTURES, REPO

from curriculum.catalog import check_catalog


def _rel(path):
    return str(path.relative_to(REPO))


def _expected_line(fixture) -> int:
    """The line of the fixture's `# expect:` header."""
    return int(fixture.read_text(encoding="utf-8").splitlines()[0].split()[2])


def test_cli_validate_in_a_subprocess():
    """`python -m curriculum validate FILE` exits 2 with the error on stderr and no traceback."""
    fixture = FIXTURES / "broken" / "unknown_builtin_task.yaml"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "curriculum", "validate", _rel(fixture)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{_rel(fixture)}:{_expected_line(fixture)}:" in proc.stderr
    assert "multiply" in proc.stderr


def test_cycle_report_does_not_depend_on_the_hash_seed():
    """The prerequisite-cycle error is the same whatever PYTHONHASHSEED is (same catalog, same report)."""
    fixture = FIXTURES / "broken" / "prerequisite_cycle.yaml"
    script = "import sys\nfrom curriculum.catalog import check_catalog\nprint(check_catalog(sys.argv[1]))"
    reports = set()
    for seed in ("0", "1", "2", "3"):
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", script, str(fixture)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr
        reports.add(proc.stdout)
    assert len(reports) == 1, reports


def test_cli_prints_each_error_on_one_line():
    """Piped `curriculum validate` output keeps each error on one `file:line: yaml.path: message` line."""
    fixture = FIXTURES / "broken" / "unknown_key.yaml"
    (error,) = check_catalog(fixture)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | {"PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "curriculum", "validate", _rel(fixture)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    expected = f"{_rel(fixture)}:{error.line}: {error.path}: {error.message}"
    assert expected in proc.stderr.splitlines(), proc.stderr


def test_validate_ls_and_help_do_not_import_torch_or_transformers():
    """The light commands stay light: importing torch and transformers costs seconds they do not need."""
    import subprocess
    import sys

    from helpers import DEMO

    for args in (["validate", str(DEMO)], ["ls"], ["plan", "--help"]):
        code = (
            "import sys\nfrom curriculum.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
            "assert not heavy, heavy"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stderr[-500:])
