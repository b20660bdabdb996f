"""Arms: built-in ones replace the schedule (keeping the batch sizes), user arms apply their overrides, and the
experiment plan has every arm x seed, the baseline first when it was not asked for, a checked catalog each."""

import pytest
import yaml
from helpers import TINY

from curriculum.catalog import CatalogInvalid, load_catalog
from curriculum.catalog.experiment import BUILTIN_ARMS, arm_overrides
from curriculum.experiment.planning import ExperimentError, plan_experiment
from curriculum.run.setup import load_tasks, plan_cost_of, plan_segments


def _data():
    return load_catalog(TINY).model_dump(mode="json")


def test_a_builtin_arm_replaces_the_schedule_and_keeps_the_batches():
    # the fixture's own chord has peak 0.8 and valley 0.1; chord-phi must not inherit them
    phi = load_catalog(TINY, arm_overrides("chord-phi", _data(), [])).schedule
    assert (phi.kind, phi.peak, phi.valley, phi.sft_weighting) == ("chord", 0.1, 0.1, "phi")
    assert (phi.sft_batch, phi.rl_batch, phi.order) == (3, 3, None)
    staged = load_catalog(TINY, arm_overrides("sft-then-rl", _data(), [])).schedule
    assert (staged.kind, staged.sft_steps) == ("sequential", 3)  # half of the fixture's 6 steps
    rl = load_catalog(TINY, arm_overrides("rl-only", _data(), [])).schedule
    assert (rl.kind, rl.mu, rl.sft_batch, rl.rl_batch) == ("constant", 0.0, 0, 3)
    first = load_catalog(TINY, arm_overrides("kind-first", _data(), [])).schedule
    assert first.order.kind == "kind_first" and first.peak == 0.9  # chord-mu preset inside


def test_every_builtin_arm_gives_a_valid_catalog():
    for name in BUILTIN_ARMS:
        load_catalog(TINY, arm_overrides(name, _data(), []))


def _with_experiment(tmp_path, section: dict):
    data = yaml.safe_load(TINY.read_text())
    data["experiment"] = section
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_user_arm_is_its_overrides_on_its_base(tmp_path):
    path = _with_experiment(
        tmp_path,
        {
            "arms": ["slow", "chord-mu"],
            "define": [
                {"name": "slow", "base": "chord-mu", "overrides": {"schedule.decay_steps": 400, "training.lr": 3e-5}}
            ],
            "seeds": 2,
        },
    )
    catalog = load_catalog(path)
    ovs = arm_overrides("slow", catalog.model_dump(mode="json"), catalog.experiment.define)
    slow = load_catalog(path, ovs)
    assert (slow.schedule.decay_steps, slow.schedule.peak, slow.training.lr) == (400, 0.9, 3e-5)
    plan = plan_experiment(path, [], tmp_path / "out")
    # the baseline (sft-then-rl by default) runs first although not asked for; seeds 3, 4 from the catalog seed 3
    assert plan.arms == ["sft-then-rl", "slow", "chord-mu"]
    assert [(r.arm, r.seed) for r in plan.runs][:3] == [("sft-then-rl", 3), ("sft-then-rl", 4), ("slow", 3)]
    assert plan.runs[2].root == tmp_path / "out" / "slow" / "seed-3"
    assert plan.runs[2].overrides[-1] == "seed=3"


@pytest.mark.parametrize(
    "section, expected",
    [
        ({"define": [{"name": "chord-mu", "overrides": {}}]}, "is a built-in arm"),
        ({"arms": ["nope"]}, "unknown arm(s) ['nope']"),
        ({"define": [{"name": "a/b"}]}, "letters, digits"),
        ({"define": [{"name": "x", "base": "nope"}]}, "unknown built-in arm 'nope'"),
        ({"seeds": [1, 1]}, "seeds must be distinct"),
        ({"seeds": []}, "at least 1 item"),
        ({"seeds": 0}, "greater than or equal to 1"),
    ],
)
def test_a_bad_experiment_section_is_a_catalog_error(tmp_path, section, expected):
    with pytest.raises(CatalogInvalid) as caught:
        load_catalog(_with_experiment(tmp_path, section))
    assert expected in "\n".join(str(e) for e in caught.value.errors)


