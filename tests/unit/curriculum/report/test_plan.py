"""`curriculum plan`: the plan's data against numbers worked by hand on the tiny catalog, and the view."""

import math

import pytest
from helpers import TINY

from curriculum.catalog import load_catalog
from curriculum.cli import main
from curriculum.report.plan import plan_summary
from curriculum.run.setup import load_tasks, plan_segments


def _plan(*overrides: str) -> dict:
    catalog = load_catalog(TINY, list(overrides))
    tasks = load_tasks(catalog, TINY.parent)
    segments, adaptive = plan_segments(catalog, tasks)
    return plan_summary(catalog, tasks, segments, adaptive)


def test_plan_of_the_tiny_catalog_by_hand():
    plan = _plan()
    # chord W = 1, D = 3, peak 0.8, valley 0.1 over 6 steps: mu = 0, 0.8, 0.625, 0.275, 0.1, 0.1
    #   (0.1 + 0.7 * (1 + cos(pi/3)) / 2 = 0.625; 0.1 + 0.7 * (1 + cos(2pi/3)) / 2 = 0.275)
    assert plan["mu"] == pytest.approx([0.0, 0.8, 0.625, 0.275, 0.1, 0.1])
    assert (plan["adaptive"], plan["order"], plan["group_size"], plan["steps"]) == (False, None, 2, 6)
    warmup, decay, valley = plan["stages"]
    # mu 0 carries no demonstrations: the warmup step is RL only, 3 prompts x G = 2 rollouts
    assert (warmup["name"], warmup["first"], warmup["last"], warmup["sft_per_step"], warmup["rl_per_step"]) == (
        "warmup", 0, 0, 0, 3,
    )  # fmt: skip
    assert warmup["rollouts_per_step"] == 6 and warmup["sft_weighting"] == []
    assert (decay["first"], decay["last"], decay["mu"]) == (1, 3, pytest.approx((0.8, 0.275)))
    assert (decay["sft_per_step"], decay["sft_weighting"], valley["mu"]) == (3, ["none"], (0.1, 0.1))
    # weights sort 1 : word 0.5 split each step's 3 rows 2 : 1. SFT on steps 1-5: sort 10, word 5;
    # RL on all 6 steps: sort 12, word 6 prompts, x 2 rollouts = 24, 12. Pools: 8 demonstrations each.
    sort, word = plan["tasks"]
    assert (sort["sft_rows"], sort["rl_prompts"], sort["rollouts"], sort["epochs"]) == (10, 12, 24, 1.25)
    assert (word["sft_rows"], word["rl_prompts"], word["rollouts"], word["epochs"]) == (5, 6, 12, 0.625)
    assert (sort["sft_pool"], sort["rl_pool"], sort["eval"], word["weight"]) == (8, 64, 6, 0.5)
    assert plan["totals"] == {"sft_rows": 15, "rl_prompts": 18, "rollouts": 36}
    assert plan["repeated"] == []


def test_plan_says_when_it_is_nominal_and_what_the_probe_costs():
    adaptive = _plan("schedule.kind=reward_adaptive")
    assert adaptive["adaptive"] is True
    staged = _plan('schedule.order={"kind": "bwt_order", "probe_steps": 4}')
    assert (staged["order"], staged["probe_steps"], staged["probe_compute_steps"]) == ("bwt_order", 4, 8)
    # one task per stage: 6 steps over 2 tasks, structured first (the fallback order)
    assert [(s["name"], s["first"], s["last"]) for s in staged["stages"]] == [("sort", 0, 2), ("word", 3, 5)]
    many = _plan("training.steps=40")  # sort: 5 x 8 = 40 steps x 2 rows... more than 3 epochs of 8
    assert [task for task, _ in many["repeated"]] == ["sort", "word"]


def test_plan_command_renders_the_plan(capsys):
    assert main(["plan", str(TINY), "schedule.kind=reward_adaptive"]) == 0
    out = capsys.readouterr().out
    assert "plan tiny: schedule reward_adaptive (nominal), 6 steps, seed 3, G = 2 rollouts per prompt" in out
    assert "decides from what the run measures" in out
    assert "mu over steps (nominal)" in out and "total" in out
    assert main(["plan", str(TINY)]) == 0
    out = capsys.readouterr().out
    assert "plan tiny: schedule chord (planned)" in out and "decides from what the run measures" not in out
    assert "0.800 → 0.275" in out  # the decay stage's mu


def _rendered(plan: dict, all_tasks: bool = False) -> list[str]:
    from rich.console import Console

    from curriculum.views.plan import render_plan

    console = Console(record=True, width=200)
    render_plan(plan, console, all_tasks=all_tasks)
    return [" ".join(line.replace("│", " ").split()) for line in console.export_text().splitlines()]


