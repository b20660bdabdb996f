"""A stopped or broken run is never lost: SIGTERM and SIGINT end a run with a checkpoint of its last step
(resumed, it equals an uninterrupted run bit for bit); a tampered, truncated, zeroed or missing checkpoint
file is skipped with its reason and the resume falls back to the one before; a checkpoint write that fails
leaves the previous checkpoint and no temporary folder; a run stopped before its first checkpoint starts
again in place; a pickle in a run folder never runs."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import REPO, TINY, run_tables
from safetensors.torch import load_file

from curriculum.catalog import load_catalog
from curriculum.run.display import Silent
from curriculum.run.loop import train
from trainer.checkpoint import CheckpointError, checkpoint_dirs

SETTINGS = ["training.steps=6", "evaluation.every=3", "training.checkpoint_every=3", "training.keep_checkpoints=3"]


class Lines(Silent):
    def __init__(self):
        self.lines = []

    def line(self, text: str) -> None:
        self.lines.append(text)


def _train(out: Path, resume: bool = False, display=None, extra=()):
    catalog = load_catalog(TINY, [*SETTINGS, *extra])
    return train(catalog, catalog.model_dump(mode="json"), TINY.parent, out, display, resume=resume)


def _weights(root: Path) -> dict:
    return load_file(checkpoint_dirs(root / "checkpoints")[-1] / "model" / "model.safetensors")


def _assert_same_run(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys() and all(bool((wa[k] == wb[k]).all()) for k in wa)
    ta, tb = run_tables(a), run_tables(b)
    assert all(ta[name].equals(tb[name]) for name in ta)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full") / "run"
    _train(out)
    return out


class _Payload:
    """Unpickled, it would create a file: the proof that a run folder's pickle ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_tampered_pickle_does_not_run_and_the_resume_falls_back(uninterrupted, tmp_path):
    out = tmp_path / "run"
    _train(out, extra=("training.steps=6",))
    latest = checkpoint_dirs(out / "checkpoints")[-1]
    marker = tmp_path / "pwned"
    with open(latest / "optimizer.pt", "wb") as f:
        pickle.dump({"state": _Payload(marker)}, f)
    lines = Lines()
    _train(out, resume=True, display=lines)
    assert not marker.exists()  # the payload never ran
    assert any("step-000006 skipped" in t and "not loaded (a tampered or foreign file)" in t for t in lines.lines)
    assert (out / "checkpoints" / "skipped-step-000006").is_dir()  # kept for a look, out of the rotation
    assert any("resuming" in t and "at step 3" in t for t in lines.lines)
    _assert_same_run(out, uninterrupted)  # from step 3 to 6 again: the same run