def test_an_arm_whose_overrides_break_the_catalog_is_named(tmp_path):
    path = _with_experiment(
        tmp_path, {"arms": ["bad"], "define": [{"name": "bad", "overrides": {"schedule.peak": 2.0}}]}
    )
    with pytest.raises(ExperimentError) as caught:
        plan_experiment(path, [], tmp_path / "out")
    assert "arm bad" in str(caught.value) and "schedule.peak" in "\n".join(caught.value.args)


def test_unknown_arms_on_the_command_line_are_refused(tmp_path):
    with pytest.raises(ExperimentError, match="unknown arm"):
        plan_experiment(TINY, [], tmp_path, arms=["chord-mu", "chrod-phi"])


def test_match_compute_scales_fixed_arms_to_the_baselines_estimated_cost(tmp_path):
    plan = plan_experiment(TINY, ["training.steps=12"], tmp_path, arms=["sft-only", "rl-only"], match="compute")
    tasks = load_tasks(load_catalog(TINY), TINY.parent)

    def estimated(arm: str) -> float:
        catalog = load_catalog(TINY, plan.runs[[r.arm for r in plan.runs].index(arm)].overrides)
        segments, _ = plan_segments(catalog, tasks)
        return plan_cost_of(catalog, tasks, segments, TINY.parent)["expected"]["training_flops"]

    baseline = load_catalog(TINY, ["training.steps=12", *plan.arm_overrides["sft-then-rl"]])
    segments, _ = plan_segments(baseline, tasks)
    assert plan.budget == plan_cost_of(baseline, tasks, segments, TINY.parent)["expected"]["training_flops"]
    # SFT-only steps cost less than the baseline's RL half: more of them; RL-only steps cost more: fewer
    assert plan.arm_steps["sft-only"] > 12 > plan.arm_steps["rl-only"]
    for arm in ("sft-only", "rl-only"):  # within one step's cost of the budget
        per_step = estimated(arm) / plan.arm_steps[arm]
        assert abs(estimated(arm) - plan.budget) <= per_step
    assert all(f"training.compute_budget={plan.budget!r}" in r.overrides for r in plan.runs)


def test_match_compute_makes_a_builtin_arms_schedule_for_its_scaled_steps(tmp_path):
    plan = plan_experiment(
        TINY, ["training.steps=12"], tmp_path, arms=["chord-mu", "sft-then-rl"], baseline="chord-mu", match="compute"
    )
    staged = load_catalog(TINY, next(r.overrides for r in plan.runs if r.arm == "sft-then-rl"))
    assert staged.training.steps == plan.arm_steps["sft-then-rl"] != 12
    assert staged.schedule.sft_steps == plan.arm_steps["sft-then-rl"] // 2  # half of its own steps, not of 12


def test_match_compute_counts_a_bwt_order_probe_in_the_estimate(tmp_path):
    # kind-first and bwt-order are the same staged chord-mu, but bwt-order first probes 10 steps per task:
    # the probe's estimated cost leaves fewer steps for the run itself
    plan = plan_experiment(TINY, ["training.steps=60"], tmp_path, arms=["kind-first"], match="compute")
    with_probe = plan_experiment(TINY, ["training.steps=60"], tmp_path, arms=["bwt-order"], match="compute")
    assert with_probe.arm_steps["bwt-order"] < plan.arm_steps["kind-first"]
    # a budget the probe alone exceeds (12 baseline steps; 2 tasks x 10 probe steps) is refused by name
    with pytest.raises(ExperimentError, match="arm bwt-order: no number of steps matches the compute budget"):
        plan_experiment(TINY, ["training.steps=12"], tmp_path, arms=["bwt-order"], match="compute")


def test_durations_read_as_a_person_would_say_them():
    from curriculum.experiment.runner import _duration

    # seconds rounded up under a minute, minutes rounded up under two hours, then hours to a tenth
    assert [_duration(x) for x in (8.2, 59.5, 60, 61, 7200, 9000)] == [
        "9 s",
        "60 s",
        "1 min",
        "2 min",
        "2.0 h",
        "2.5 h",
    ]
