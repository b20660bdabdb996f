"""`curriculum experiment` through the real CLI on the tiny model: 2 arms x 2 seeds end to end; started again it
skips what finished; interrupted, it resumes the interrupted run exactly; a failing run is reported and the
others go on."""

import json

import polars as pl
import pytest
from helpers import TINY, run_tables

import curriculum.experiment.runner as runner
from curriculum.cli import main
from curriculum.views.train import LiveDisplay

ARGS = ["--arms", "sft-then-rl,chord-mu", "--seeds", "2", "--no-progress", "training.checkpoint_every=2"]
RUNS = [("sft-then-rl", 3), ("sft-then-rl", 4), ("chord-mu", 3), ("chord-mu", 4)]


def _experiment(out, capsys, *extra) -> tuple[int, str]:
    code = main(["experiment", str(TINY), "--out", str(out), *ARGS, *extra])
    return code, capsys.readouterr().out


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One uninterrupted experiment, shared by the tests below."""
    out = tmp_path_factory.mktemp("exp") / "full"
    code = main(["experiment", str(TINY), "--out", str(out), *ARGS])
    return out, code


def test_two_arms_two_seeds_end_to_end(finished, capsys):
    out, code = finished
    assert code == 0
    results = pl.read_parquet(out / "results.parquet")
    assert results.height == 2 * 2 * 2  # arms x seeds x tasks
    assert set(zip(results["arm"], results["seed"])) == set(RUNS)
    for arm, seed in RUNS:
        evals = pl.read_parquet(out / arm / f"seed-{seed}" / "evals.parquet")
        row = results.filter((pl.col("arm") == arm) & (pl.col("seed") == seed) & (pl.col("task") == "sort"))
        assert row["final"][0] == evals["eval/sort/score"][-1] and row["base"][0] == evals["eval/sort/score"][0]
    # started again: every run is skipped, the printed comparison comes back from the folders
    code, text = _experiment(out, capsys)
    assert code == 0 and text.count("finished before, skipped") == 4
    assert "chord-mu vs sft-then-rl:" in text and "against sft-then-rl" in text
    assert pl.read_parquet(out / "results.parquet").equals(results)


def test_an_interrupted_experiment_resumes_the_interrupted_run_exactly(finished, tmp_path, capsys, monkeypatch):
    full, _ = finished
    calls = {"n": 0}
    original = LiveDisplay.step

    def interrupt(self, record):  # Ctrl-C during the second run, after its step-4 checkpoint
        calls["n"] += 1
        if calls["n"] == 6 + 5:  # the first run has 6 steps; the second is stopped in its 5th
            raise KeyboardInterrupt
        original(self, record)

    monkeypatch.setattr(LiveDisplay, "step", interrupt)
    code, _ = _experiment(tmp_path, capsys)
    assert code == 130
    monkeypatch.setattr(LiveDisplay, "step", original)
    code, text = _experiment(tmp_path, capsys)
    assert code == 0
    assert "sft-then-rl seed 3: finished before, skipped" in text and "sft-then-rl seed 4: resuming" in text
    for arm, seed in RUNS:  # every run, the resumed one included, is the uninterrupted experiment's
        ours, theirs = run_tables(tmp_path / arm / f"seed-{seed}"), run_tables(full / arm / f"seed-{seed}")
        for name in ("decisions", "steps", "evals"):
            assert ours[name].equals(theirs[name])


def test_a_failing_run_is_reported_and_the_others_go_on(tmp_path, capsys, monkeypatch):
    real_train = runner.train

    def flaky(catalog, resolved, base_dir, out, display, resume=False, threads=None):
        if out.parent.name == "chord-mu" and out.name == "seed-3":
            raise RuntimeError("boom: a reward crashed")
        return real_train(catalog, resolved, base_dir, out, display, resume=resume, threads=threads)

    monkeypatch.setattr(runner, "train", flaky)
    code, text = _experiment(tmp_path, capsys, "--steps", "2")
    assert code == 1
    assert "chord-mu seed 3 failed: RuntimeError: boom: a reward crashed" in text
    assert "boom" in (tmp_path / "chord-mu" / "seed-3" / "error.txt").read_text()
    results = pl.read_parquet(tmp_path / "results.parquet")
    assert set(zip(results["arm"], results["seed"])) == set(RUNS) - {("chord-mu", 3)}
    monkeypatch.setattr(runner, "train", real_train)  # fixed: started again, the failed run is tried again
    code, text = _experiment(tmp_path, capsys, "--steps", "2")
    assert code == 0 and "chord-mu seed 3: training" in text and text.count("finished before, skipped") == 3
    assert not (tmp_path / "chord-mu" / "seed-3" / "error.txt").exists()


def test_an_experiment_folder_made_for_other_arms_is_refused(finished, tmp_path, capsys):
    full, _ = finished
    code = main(["experiment", str(TINY), "--out", str(full), *ARGS, "training.lr=5e-4"])
    err = capsys.readouterr().err
    assert code == 2 and "was made from another catalog" in err and "training.lr" in err


def test_a_changed_experiment_section_does_not_refuse_finished_runs(finished, capsys):
    full, _ = finished
    code, text = _experiment(full, capsys, "experiment={baseline: sft-then-rl, seeds: 5}")
    assert code == 0 and text.count("finished before, skipped") == 4


def test_plot_of_an_experiment_draws_the_arms_with_their_intervals(finished, tmp_path, capsys):
    """`curriculum plot` on the experiment folder: each arm's final score is the mean over seeds of the mean
    over tasks of its final scores, its interval the t interval of those two seed means (checked by hand from
    results.parquet), and both figures are PNGs."""
    from curriculum.experiment.plots import experiment_plot_data
    from curriculum.experiment.stats import t_quantile

    out, _ = finished
    data = experiment_plot_data(out)
    results = pl.read_parquet(out / "results.parquet")
    for arm in data["arms"]:
        seeds = results.filter(pl.col("arm") == arm["arm"]).group_by("seed").agg(pl.col("final").mean())
        a, b = seeds["final"].to_list()
        mean, half = (a + b) / 2, t_quantile(0.975, 1) * abs(a - b) / 2**0.5 / 2**0.5
        assert arm["final"]["mean"] == pytest.approx(mean, abs=1e-12)
        assert arm["final"]["hi"] - arm["final"]["mean"] == pytest.approx(half, abs=1e-9)
        assert arm["curve"][-1][1] == pytest.approx(mean, abs=1e-12)  # the last eval is the final score
    pictures = tmp_path / "pictures"
    assert main(["plot", str(out), "--out", str(pictures)]) == 0
    for name in ("arms.png", "final.png"):
        assert (pictures / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"| sft-then-rl | 2 | {data['arms'][0]['final']['mean']:.3f} |" in (pictures / "index.md").read_text()


def test_compare_of_the_seed_folders_is_the_experiments_comparison(finished, capsys, tmp_path):
    """`curriculum compare` on the four run folders groups seed-<s> folders by arm and prints the experiment's
    own numbers: each arm's overall mean and the paired difference, as `compare` makes them from
    results.parquet; on the experiment folder itself, the same; on a folder that is no run, exit 2."""
    from curriculum.experiment.results import compare

    out, _ = finished
    expected = compare(pl.read_parquet(out / "results.parquet").to_dicts(), ["sft-then-rl", "chord-mu"], "sft-then-rl")
    folders = [str(out / arm / f"seed-{seed}") for arm, seed in RUNS]
    capsys.readouterr()
    assert main(["compare", *folders]) == 0
    text = capsys.readouterr().out
    assert main(["compare", str(out)]) == 0
    assert capsys.readouterr().out == text  # the folders or the experiment: one comparison
    for arm in expected["arms"]:
        assert f"{arm['overall']['mean']:.3f}" in text
    chord = next(a for a in expected["arms"] if a["arm"] == "chord-mu")
    assert f"{chord['paired']['mean']:+.3f}" in text
    assert main(["compare", str(tmp_path)]) == 2


def test_runs_side_by_side_are_the_runs_one_after_another(tmp_path, capsys):
    """--jobs 2 trains two runs at once in their own processes, one thread each; at the same thread count the
    run folders are bit for bit those of an experiment that trains them in turn (--threads 1)."""
    one = ["--arms", "sft-then-rl,chord-mu", "--seeds", "1", "--no-progress"]
    assert main(["experiment", str(TINY), "--out", str(tmp_path / "jobs"), *one, "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 runs at once, 1 CPU thread each" in out and "(2/2 done)" in out
    assert main(["experiment", str(TINY), "--out", str(tmp_path / "turn"), *one, "--threads", "1"]) == 0
    for arm in ("sft-then-rl", "chord-mu"):
        a, b = run_tables(tmp_path / "jobs" / arm / "seed-3"), run_tables(tmp_path / "turn" / arm / "seed-3")
        for name in a:
            assert (
                a[name]
                .drop([c for c in a[name].columns if c.startswith("perf/")])
                .equals(b[name].drop([c for c in b[name].columns if c.startswith("perf/")]))
            ), (arm, name)
        info = json.loads((tmp_path / "jobs" / arm / "seed-3" / "run.json").read_text())
        assert info["threads"] == 1
    results = [pl.read_parquet(tmp_path / folder / "results.parquet").drop("seconds") for folder in ("jobs", "turn")]
    assert results[0].equals(results[1])


DYING_REWARD = """
import os