@pytest.mark.parametrize("damage", ["truncate", "zero", "delete"])
def test_a_damaged_latest_checkpoint_is_skipped(uninterrupted, tmp_path, damage):
    out = tmp_path / "run"
    _train(out)
    target = checkpoint_dirs(out / "checkpoints")[-1] / "model" / "model.safetensors"
    data = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(data[: len(data) // 2])
    elif damage == "zero":
        target.write_bytes(bytes(len(data)))
    else:
        target.unlink()
    lines = Lines()
    _train(out, resume=True, display=lines)
    assert any("step-000006 skipped" in t and "model" in t for t in lines.lines), lines.lines
    _assert_same_run(out, uninterrupted)


def test_non_finite_weights_in_a_checkpoint_are_skipped_and_none_usable_is_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    out = tmp_path / "run"
    _train(out, extra=("training.steps=3",))
    (only,) = checkpoint_dirs(out / "checkpoints")
    path = only / "model" / "model.safetensors"
    weights = load_file(path)
    first = next(iter(weights))
    weights[first][0] = float("nan")
    save_file(weights, path, metadata={"format": "pt"})
    with pytest.raises(CheckpointError) as info:
        _train(out, resume=True, extra=("training.steps=3",))
    text = str(info.value)
    assert "no usable checkpoint" in text and "non-finite weights" in text and first in text


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    """The second checkpoint's optimizer write fails as on a full disk: the run fails with the reason, the step-3
    checkpoint stays, no temporary folder is left, and run.json says failed."""
    import errno

    out = tmp_path / "run"
    real_save, calls = torch.save, []

    def full_disk(obj, f, *args, **kwargs):
        calls.append(str(f))
        if "step-000006" in str(f):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CheckpointError) as info:
        _train(out)
    assert "No space left on device" in str(info.value) and "step-000003) is intact" in str(info.value)
    assert [p.name for p in checkpoint_dirs(out / "checkpoints")] == ["step-000003"]
    assert not list((out / "checkpoints").glob(".tmp-*"))
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "failed" and "No space left" in run["error"]
    monkeypatch.setattr(torch, "save", real_save)
    _train(out, resume=True)  # space again: it resumes and finishes
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


def test_a_run_stopped_before_its_first_checkpoint_starts_again_in_place(uninterrupted, tmp_path):
    out = tmp_path / "run"
    _train(out)
    for folder in checkpoint_dirs(out / "checkpoints"):  # as if killed before its first checkpoint
        import shutil

        shutil.rmtree(folder)
    lines = Lines()
    _train(out, resume=True, display=lines)
    assert any("no checkpoint yet" in t and "starting it again at step 0" in t for t in lines.lines)
    _assert_same_run(out, uninterrupted)


def _signal_run(out: Path, signum: int, wait_for_steps: int = 2) -> subprocess.CompletedProcess:
    """`curriculum train` in a subprocess; `signum` once it has written a step past the first checkpoint."""
    cmd = [sys.executable, "-m", "curriculum", "train", str(TINY), *SETTINGS, "--out", str(out), "--no-progress"]
    cmd += ["training.checkpoint_every=0"]  # so only the stop's checkpoint (and the end's) can exist
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        info = out / "run.json"
        # status running: the model is loaded and the loop (with its handlers) starts within milliseconds
        if info.is_file() and json.loads(info.read_text() or "{}").get("status") == "running":
            time.sleep(0.1)
            break
        time.sleep(0.2)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_run_with_a_checkpoint_and_resume_is_exact(uninterrupted, tmp_path, signum):
    out = tmp_path / "run"
    done = _signal_run(out, signum)
    info = json.loads((out / "run.json").read_text())
    if info["status"] == "finished":
        pytest.skip("the run finished before the signal arrived")
    assert done.returncode == 128 + signum, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    name = signal.Signals(signum).name
    assert info["status"] == "stopped" and info["stopped_by"] == name
    assert f"stopped by {name} after step {info['steps']}" in done.stdout
    assert f"curriculum train --resume {out}" in done.stdout
    assert checkpoint_dirs(out / "checkpoints")[-1].name == f"step-{info['steps']:06d}"
    _train(out, resume=True, extra=("training.checkpoint_every=0",))
    ours, theirs = run_tables(out), run_tables(uninterrupted)
    assert all(ours[name].equals(theirs[name]) for name in ours)
    final, reference = _weights(out), _weights(uninterrupted)
    assert all(bool((final[k] == reference[k]).all()) for k in final)


def test_a_signal_during_the_last_step_lets_the_run_finish(tmp_path):
    """SIGTERM while the last step is recorded: nothing is left to stop, so the run is finished, not stopped."""

    class SignalAtLastStep(Silent):
        def step(self, record) -> None:
            if record.step == 5:
                signal.raise_signal(signal.SIGTERM)

    out = tmp_path / "run"
    _train(out, display=SignalAtLastStep())
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "finished" and "stopped_by" not in info


def test_a_signal_mid_run_in_process_stops_after_that_step(tmp_path):
    class SignalAtStep2(Silent):
        def step(self, record) -> None:
            if record.step == 1:
                signal.raise_signal(signal.SIGINT)

    out = tmp_path / "run"
    _train(out, display=SignalAtStep2())
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "stopped" and info["stopped_by"] == "SIGINT" and info["steps"] == 2
    assert [p.name for p in checkpoint_dirs(out / "checkpoints")] == ["step-000002"]
