"""A user reward cannot take the run down with it: raising, exiting, hanging, or returning None, NaN, inf, a
string or the wrong number of scores ends the run with one message naming the task and the prompt (exit 2),
run.json says failed, the last checkpoint stays, and once the reward is fixed the resume equals a run that
never failed."""

import json
import math
from pathlib import Path

import pytest
from helpers import TINY, run_tables

from curriculum.cli import main
from curriculum.run import stream as stream_module
from curriculum.run.stream import RewardFailed, _grade
from tasks.base import Record
from trainer.checkpoint import checkpoint_dirs

REWARD = """
import os, sys, time

CALLS = [0]


def score(completion, record):
    CALLS[0] += 1
    mode = os.environ.get("REWARD_MODE", "ok")
    if mode != "ok" and CALLS[0] > int(os.environ.get("REWARD_AFTER", "0")):
        if mode == "raise":
            raise ValueError("no score for this one")
        if mode == "exit":
            sys.exit(0)
        if mode == "hang":
            while True:
                time.sleep(0.01)
        return {"nan": float("nan"), "inf": float("inf"), "none": None, "text": "1.0"}[mode]
    return float(len(completion) % 3 == 0)
"""


def _catalog(tmp_path: Path) -> Path:
    (tmp_path / "rew.py").write_text(REWARD, encoding="utf-8")
    path = tmp_path / "tiny.yaml"
    text = TINY.read_text(encoding="utf-8")
    python = 'reward: {kind: python, function: "rew:score"}\n    weight: 0.5'
    path.write_text(text.replace("reward: {kind: builtin}\n    weight: 0.5", python), encoding="utf-8")
    assert 'function: "rew:score"' in path.read_text()
    return path


ARGS = ["training.steps=6", "evaluation.every=3", "training.checkpoint_every=3", "--no-progress"]


@pytest.mark.parametrize(
    "mode, words",
    [
        ("raise", "raised ValueError: no score for this one"),
        ("exit", "raised SystemExit"),
        ("nan", "returned nan"),
        ("inf", "returned inf"),
        ("none", "returned None"),
        ("text", "returned '1.0'"),
    ],
)
def test_a_faulty_reward_stops_the_run_with_the_task_and_prompt(tmp_path, monkeypatch, capsys, mode, words):
    catalog = _catalog(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("REWARD_MODE", mode)
    monkeypatch.setenv("REWARD_AFTER", "0")
    out = tmp_path / "run"
    assert main(["train", str(catalog), *ARGS, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "task word: the reward on prompt" in err and words in err, err
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "failed" and "RewardFailed" in info["error"]


def test_a_hanging_reward_is_stopped_by_the_timeout(tmp_path, monkeypatch, capsys):
    catalog = _catalog(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("REWARD_MODE", "hang")
    monkeypatch.setattr(stream_module, "REWARD_TIMEOUT", 0.5)
    assert main(["train", str(catalog), *ARGS, "--out", str(tmp_path / "run")]) == 2
    assert "took more than 0.5 s" in capsys.readouterr().err


def test_after_a_reward_failure_the_fixed_run_resumes_as_if_nothing_happened(tmp_path, monkeypatch, capsys):
    """The reward fails in step 4 (after the step-3 checkpoint); fixed, the resume ends where a run that never
    failed ends, bit for bit."""
    catalog = _catalog(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    clean = tmp_path / "clean"
    monkeypatch.setenv("REWARD_MODE", "ok")
    assert main(["train", str(catalog), *ARGS, "--out", str(clean)]) == 0
    import rew

    # count the reward's calls up to the step-3 checkpoint, then fail just after it
    rew.CALLS[0] = 0
    assert main(["train", str(catalog), *ARGS, "training.steps=3", "--out", str(tmp_path / "first-3")]) == 0
    calls_to_step_3, rew.CALLS[0] = rew.CALLS[0], 0
    broken = tmp_path / "broken"
    monkeypatch.setenv("REWARD_MODE", "raise")
    monkeypatch.setenv("REWARD_AFTER", str(calls_to_step_3 + 1))
    assert main(["train", str(catalog), *ARGS, "--out", str(broken)]) == 2
    assert [p.name for p in checkpoint_dirs(broken / "checkpoints")] == ["step-000003"]
    monkeypatch.setenv("REWARD_MODE", "ok")
    capsys.readouterr()
    assert main(["train", "--resume", str(broken), "--no-progress"]) == 0
    ours, theirs = run_tables(broken), run_tables(clean)
    assert all(ours[name].equals(theirs[name]) for name in ours)


def test_grading_checks_the_number_of_scores():
    record = Record(prompt="p", completion=None, answer=None)
    assert _grade("t", lambda r, cs: [1, 0.5], record, ["a", "b"]) == [1.0, 0.5]
    with pytest.raises(RewardFailed, match="returned 1 values for 2 completions"):
        _grade("t", lambda r, cs: [1.0], record, ["a", "b"])
    with pytest.raises(RewardFailed, match="returned float for 2 completions"):
        _grade("t", lambda r, cs: math.pi, record, ["a", "b"])
    with pytest.raises(RewardFailed, match="returned True"):
        _grade("t", lambda r, cs: [True, 1.0], record, ["a", "b"])
