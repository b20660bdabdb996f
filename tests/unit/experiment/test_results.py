"""Result rows of a run folder and the comparison of arms, against numbers worked by hand."""

import math

import pytest
import yaml

from curriculum.experiment.results import compare, run_rows
from curriculum.experiment.runner import Outcome
from curriculum.run.rundir import RunDir, write_table


def _row(arm, seed, task, final, **extra):
    return {"arm": arm, "seed": seed, "task": task, "kind": "structured", "final": final, "normalized": None,
            "training_flops": 10.0, "steps": 5, "seconds": 1.0, **extra}  # fmt: skip


# finals by (arm, seed): (t1, t2)
FINALS = {
    ("A", 0): (0.5, 0.7), ("A", 1): (0.6, 0.6), ("A", 2): (0.4, 0.6),
    ("B", 0): (0.7, 0.7), ("B", 1): (0.8, 0.6), ("B", 2): (0.6, 0.8),
}  # fmt: skip
ROWS = [_row(a, s, t, v) for (a, s), pair in FINALS.items() for t, v in zip(("t1", "t2"), pair)]


def test_compare_by_hand():
    out = compare(ROWS, ["A", "B"], "A")
    a, b = out["arms"]
    # A overall per seed: (.5+.7)/2 = .6, (.6+.6)/2 = .6, (.4+.6)/2 = .5 -> mean .5667
    assert a["overall"]["mean"] == pytest.approx(1.7 / 3)
    # A t1: .5, .6, .4 -> mean .5, s = sqrt((0 + .01 + .01) / 2) = .1, half = 4.302653 * .1 / sqrt(3) = .248414
    assert a["tasks"]["t1"]["mean"] == pytest.approx(0.5)
    assert a["tasks"]["t1"]["half"] == pytest.approx(4.302653 * 0.1 / math.sqrt(3), abs=1e-6)
    # B overall: .7, .7, .7 -> mean .7, zero width
    assert (b["overall"]["mean"], b["overall"]["half"]) == (pytest.approx(0.7), pytest.approx(0.0, abs=1e-12))
    # paired B - A per seed: .1, .1, .2 -> mean .13333, s = sqrt(((-1/30)^2 * 2 + (2/30)^2) / 2) = .057735
    # half = 4.302653 * .057735 / sqrt(3) = .143422: interval -.0101 .. .2768 contains 0
    paired = b["paired"]
    assert paired["mean"] == pytest.approx(0.4 / 3)
    assert paired["half"] == pytest.approx(4.302653 * 0.0577350 / math.sqrt(3), abs=1e-5)
    assert paired["lo"] < 0 < paired["hi"]
    assert b["verdict"] == "no difference detectable at 3 seeds"
    assert "verdict" not in a  # the baseline is not compared with itself
    assert out["best"]["overall"] == ["B"] and out["best"]["t1"] == ["B"]
    assert out["best"]["t2"] == ["B"]  # A .6333, B .7


def test_a_consistent_gain_is_better_and_failed_runs_are_listed():
    rows = [r for r in ROWS if r["arm"] == "A"]
    rows += [r | {"arm": "B", "final": r["final"] + 0.1 + 0.01 * r["seed"]} for r in ROWS if r["arm"] == "A"]
    failed = [Outcome("C", 0, "x", "failed", "RuntimeError: boom")]
    out = compare(rows, ["A", "B", "C"], "A", failed)
    b = next(x for x in out["arms"] if x["arm"] == "B")
    # diffs .10, .11, .12: mean .11, s = .01, half = 4.302653 * .01 / sqrt(3) = .0248 -> .0852 .. .1348
    assert b["verdict"] == "better" and b["paired"]["lo"] == pytest.approx(0.11 - 4.302653 * 0.01 / math.sqrt(3))
    assert next(x for x in out["arms"] if x["arm"] == "C")["seeds"] == 0
    assert out["failed"] == [{"arm": "C", "seed": 0, "error": "RuntimeError: boom", "folder": "x"}]


def test_one_seed_gives_no_interval_and_no_verdict_beyond_it():
    rows = [r for r in ROWS if r["seed"] == 0]
    b = compare(rows, ["A", "B"], "A")["arms"][1]
    assert b["overall"]["lo"] is None and b["verdict"] == "no difference detectable at 1 seed"


