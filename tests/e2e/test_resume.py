"""Exact resume: a run stopped (in-process at two different steps, or SIGKILLed mid-step) and resumed
ends with the same weights and the same records as an uninterrupted run; a changed catalog or changed
data is refused with a message naming the change."""

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import torch
import yaml
from helpers import TINY, run_tables
from safetensors.torch import load_file

from curriculum.catalog import load_catalog
from curriculum.cli import main
from curriculum.run.loop import train
from curriculum.run.resume import resume_changes
from trainer.checkpoint import checkpoint_dirs

# eval every 2 steps and checkpoints only at the end, unless a test asks otherwise; 7 steps cover the
# chord warmup, decay and valley of the fixture
SETTINGS = ["training.steps=7", "evaluation.every=2", "training.checkpoint_every=0"]


def _train(out: Path, stop_at: int | None = None, resume: bool = False, extra: tuple[str, ...] = ()):
    catalog = load_catalog(TINY, [*SETTINGS, *extra])
    resolved = catalog.model_dump(mode="json")
    return train(catalog, resolved, TINY.parent, out, resume=resume, stop_at=stop_at)


def _final_weights(root: Path) -> dict:
    return load_file(checkpoint_dirs(root / "checkpoints")[-1] / "model" / "model.safetensors")


def _assert_same_run(a: Path, b: Path) -> None:
    wa, wb = _final_weights(a), _final_weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert (wa[key] == wb[key]).all(), key  # bit-identical, not merely close
    ra, rb = run_tables(a), run_tables(b)
    for name in ra:
        assert ra[name].equals(rb[name]), name


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full") / "run"
    _train(out)
    return out


@pytest.mark.parametrize("stop", [2, 5])
def test_stop_in_process_and_resume_equals_uninterrupted(uninterrupted, tmp_path, stop):
    out = tmp_path / "run"
    _train(out, stop_at=stop)
    assert [p.name for p in checkpoint_dirs(out / "checkpoints")] == [f"step-{stop:06d}"]
    assert pl.read_parquet(out / "steps.parquet")["step"].to_list() == list(range(stop))
    assert yaml.safe_load((out / "run.json").read_text())["status"] == "stopped"
    _train(out, resume=True)
    _assert_same_run(uninterrupted, out)


def test_resume_after_the_last_step_changes_nothing(uninterrupted, tmp_path):
    out = tmp_path / "run"
    _train(out, stop_at=3)
    _train(out, resume=True)
    before = run_tables(out)
    _train(out, resume=True)  # already at the end: no step runs, nothing is added
    after = run_tables(out)
    assert all(before[k].equals(after[k]) for k in before)
    _assert_same_run(uninterrupted, out)


