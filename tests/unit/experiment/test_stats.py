"""The statistics over seeds (`curriculum.experiment.stats`): every expected number is worked by hand here,
from published t tables or closed forms, never from the module itself."""

from __future__ import annotations

import json
import math

import pytest

from curriculum.experiment.stats import (
    Interval,
    mean_interval,
    paired_difference,
    t_cdf,
    t_quantile,
    verdict,
    verdict_line,
)

# Published two-sided 95% critical values (any t table): t_{0.975, df}.
T95_TABLE = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 9: 2.262, 30: 2.042}


@pytest.mark.parametrize(("df", "expected"), sorted(T95_TABLE.items()))
def test_t_quantile_matches_the_95_percent_table(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-3)


def test_t_quantile_matches_the_90_percent_table() -> None:
    # two-sided 90% -> p = 0.95; table value for df 5 is 2.015
    assert t_quantile(0.95, 5) == pytest.approx(2.015, abs=1e-3)


def test_t_quantile_matches_closed_forms_to_1e_10() -> None:
    # df 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/pi, so t = tan(pi * (p - 1/2)).
    assert t_quantile(0.975, 1) == pytest.approx(math.tan(math.pi * 0.475), abs=1e-10)  # 12.7062047...
    assert t_quantile(0.8, 1) == pytest.approx(math.tan(math.pi * 0.3), abs=1e-10)  # 1.3763819...
    # df 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2)), so t = (2p - 1) / sqrt(2 p (1 - p)).
    assert t_quantile(0.975, 2) == pytest.approx(0.95 / math.sqrt(2 * 0.975 * 0.025), abs=1e-10)  # 4.3026527...
    assert t_quantile(0.9, 2) == pytest.approx(0.8 / math.sqrt(2 * 0.9 * 0.1), abs=1e-10)  # 1.8856180...


def test_t_cdf_matches_closed_forms() -> None:
    assert t_cdf(1.0, 1) == pytest.approx(0.5 + math.atan(1.0) / math.pi, abs=1e-12)  # = 0.75
    assert t_cdf(-2.0, 2) == pytest.approx(0.5 - 2.0 / (2 * math.sqrt(2 + 4)), abs=1e-12)  # = 0.0917517...
    assert t_cdf(0.0, 7) == pytest.approx(0.5, abs=1e-12)


def test_t_quantile_approaches_the_normal_for_large_df() -> None:
    # the normal's 97.5% point is 1.959964; t_{0.975, df} ~ z + (z^3 + z) / (4 df) = 1.959964 + 2.4e-6 at df 1e6
    assert t_quantile(0.975, 1000) == pytest.approx(1.962, abs=1e-3)  # table value at df 1000
    assert t_quantile(0.975, 10**5) == pytest.approx(1.960, abs=1e-3)  # 1.959964 + 0.000024
    assert t_quantile(0.975, 10**6) == pytest.approx(1.959964, abs=1e-5)
    # and it falls toward it as df grows
    assert t_quantile(0.975, 30) > t_quantile(0.975, 100) > t_quantile(0.975, 1000) > 1.959964


def test_t_quantile_is_antisymmetric() -> None:
    assert t_quantile(0.025, 3) == -t_quantile(0.975, 3)
    assert t_quantile(0.025, 3) == pytest.approx(-3.182, abs=1e-3)
    assert t_quantile(0.5, 4) == 0.0


@pytest.mark.parametrize(("p", "df"), [(0.975, 0), (0.975, -1), (0.0, 3), (1.0, 3), (-0.1, 3), (1.5, 3), (math.nan, 3)])
def test_t_quantile_rejects_bad_arguments(p: float, df: int) -> None:
    with pytest.raises(ValueError):
        t_quantile(p, df)


def test_mean_interval_of_three_values() -> None:
    got = mean_interval([0.5, 0.7, 0.9])
    # mean = (0.5 + 0.7 + 0.9) / 3 = 2.1 / 3 = 0.7
    assert got.mean == pytest.approx(0.7, abs=1e-12)
    # s = sqrt(((-0.2)^2 + 0^2 + 0.2^2) / (3 - 1)) = sqrt(0.08 / 2) = sqrt(0.04) = 0.2
    # t_{0.975, 2} = 4.302653 (table: 4.303), so half = 4.302653 * 0.2 / sqrt(3) = 0.8605306 / 1.7320508 = 0.496827
    half = 4.302653 * 0.2 / math.sqrt(3)
    assert half == pytest.approx(0.496827, abs=1e-6)
    assert got.half == pytest.approx(half, abs=1e-6)
    assert got.lo == pytest.approx(0.7 - 0.496827, abs=1e-6)  # 0.203173
    assert got.hi == pytest.approx(0.7 + 0.496827, abs=1e-6)  # 1.196827
    assert (got.n, got.level) == (3, 0.95)
    assert got.excludes_zero  # 0.203 > 0