def score(completion, record):
    if os.environ.get("REWARD_DIE"):
        os._exit(3)  # the worker process dies at once, as if killed or out of memory
    return float(len(completion) % 3 == 0)
"""


def test_a_worker_that_dies_fails_its_runs_and_the_experiment_goes_on_to_report(tmp_path, capsys, monkeypatch):
    """With --jobs 2, a run whose process dies (os._exit in its reward) is a failed run with the reason in its
    error.txt, no traceback; the queued run fails with it (the pool is broken); started again, they train."""
    (tmp_path / "dying_reward.py").write_text(DYING_REWARD, encoding="utf-8")  # a name no other test imports
    text = TINY.read_text(encoding="utf-8")
    python = 'reward: {kind: python, function: "dying_reward:score"}\n    weight: 0.5'
    (tmp_path / "tiny.yaml").write_text(text.replace("reward: {kind: builtin}\n    weight: 0.5", python))
    args = ["experiment", str(tmp_path / "tiny.yaml"), "--out", str(tmp_path / "exp"), "--arms", "sft-then-rl,chord-mu"]
    args += ["--seeds", "1", "--no-progress", "--jobs", "2", "--steps", "2"]
    monkeypatch.setenv("REWARD_DIE", "1")
    assert main(args) == 1
    out = capsys.readouterr().out
    assert out.count("its worker process died") >= 2 and "Traceback" not in out
    assert "worker process died" in (tmp_path / "exp" / "chord-mu" / "seed-3" / "error.txt").read_text()
    monkeypatch.delenv("REWARD_DIE")
    assert main(args) == 0
    assert "(2/2 done)" in capsys.readouterr().out


def test_ctrl_c_stops_runs_side_by_side_and_starts_no_other(tmp_path):
    """Ctrl-C (SIGINT to the process group) during --jobs 2 with three runs: the two running ones finish their
    step and checkpoint (run.json says stopped), the third never starts, exit 130 with how to continue."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "exp"
    cmd = [sys.executable, "-m", "curriculum", "experiment", str(TINY), "--out", str(out), "--arms",
           "sft-then-rl,chord-mu,rl-only", "--seeds", "1", "--no-progress", "--jobs", "2", "training.steps=400",
           "training.checkpoint_every=1000", "evaluation.every=0"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 120
    running = [out / "sft-then-rl" / "seed-3" / "steps.parquet", out / "chord-mu" / "seed-3" / "run.json"]
    while time.time() < deadline and not all(p.exists() for p in running[1:]):
        time.sleep(0.5)
    time.sleep(3)  # both are training
    os.killpg(proc.pid, signal.SIGINT)
    text, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, text
    assert "experiment stopped by SIGINT" in text and "Traceback" not in text
    for arm in ("sft-then-rl", "chord-mu"):
        info = json.loads((out / arm / "seed-3" / "run.json").read_text())
        assert info["stopped_by"] == "SIGINT", (arm, info)
    assert not (out / "rl-only" / "seed-3").exists()


def test_a_run_stopped_by_a_signal_stops_the_experiment(tmp_path, capsys, monkeypatch):
    """One after another: a run that ends stopped (Ctrl-C: checkpointed, run.json stopped_by) is not counted
    finished and the next run does not start; the command exits 130 and says how to continue."""
    trained = []

    def stopped(catalog, resolved, base_dir, out, display, resume=False, threads=None):
        trained.append(out)
        out.mkdir(parents=True)
        (out / "run.json").write_text(json.dumps({"status": "stopped", "stopped_by": "SIGINT"}))

    monkeypatch.setattr(runner, "train", stopped)
    code, text = _experiment(tmp_path, capsys, "--steps", "2")
    assert code == 130 and len(trained) == 1
    assert "experiment stopped by SIGINT" in text and "run the same command again to continue" in text