def test_sigkill_mid_step_then_resume_equals_uninterrupted(uninterrupted, tmp_path):
    """A real `curriculum train` process, checkpointing every 2 steps, killed with SIGKILL while it
    trains past its first checkpoint; `curriculum train --resume` finishes it."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "curriculum", "train", str(TINY), "--out", str(out), "--no-progress", *SETTINGS]
    cmd += ["training.checkpoint_every=2", "training.keep_checkpoints=5"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not (out / "checkpoints" / "step-000002").is_dir():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "no checkpoint within 2 minutes"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = [int(p.name.split("-")[1]) for p in checkpoint_dirs(out / "checkpoints")]
    assert 2 <= max(done) < 7, done  # killed before the end
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    _assert_same_run(uninterrupted, out)


def test_resume_refuses_a_changed_catalog(tmp_path, capsys):
    out = tmp_path / "run"
    _train(out, stop_at=2)
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "tasks[1].weight=2"]) == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and "task word reweighted: 0.5 -> 2" in err
    # a catalog file with a task removed
    data = yaml.safe_load((out / "catalog.yaml").read_text())
    data["tasks"] = data["tasks"][:1]
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data))
    assert main(["train", str(changed), "--resume", str(out)]) == 2
    assert "task word removed" in capsys.readouterr().err
    # nothing was trained by the refused resumes
    assert pl.read_parquet(out / "steps.parquet")["step"].to_list() == [0, 1]


def test_resume_may_extend_the_run(tmp_path):
    out = tmp_path / "run"
    _train(out)
    assert main(["train", "--resume", str(out), "--no-progress", "--steps", "9"]) == 0
    assert pl.read_parquet(out / "steps.parquet")["step"].to_list() == list(range(9))
    assert yaml.safe_load((out / "catalog.yaml").read_text())["training"]["steps"] == 9


def test_resume_changes_names_each_change():
    saved = {
        "seed": 1,
        "tasks": [{"id": "a", "weight": 1.0}, {"id": "b", "weight": 1.0}],
        "training": {"steps": 10, "lr": 0.1},
    }
    new = {
        "seed": 2,
        "tasks": [{"id": "a", "weight": 3.0}, {"id": "c", "weight": 1.0}],
        "training": {"steps": 20, "lr": 0.1},
    }
    assert resume_changes(saved, new) == [
        "seed changed: 1 -> 2",
        "task a reweighted: 1.0 -> 3.0",
        "task b removed",
        "task c added",
    ]  # training.steps may change: not listed
    assert resume_changes(saved, saved) == []


def test_resume_refuses_changed_data(tmp_path, capsys):
    data = tmp_path / "qa.jsonl"
    rows = [{"prompt": f"{i}+1=", "completion": str(i + 1), "answer": str(i + 1)} for i in range(20)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    catalog = {
        "name": "files",
        "seed": 0,
        "model": {"kind": "builtin", "name": "tiny-base"},
        "tasks": [
            {
                "id": "qa",
                "kind": "structured",
                "source": {"kind": "jsonl", "path": "qa.jsonl"},
                "eval": {"split": "train", "size": 4},
                "reward": {"kind": "exact"},
            }
        ],
        "schedule": {"kind": "constant", "mu": 0.5, "sft_batch": 2, "rl_batch": 2},
        "training": {"steps": 4, "rollout": {"group_size": 2, "max_new_tokens": 4}},
        "evaluation": {"every": 0},
    }
    path = tmp_path / "files.yaml"
    path.write_text(yaml.safe_dump(catalog))
    out = tmp_path / "run"
    assert main(["train", str(path), "--out", str(out), "--no-progress", "training.steps=4"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--no-progress", "--steps", "6"]) == 0
    assert "resuming" in capsys.readouterr().out  # unchanged data: it resumes
    data.write_text(data.read_text().replace('"3+1="', '"3+2="'))
    assert main(["train", "--resume", str(out), "--steps", "8"]) == 2
    assert "data of task(s) qa differs" in capsys.readouterr().err


def test_bwt_order_run_resumes_without_probing_again(tmp_path):
    """The order and the probe's measurements are scheduler state: a resumed bwt_order run does not probe
    again (no second order.json write) and ends as the uninterrupted run."""
    order = ('schedule.order={"kind": "bwt_order", "probe_steps": 2}',)
    _train(tmp_path / "full", extra=order)
    out = tmp_path / "run"
    _train(out, stop_at=4, extra=order)
    written = (out / "order.json").stat().st_mtime_ns
    _train(out, resume=True, extra=order)
    assert (out / "order.json").stat().st_mtime_ns == written
    _assert_same_run(tmp_path / "full", out)


def test_resume_refuses_new_steps_for_task_stages(tmp_path, capsys):
    order = 'schedule.order={"kind": "kind_first"}'
    out = tmp_path / "run"
    _train(out, stop_at=2, extra=(order,))
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--steps", "9"]) == 2  # stage lengths would change
    assert "task stages split training.steps" in capsys.readouterr().err
    # a run with no checkpoint starts again in place: tests/e2e/test_stops_and_checkpoints.py


def test_resume_refuses_a_checkpoint_of_another_format(tmp_path, capsys):
    """A checkpoint whose extra state is not the one this engine writes (an older run) is refused with a
    message, not a KeyError; nothing is trained."""
    out = tmp_path / "run"
    _train(out, stop_at=2)
    [ckpt] = checkpoint_dirs(out / "checkpoints")
    state = torch.load(ckpt / "state.pt", weights_only=False)
    state["extra"].pop("format")
    torch.save(state, ckpt / "state.pt")
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--no-progress"]) == 2
    assert "written by another version" in capsys.readouterr().err
    assert pl.read_parquet(out / "steps.parquet")["step"].to_list() == [0, 1]


def test_a_setting_added_to_the_engine_later_is_not_a_change():
    """A run folder saved before `training.dropout` existed resumes (and an experiment skips it): the saved
    catalog takes the new setting's default; a real change is still named."""
    resolved = load_catalog(TINY).model_dump(mode="json")
    saved = copy.deepcopy(resolved)
    del saved["training"]["dropout"]
    del saved["experiment"]
    assert resume_changes(saved, resolved) == []
    changed = copy.deepcopy(resolved)
    changed["training"]["dropout"] = True
    assert resume_changes(saved, changed) == ["training.dropout changed: False -> True"]


def test_a_resume_takes_the_thread_count_the_run_started_with(tmp_path):
    """CPU kernels round differently with another thread count: a run started with 1 thread and resumed in a
    process with torch's default (2 here) goes on with 1 and ends as the uninterrupted 1-thread run; the
    process's own count is back afterwards. Asking for another count on resume says it will differ."""
    from curriculum.run.display import Silent

    lines = []

    class Recorder(Silent):
        def line(self, text: str) -> None:
            lines.append(text)

    default = torch.get_num_threads()
    catalog = load_catalog(TINY, SETTINGS)
    resolved = catalog.model_dump(mode="json")
    train(catalog, resolved, TINY.parent, tmp_path / "one", threads=1)
    assert json.loads((tmp_path / "one" / "run.json").read_text())["threads"] == 1
    assert torch.get_num_threads() == default
    train(catalog, resolved, TINY.parent, tmp_path / "stopped", threads=1, stop_at=3)
    train(catalog, resolved, TINY.parent, tmp_path / "stopped", Recorder(), resume=True)
    assert any("resuming with 1 threads, as the run started" in line for line in lines)
    _assert_same_run(tmp_path / "one", tmp_path / "stopped")
    assert torch.get_num_threads() == default
    if default > 1:  # the 2-thread run rounds differently: the threads are what made the resume exact
        train(catalog, resolved, TINY.parent, tmp_path / "two")
        a, b = _final_weights(tmp_path / "one"), _final_weights(tmp_path / "two")
        assert any(not torch.equal(a[k], b[k]) for k in a)