def test_mean_interval_at_another_level() -> None:
    # 90%: t_{0.95, 2} = 0.9 / sqrt(2 * 0.95 * 0.05) = 0.9 / 0.3082207 = 2.919986 (table: 2.920)
    # half = 2.919986 * 0.2 / sqrt(3) = 0.5839971 / 1.7320508 = 0.337171
    got = mean_interval([0.5, 0.7, 0.9], level=0.90)
    assert got.half == pytest.approx(0.337171, abs=1e-6)
    assert got.level == 0.90


def test_mean_interval_of_one_value_has_no_interval() -> None:
    got = mean_interval([0.42])
    assert got == Interval(mean=0.42, lo=None, hi=None, n=1, level=0.95)
    assert got.half is None
    assert not got.excludes_zero  # 0.42 alone says nothing about the spread


def test_mean_interval_of_identical_values_has_zero_width() -> None:
    got = mean_interval([0.3, 0.3, 0.3])  # s = 0
    assert (got.lo, got.hi, got.half) == pytest.approx((0.3, 0.3, 0.0), abs=1e-12)


@pytest.mark.parametrize(
    ("values", "words"),
    [([], "no values"), ([0.1, None, 0.3], "None"), ([0.1, math.nan], "NaN"), ([math.inf, 0.2], "infinite")],
)
def test_mean_interval_rejects_missing_values(values: list, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        mean_interval(values)


@pytest.mark.parametrize("level", [0.0, 1.0, 95.0])
def test_mean_interval_rejects_a_bad_level(level: float) -> None:
    with pytest.raises(ValueError, match="level"):
        mean_interval([0.1, 0.2], level=level)


def test_interval_is_plain_json_data() -> None:
    got = mean_interval([0.5, 0.7, 0.9])
    data = json.loads(json.dumps(got.as_dict()))
    assert set(data) == {"mean", "lo", "hi", "half", "n", "level"}
    assert data["n"] == 3 and data["half"] == pytest.approx(0.496827, abs=1e-6)
    assert got.row() == got.as_dict()
    one = json.loads(json.dumps(mean_interval([1.0]).row()))
    assert one == {"mean": 1.0, "lo": None, "hi": None, "half": None, "n": 1, "level": 0.95}
    with pytest.raises(AttributeError):  # frozen
        got.mean = 0.0  # type: ignore[misc]


def test_paired_difference_uses_only_common_seeds() -> None:
    arm = {0: 0.6, 1: 0.8, 2: 0.7}
    baseline = {0: 0.5, 1: 0.6, 3: 0.9}
    got = paired_difference(arm, baseline)
    # seeds 0 and 1 only: diffs 0.6 - 0.5 = 0.1 and 0.8 - 0.6 = 0.2; mean (0.1 + 0.2) / 2 = 0.15
    assert got.n == 2
    assert got.mean == pytest.approx(0.15, abs=1e-12)
    # s = sqrt(((0.1 - 0.15)^2 + (0.2 - 0.15)^2) / 1) = sqrt(0.005) = 0.0707107
    # t_{0.975, 1} = 12.706205, so half = 12.706205 * 0.0707107 / sqrt(2) = 12.706205 * 0.05 = 0.635310
    assert got.half == pytest.approx(0.635310, abs=1e-6)
    assert got.lo == pytest.approx(0.15 - 0.635310, abs=1e-6)  # -0.485310
    assert got.hi == pytest.approx(0.15 + 0.635310, abs=1e-6)  # +0.785310
    assert not got.excludes_zero
    assert verdict(got) == "no difference detectable at 2 seeds"


def test_paired_difference_without_a_common_seed_raises() -> None:
    with pytest.raises(ValueError, match="no seed in common"):
        paired_difference({0: 0.5, 1: 0.6}, {2: 0.5, 3: 0.6})


def test_paired_difference_names_the_seed_of_a_missing_value() -> None:
    with pytest.raises(ValueError, match="baseline, seed 1 is NaN"):
        paired_difference({0: 0.5, 1: 0.6}, {0: 0.4, 1: math.nan})


# A clearly-better arm: diffs 0.10, 0.11, 0.12, 0.09 over seeds 0..3.
BETTER_ARM = {0: 0.60, 1: 0.61, 2: 0.62, 3: 0.59}
BASELINE = {0: 0.50, 1: 0.50, 2: 0.50, 3: 0.50}
# mean = (0.10 + 0.11 + 0.12 + 0.09) / 4 = 0.42 / 4 = 0.105
# deviations -0.005, +0.005, +0.015, -0.015; squares 0.000025 + 0.000025 + 0.000225 + 0.000225 = 0.0005
# s = sqrt(0.0005 / 3) = sqrt(0.000166667) = 0.0129099
# t_{0.975, 3} = 3.182446, half = 3.182446 * 0.0129099 / sqrt(4) = 0.0410851 / 2 = 0.0205425
# interval 0.105 -/+ 0.0205425 = 0.0844575 to 0.1255425: entirely above zero
BETTER_HALF = 0.0205425


def test_a_clearly_better_arm() -> None:
    got = paired_difference(BETTER_ARM, BASELINE)
    assert got.mean == pytest.approx(0.105, abs=1e-12)
    assert got.half == pytest.approx(BETTER_HALF, abs=1e-6)
    assert got.lo == pytest.approx(0.0844575, abs=1e-6)
    assert got.excludes_zero
    assert verdict(got) == "better"
    assert verdict(got, higher_is_better=False) == "worse"  # e.g. a loss that went up


def test_a_clearly_worse_arm() -> None:
    got = paired_difference(BASELINE, BETTER_ARM)  # mirrored: diffs -0.10, -0.11, -0.12, -0.09
    assert got.mean == pytest.approx(-0.105, abs=1e-12)
    assert got.hi == pytest.approx(-0.0844575, abs=1e-6)
    assert verdict(got) == "worse"
    assert verdict(got, higher_is_better=False) == "better"  # e.g. a loss that went down


def test_one_seed_gives_no_verdict() -> None:
    got = paired_difference({7: 0.9}, {7: 0.1})  # a big difference, but one seed
    assert got.mean == pytest.approx(0.8, abs=1e-12)
    assert verdict(got) == "no difference detectable at 1 seed"


def test_verdict_line_better() -> None:
    line = verdict_line("chord-mu", "sft-then-rl", paired_difference(BETTER_ARM, BASELINE), "score")
    # mean +0.105, interval 0.0844575 -> +0.084, 0.1255425 -> +0.126
    assert line == "chord-mu vs sft-then-rl: better (mean score +0.105, 95% interval +0.084 to +0.126, 4 paired seeds)"


def test_verdict_line_worse_with_lower_is_better() -> None:
    diff = paired_difference(BETTER_ARM, BASELINE)  # the arm's loss is higher
    line = verdict_line("chord-mu", "sft-then-rl", diff, "loss", higher_is_better=False)
    assert line.startswith("chord-mu vs sft-then-rl: worse (")
    assert "mean loss +0.105" in line and "4 paired seeds" in line


def test_verdict_line_no_difference() -> None:
    # diffs -0.01, +0.01, +0.03: mean 0.01; s = sqrt((0.02^2 + 0 + 0.02^2) / 2) = 0.02
    # half = 4.302653 * 0.02 / sqrt(3) = 0.0496827; interval -0.0396827 (-0.040) to +0.0596827 (+0.060)
    diff = paired_difference({0: 0.49, 1: 0.51, 2: 0.53}, {0: 0.50, 1: 0.50, 2: 0.50})
    assert diff.half == pytest.approx(0.0496827, abs=1e-6)
    line = verdict_line("chord-mu", "sft-then-rl", diff, "score")
    assert line == (
        "chord-mu vs sft-then-rl: no difference detectable at 3 seeds"
        " (mean score +0.010, 95% interval -0.040 to +0.060)"
    )


def test_verdict_line_one_seed() -> None:
    line = verdict_line("chord-mu", "sft-then-rl", paired_difference({7: 0.9}, {7: 0.1}), "score")
    assert line == "chord-mu vs sft-then-rl: no difference detectable at 1 seed (one seed gives no interval)"


def test_differences_without_spread_give_no_verdict() -> None:
    # two seeds, each +0.1 (.6 - .5 and .75 - .65, which differ in the last bit of a float): s is 0 or
    # rounding noise, and the zero-width "interval" lies above 0, yet says nothing about the spread
    diff = paired_difference({0: 0.6, 1: 0.75}, {0: 0.5, 1: 0.65})
    assert diff.half < 1e-12 and diff.lo > 0
    assert verdict(diff) == "no difference detectable at 2 seeds"
    assert verdict_line("a", "b", diff, "score") == "a vs b: no difference detectable at 2 seeds " + (
        "(mean score +0.100 on every seed: no spread, no interval)"
    )