def test_run_rows_read_a_run_folder(tmp_path):
    root = tmp_path / "run"
    root.mkdir()
    run = RunDir(root)
    catalog = {"name": "x", "tasks": [{"id": "s", "kind": "structured"}, {"id": "w", "kind": "creative"}]}
    (root / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    run.write_info({"status": "finished", "steps": 20, "seconds": 3.5, "compute": {"training_flops": 1e9}})
    scores = {"s": [0.6, 0.3, 0.9, 0.7], "w": [1.0, 1.0, 0.5, 1.0]}
    write_table(
        run.table("evals"),
        [
            {"step": step, "eval/s/score": scores["s"][i], "eval/w/score": scores["w"][i],
             "eval/s/entropy": 1.0 - 0.1 * i, "eval/w/entropy": 0.5 + 0.2 * i, "eval/s/kl_base": 0.01 * i,
             "eval/w/answer_entropy": 0.1 * i}
            for i, step in enumerate((0, 5, 10, 20))
        ],
    )  # fmt: skip
    write_table(run.table("steps"), [])
    write_table(run.table("decisions"), [])
    s, w = run_rows("arm", 7, root)
    # s: base .6, final .7, best .9; normalized (.7 - .6) / (1 - .6) = .25; dip .6 - .3 = .3; forgetting .9 - .7
    assert (s["base"], s["final"], s["best"]) == (0.6, 0.7, 0.9)
    assert s["normalized"] == pytest.approx(0.25) and s["dip"] == pytest.approx(0.3)
    assert s["forgetting"] == pytest.approx(0.2)
    # entropy 1.0 -> 0.7: change -.3; KL at the last evaluation .03
    assert s["entropy_change"] == pytest.approx(-0.3) and s["kl_base"] == pytest.approx(0.03)
    # w starts at 1 and ends at 1: no headroom, nothing lost: normalized 0; it dips from 1.0 to 0.5: dip .5
    assert w["normalized"] == 0.0 and w["dip"] == pytest.approx(0.5) and w["entropy_change"] == pytest.approx(0.6)
    assert w["answer_entropy_start"] == 0.0 and w["answer_entropy_end"] == pytest.approx(0.3)  # 0.1 * 3
    assert s["answer_entropy_end"] is None  # not logged for s
    assert w["kl_base"] is None and (s["arm"], s["seed"], w["kind"]) == ("arm", 7, "creative")
    assert (s["training_flops"], s["steps"], s["bwt"]) == (1e9, 20, None)


def test_signals_average_tasks_per_seed_then_seeds_by_kind():
    from curriculum.experiment.results import signals

    def row(seed, task, kind, dip, ent, ans):
        return {"seed": seed, "task": task, "kind": kind, "dip": dip, "forgetting": 0.0, "kl_base": None,
                "entropy_change": ent, "answer_entropy_start": 0.5, "answer_entropy_end": 0.5 + ans}  # fmt: skip

    rows = [
        row(0, "s", "structured", 0.2, -0.3, -0.1), row(0, "c", "creative", 0.0, 0.4, 0.2),
        row(1, "s", "structured", 0.4, -0.1, -0.3), row(1, "c", "creative", 0.2, 0.2, 0.4),
    ]  # fmt: skip
    out = signals(rows)
    # dip per seed over both tasks: (.2 + 0) / 2 = .1, (.4 + .2) / 2 = .3 -> mean .2, s = .141421,
    # half = 12.706205 * .141421 / sqrt(2) = 1.270620
    assert out["dip"]["mean"] == pytest.approx(0.2) and out["dip"]["half"] == pytest.approx(1.270620, abs=1e-5)
    # structured entropy change: -.3, -.1 -> -.2; creative: .4, .2 -> .3; answer entropy: -.2 and .3
    assert out["entropy change, structured"]["mean"] == pytest.approx(-0.2)
    assert out["entropy change, creative"]["mean"] == pytest.approx(0.3)
    assert out["answer entropy change, structured"]["mean"] == pytest.approx(-0.2)
    assert out["answer entropy change, creative"]["mean"] == pytest.approx(0.3)
    assert out["KL to base"] is None  # not measured


def test_normalized_is_gain_over_headroom_and_loss_over_start():
    from curriculum.experiment.results import normalized

    assert normalized(0.6, 0.7) == pytest.approx(0.25)  # .1 of the .4 headroom
    assert normalized(0.96, 0.82) == pytest.approx(-0.14 / 0.96)  # a loss over the start: -.1458, not -3.5
    assert normalized(0.2, 0.0) == -1.0 and normalized(0.0, 1.0) == 1.0 and normalized(1.0, 1.0) == 0.0