def test_plan_view_shows_the_timeline_shares_prerequisites_and_totals():
    """The tiny chord plan: warmup (step 0, RL only), decay 1-3, valley 4-5; sort 1 : word 0.5 share each part
    2 : 1 (67% / 33%); a 6-step timeline of 24 cells gives each step 4 cells."""
    plan = _plan("tasks[1].requires=[sort]")
    lines = _rendered(plan)
    # a bar of 100 - 6 (names) - 3 (spans) - 3 = 88 cells, capped at 64: the stages end at cells
    # round(64 x 1/6) = 11, round(64 x 4/6) = 43 and 64
    assert "warmup " + "█" * 11 + "·" * 53 + " 0-0" in lines
    assert "decay " + "·" * 11 + "█" * 32 + "·" * 21 + " 1-3" in lines
    assert "valley " + "·" * 43 + "█" * 21 + " 4-5" in lines
    assert "warmup 0-0 0.000 0 3 6 sort 0/67%, word 0/33%" in lines
    assert "decay 1-3 0.800 → 0.275 3 3 6 sort 67/67%, word 33/33%" in lines
    assert "valley 4-5 0.100 3 3 6 sort 67/67%, word 33/33%" in lines
    # per task: weight, prerequisites, pools, rows (hand-computed in the test above), eval prompts
    assert "sort structured 1 - 8 10 1.2 64 12 24 6" in lines
    assert "word creative 0.5 sort 8 5 0.6 64 6 12 6" in lines
    assert "creative (1) creative 5 6 12" in lines and "structured (1) structured 10 12 24" in lines
    assert "total 15 18 36" in lines


def test_plan_view_of_many_tasks_sums_the_rest_by_kind():
    """40 tasks listed, the other 960 summed on one row (all with --all-tasks); equal shares said once."""
    from curriculum.bench.plan import synthetic_tasks
    from schedulers.base import TaskInfo
    from schedulers.build import build_scheduler

    catalog = load_catalog(TINY, ["schedule.kind=constant", "schedule.mu=0.5"])
    tasks = synthetic_tasks(1000)
    for t in tasks:
        t.weight = 1.0
    infos = [TaskInfo(t.id, t.kind, t.weight) for t in tasks]
    segments = build_scheduler(catalog.schedule, infos, 6).nominal(6)
    plan = plan_summary(catalog, tasks, segments, False)  # 6 steps x 3 rows over 1000 tasks: 0.018 each
    lines = _rendered(plan)
    assert "constant 0-5 0.500 3 3 6 1000 tasks, 0/0% each" in lines
    assert sum(line.startswith("t0") for line in lines) == 40
    # the other 960 tasks: 960 x 0.018 = 17.3 demonstrations and prompts, 34.6 rollouts
    assert "... 960 more (--all-tasks) 17.3 17.3 34.6" in lines
    assert "total 18 18 36" in lines  # 6 steps x 3 rows
    assert sum(line.startswith("t0") for line in _rendered(plan, all_tasks=True)) == 1000


