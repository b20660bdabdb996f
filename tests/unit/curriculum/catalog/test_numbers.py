"""Numbers are finite and sensible at validate time: `.inf` / `.nan` are refused in every float field (one rule on
`curriculum.spec.Spec`), and the numbers that make a run absurd have upper bounds that say why
(`curriculum.catalog.limits`). The fixtures `broken/{lr_infinite,weight_nan,lr_above_one,too_many_rollouts,
task_size_absurd}.yaml` show the same through `curriculum validate`."""

from __future__ import annotations

import pytest
from helpers import DEMO, FIXTURES, TINY

from curriculum.catalog import check_catalog
from curriculum.catalog.limits import BOUNDS, MAX_PER_STEP

# every float a run divides by, multiplies with or samples at; `schedule=` switches to the kind that has the field
FLOAT_FIELDS = [
    ("training.lr", None),
    ("training.weight_decay", None),
    ("training.grad_clip", None),
    ("training.compute_budget", None),
    ("training.grpo.kl_coef", None),
    ("training.grpo.clip_low", None),
    ("training.grpo.clip_high", None),
    ("training.grpo.adv_eps", None),
    ("training.grpo.hicra_alpha", None),
    ("training.rollout.temperature", None),
    ("evaluation.temperature", None),
    ("tasks[0].weight", None),
    ("tasks[0].reward", "{kind: numeric, tolerance: VALUE}"),
    ("schedule.peak", None),
    ("schedule.valley", None),
    ("schedule.mu", "{kind: constant, mu: VALUE}"),
    ("schedule.tau", "{kind: reward_adaptive, tau: VALUE}"),
    ("schedule.temperature", "{kind: bandit, temperature: VALUE}"),
    ("schedule.c", "{kind: bandit, c: VALUE}"),
    ("schedule.gate_below", "{kind: gate, gate_below: VALUE}"),
    ("schedule.structured_band[1]", "{kind: entropy_guard, structured_band: [0.1, VALUE]}"),
    ("schedule.order.probe_mu", "{kind: chord, order: {kind: bwt_order, probe_mu: VALUE}}"),
]


def _override(path: str, template: str | None, value: str) -> str:
    if template is None:
        return f"{path}={value}"
    section = path.split(".")[0] if not path.startswith("tasks[0].") else "tasks[0].reward"
    return f"{section}={template.replace('VALUE', value)}"


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e999"])
@pytest.mark.parametrize("path, template", FLOAT_FIELDS, ids=[p for p, _ in FLOAT_FIELDS])
def test_a_non_finite_float_is_refused_at_its_path(path, template, value):
    """Whatever the field, infinity and NaN are one error at the field's path: "must be a finite number"."""
    errors = check_catalog(TINY, [_override(path, template, value)])
    expected = "tasks[0].reward.tolerance" if template and "tolerance" in template else path
    found = [e for e in errors if e.path == expected and "must be a finite number" in e.message]
    assert found, errors


def test_the_finite_rule_names_the_file_line_in_a_fixture():
    (error,) = check_catalog(FIXTURES / "broken" / "lr_infinite.yaml")
    assert (error.line, error.path) == (15, "training.lr")
    assert error.message == "must be a finite number (got inf)"


def _bound_override(path: tuple, value: int | float) -> str:
    text = ".".join(str(p) for p in path).replace(".*.", "[0].")
    if path[:2] == ("schedule", "order"):
        return f"schedule.order={{kind: bwt_order, probe_steps: {value}}}"
    return f"{text}={value}"


@pytest.mark.parametrize("path, limit, why", BOUNDS, ids=[".".join(p) for p, _, _ in BOUNDS])
def test_each_bound_allows_its_limit_and_refuses_above_it_saying_why(path, limit, why):
    """At the limit a catalog validates; above it the error names the path, the limit and the reason."""
    at = check_catalog(TINY, [_bound_override(path, limit)])
    assert not [e for e in at if "limit" in e.message], at
    above = limit * 2 if isinstance(limit, int) else limit + 0.5
    errors = check_catalog(TINY, [_bound_override(path, above)])
    where = ".".join(str(p) for p in path).replace(".*.", "[0].")
    (error,) = [e for e in errors if e.path == where]
    shown = f"{int(limit):,}" if float(limit).is_integer() else str(limit)
    assert f"above the limit of {shown}:" in error.message and why in error.message, error


def test_lr_above_one_says_it_diverges():
    (error,) = check_catalog(FIXTURES / "broken" / "lr_above_one.yaml")
    assert (error.line, error.path) == (14, "training.lr")
    assert error.message == "3 is above the limit of 1: learning rates above 1 diverge at once"


def test_a_yaml_11_exponent_written_as_text_is_bounded_too():
    """PyYAML reads `1e9` as text (YAML 1.1 wants `1.0e+9`); pydantic reads it as a number, so must the bound."""
    errors = check_catalog(DEMO, ["training.lr=1e3"])
    assert any(e.path == "training.lr" and "diverge" in e.message for e in errors), errors


@pytest.mark.parametrize(
    "overrides, blamed",
    [
        (["schedule.rl_batch=100001", "training.rollout.group_size=2"], "schedule.rl_batch"),
        (["schedule.rl_batch=2", "training.rollout.group_size=60000"], "training.rollout.group_size"),
    ],
)
def test_rollouts_per_step_are_bounded_and_blame_the_larger_factor(overrides, blamed):
    (error,) = [e for e in check_catalog(TINY, overrides) if "rollouts per step" in e.message]
    assert error.path == blamed
    assert f"above the limit of {MAX_PER_STEP:,}" in error.message


def test_rollouts_at_the_limit_and_no_rl_are_fine():
    assert check_catalog(TINY, ["schedule.rl_batch=50000", "training.rollout.group_size=2"]) == []
    assert check_catalog(TINY, ["schedule.rl_batch=0", "training.rollout.group_size=1000000"]) == []


@pytest.mark.parametrize("catalog", [*sorted((FIXTURES.parents[1] / "catalogs").glob("*.yaml")), TINY])
def test_shipped_catalogs_are_within_every_bound(catalog):
    assert check_catalog(catalog) == []


@pytest.mark.parametrize("path", ["training.rollout.temperature", "evaluation.temperature"])
def test_a_vanishing_temperature_is_refused_before_it_overflows_the_scores(path):
    """1e-300 once reached torch.multinomial as NaN probabilities (a traceback mid-run); 1e-4 is still fine."""
    assert check_catalog(TINY, [f"{path}=0.0001"]) == []
    (error,) = check_catalog(TINY, [f"{path}=1.0e-300"])
    assert error.path == path and "below the limit of 0.0001" in error.message and "NaN" in error.message