def test_plan_json_is_the_plan_as_data(capsys):
    """`plan --json`: the demo's 300 steps x 12 SFT rows and 12 RL prompts, split evenly over its 6 tasks: 600
    each, 3,600 in all, 4 rollouts per prompt; the cost carries the FLOPs estimate."""
    import json

    from helpers import DEMO

    from curriculum.cli import main

    assert main(["plan", str(DEMO), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["totals"] == {"sft_rows": 300 * 12, "rl_prompts": 300 * 12, "rollouts": 300 * 12 * 4}
    assert [t["sft_rows"] for t in plan["tasks"]] == [600] * 6
    assert sum(t["rollouts"] for t in plan["tasks"]) == plan["totals"]["rollouts"]
    assert plan["cost"]["expected"]["training_flops"] > 0 and len(plan["mu"]) > 0


def test_surrogate_by_hand():
    """200 demonstrations and 200 prompts of a structured task with 32 demonstrations: learned = 1 - e^-2 =
    0.864665; 6.25 epochs, 2.25 past 4: overfit 0.02 x 2.25 = 0.045; score 0.2 + 0.75 x 0.864665 - 0.045 =
    0.803499; entropy 0.6 x e^-(0.5 + 1) = 0.133878. Creative, no demonstrations seen, 200 prompts: learned
    1 - e^-1 = 0.632121, score 0.5 + 0.3 x 0.632121 = 0.689636, entropy 1.4 x (1 + 0.4 x 0.632121) = 1.753988."""
    from curriculum.report.simulate import surrogate

    assert surrogate("structured", 200, 200, 32) == pytest.approx((0.803499, 0.133878), abs=1e-6)
    assert surrogate("creative", 0, 200, 32) == pytest.approx((0.689636, 1.753988), abs=1e-6)
    assert surrogate("structured", 10_000, 0, 32)[0] == pytest.approx(0.2 + 0.75 * (1 - math.exp(-50)) - 0.4)


def test_simulate_shows_an_adaptive_policy_reacting(capsys):
    """phase_aware on the demo (evals every 50 steps): the surrogate's creative scores peak at step 100 (0.714)
    and fall to 0.678 and 0.625 (both 0.03 below it) by step 200, so their mu decays from step 200; the
    structured ones peak at 150 (0.805) and are overfit at 250. The nominal plan stays at peak throughout."""
    import json

    from helpers import DEMO

    assert main(["plan", str(DEMO), "schedule.kind=phase_aware", "--simulate", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["mode"] == "simulated"
    assert [(s["name"], s["first"], s["last"]) for s in plan["stages"]] == [("peak", 0, 199), ("decay", 200, 299)]
    word = dict(plan["simulation"]["scores"]["word"])
    assert (round(word[100], 3), round(word[150], 3), round(word[200], 3)) == (0.714, 0.678, 0.625)
    # mu: 0.9 up to step 200 (where the decay starts at peak), then the mean over six tasks, two decaying
    # (six from step 250)
    assert plan["mu"][200] == 0.9 and plan["mu"][201] < 0.9 and plan["mu"][-1] < plan["mu"][249] < plan["mu"][201]
    assert main(["plan", str(DEMO), "schedule.kind=phase_aware"]) == 0
    out = capsys.readouterr().out
    assert "(nominal)" in out and "decay" not in out
    assert main(["plan", str(DEMO), "schedule.kind=phase_aware", "--simulate"]) == 0
    out = capsys.readouterr().out
    assert "schedule phase_aware (simulated)" in out and "surrogate learning curves (simulated, not a model)" in out


def test_diff_marks_what_differs():
    """The tiny chord plan against sequential with 2 SFT steps: SFT 15 -> 2 steps x 3 = 6 rows (0.4x), RL
    prompts 18 -> 4 steps x 3 = 12 (0.667x); the catalog, steps and G are the same."""
    from rich.console import Console

    from curriculum.report.plan import plan_diff
    from curriculum.views.plan import render_plan_diff

    a, b = _plan(), _plan("schedule.kind=sequential", "schedule.sft_steps=2")
    rows = {r["figure"]: r for r in plan_diff(a, b)}
    assert (rows["SFT rows"]["a"], rows["SFT rows"]["b"], rows["SFT rows"]["differs"]) == (15, 6, True)
    assert (rows["RL prompts"]["a"], rows["RL prompts"]["b"]) == (18, 12)
    assert not rows["steps"]["differs"] and not rows["catalog"]["differs"] and rows["stages"]["differs"]
    assert (rows["sort: SFT rows"]["a"], rows["sort: SFT rows"]["b"]) == (10, 4)  # 2 of each step's 3 rows
    console = Console(record=True, width=160)
    render_plan_diff(a, b, plan_diff(a, b), console)
    lines = [" ".join(line.replace("│", " ").split()) for line in console.export_text().splitlines()]
    assert "≠ SFT rows 15 6 0.4x" in lines and "≠ RL prompts 18 12 0.667x" in lines
    assert "steps 6 6" in lines and "≠ stages warmup 0-0, decay 1-3, valley 4-5 sft 0-1, rl 2-5" in lines


def test_diff_command_takes_a_catalog_or_overrides(capsys):
    assert main(["plan", str(TINY), "--diff", "schedule.kind=sequential", "schedule.sft_steps=2"]) == 0
    assert "mu over steps, plan B (sequential, planned)" in capsys.readouterr().out
    assert main(["plan", str(TINY), "--diff", str(TINY), "training.steps=12"]) == 0
    out = capsys.readouterr().out
    assert "figures differ" in out and "12" in out


def test_plan_view_of_many_stages_lists_forty():
    """100 tasks in kind_first stages of 1 step each: 40 timeline lines and stage rows, then the rest in one
    line and one row (steps 40-99); --all-tasks lists all 100."""
    from curriculum.bench.plan import synthetic_tasks
    from schedulers.base import TaskInfo
    from schedulers.build import build_scheduler

    catalog = load_catalog(TINY, ["schedule.kind=constant", "schedule.mu=0.5", 'schedule.order={"kind": "kind_first"}'])
    tasks = synthetic_tasks(100)
    infos = [TaskInfo(t.id, t.kind, t.weight) for t in tasks]
    segments = build_scheduler(catalog.schedule, infos, 100).nominal(100)
    plan = plan_summary(catalog, tasks, segments, False)
    lines = _rendered(plan)
    assert "... 60 more stages (--all-tasks lists every stage and task)" in lines
    assert "... 60 more 40-99" in lines
    stage_rows = [line for line in lines if line.startswith("t0") and " 0.500 " in line]
    assert len(stage_rows) == 40
    assert len([line for line in _rendered(plan, all_tasks=True) if line.startswith("t0") and " 0.500 " in line]) == 100
