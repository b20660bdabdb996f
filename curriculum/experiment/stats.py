"""Honest statistics over seeds: a mean with its t interval, a paired difference, and a verdict.

The rules, so a reader can check any number by hand:

- **Interval of a mean** (`mean_interval`). For n values x_1..x_n: mean m = (x_1 + ... + x_n) / n, sample
  standard deviation s = sqrt(sum((x_i - m)^2) / (n - 1)), and the two-sided interval at `level` (0.95 unless
  told) is m -/+ t * s / sqrt(n), where t = `t_quantile((1 + level) / 2, n - 1)` is the Student-t quantile
  (2.776 for 4 seeds at 95%, 4.303 for 3, 12.706 for 2). One value gives a mean and no interval (lo = hi =
  None): one seed says nothing about the spread. No values, None or NaN (or an infinity) among them is an
  error; the caller decides what to leave out. n identical values give the zero-width interval m to m.
- **Paired difference** (`paired_difference`). Seeds are paired: the interval is that of the per-seed
  differences arm[s] - baseline[s], over the seeds both sides have (in seed order); a seed only one side
  has is left out. No common seed is an error.
- **Verdict** (`verdict`). With higher_is_better (the default): "better" when the whole interval lies above
  zero (lo > 0), "worse" when it lies below (hi < 0); with higher_is_better=False the two words swap. Any
  other case, including one seed, is "no difference detectable at {n} seed(s)" -- never "the same".
- **The t quantile** (`t_quantile`). The Student-t CDF is computed through the regularized incomplete beta
  function, P(T > t) = I_x(df/2, 1/2) / 2 with x = df / (df + t^2) for t >= 0 (continued fraction by Lentz's
  method, as `betacf` in Numerical Recipes, with `math.lgamma`), and inverted by bisection to a relative
  1e-12. Standard library only (`math`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

_EPS = 1e-16  # continued-fraction convergence: relative change of one step
_FPMIN = 1e-300  # Lentz's guard against a zero denominator


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (Numerical Recipes `betacf`, modified Lentz).
    Converges fast for x < (a + 1) / (a + b + 2), in O(sqrt(max(a, b))) terms."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) >= _FPMIN else _FPMIN)
    h = d
    for m in range(1, 1000 + 10 * int(math.sqrt(max(a, b)))):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),  # even step
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),  # odd step
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) >= _FPMIN else _FPMIN)
            c = 1.0 + aa / c
            c = c if abs(c) >= _FPMIN else _FPMIN
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta: continued fraction did not converge (a={a}, b={b}, x={x})")


def _betai(a: float, b: float, x: float, one_minus_x: float) -> float:
    """The regularized incomplete beta function I_x(a, b); 1 - x is passed as computed by the caller, so
    it keeps its digits when x is close to 1."""
    if x <= 0.0:
        return 0.0
    if one_minus_x <= 0.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(one_minus_x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, one_minus_x) / b


def _upper_tail(t: float, df: int) -> float:
    """P(T > t) for t >= 0: I_x(df/2, 1/2) / 2 with x = df / (df + t^2)."""
    denom = df + t * t
    return 0.5 * _betai(df / 2.0, 0.5, df / denom, t * t / denom)


def _check_df(df: int) -> None:
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"degrees of freedom must be an integer >= 1, got {df!r}")


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom."""
    _check_df(df)
    if math.isnan(t):
        raise ValueError("t is NaN")
    return 1.0 - _upper_tail(t, df) if t >= 0 else _upper_tail(-t, df)


def t_quantile(p: float, df: int) -> float:
    """The t with P(T <= t) = p, for Student's t with `df` degrees of freedom (the inverse CDF).
    Exactly antisymmetric: t_quantile(p, df) == -t_quantile(1 - p, df) for p < 1/2."""
    _check_df(df)
    if not 0.0 < p < 1.0:  # also catches NaN
        raise ValueError(f"p must lie strictly between 0 and 1, got {p!r}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    q = 1.0 - p  # the upper tail to hit; solved on the tail, not on 1 - tail, to keep its digits
    lo, hi = 0.0, 1.0
    while _upper_tail(hi, df) > q:  # the tail falls as t grows: bracket [lo, hi] with tail(lo) > q >= tail(hi)
        lo, hi = hi, 2.0 * hi
        if hi > 1e300:
            raise ArithmeticError(f"t quantile out of range (p={p}, df={df})")
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if hi - lo <= 1e-12 * hi or mid in (lo, hi):
            break
        if _upper_tail(mid, df) > q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Interval:
    """A mean over n values and its two-sided interval at `level`; lo and hi are None when n = 1."""

    mean: float
    lo: float | None
    hi: float | None
    n: int
    level: float

    @property
    def half(self) -> float | None:
        """Half the width of the interval (t * s / sqrt(n)); None when there is no interval."""
        if self.lo is None or self.hi is None:
            return None
        return (self.hi - self.lo) / 2.0

    @property
    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of zero; False when there is no interval."""
        if self.lo is None or self.hi is None:
            return False
        return self.lo > 0.0 or self.hi < 0.0

    def as_dict(self) -> dict[str, float | int | None]:
        """The interval as plain JSON-able data: mean, lo, hi, half, n, level."""
        return {"mean": self.mean, "lo": self.lo, "hi": self.hi, "half": self.half, "n": self.n, "level": self.level}

    def row(self) -> dict[str, float | int | None]:
        """One table row: the same as `as_dict`."""
        return self.as_dict()


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")


def _check_value(value: object, where: str) -> float:
    if value is None:
        raise ValueError(f"{where} is None (a missing value): leave it out before computing an interval")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where} is not a number: {value!r}")
    if math.isnan(value):
        raise ValueError(f"{where} is NaN: leave it out before computing an interval")
    if math.isinf(value):
        raise ValueError(f"{where} is infinite ({value}): an interval needs finite values")
    return float(value)


def mean_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """The mean of `values` and its two-sided t interval: mean -/+ t((1 + level) / 2, n - 1) * s / sqrt(n),
    s the sample standard deviation (n - 1 denominator). One value: lo = hi = None."""
    _check_level(level)
    xs = [_check_value(v, f"value {i}") for i, v in enumerate(values)]
    n = len(xs)
    if n == 0:
        raise ValueError("no values: an interval needs at least one")
    mean = math.fsum(xs) / n
    if n == 1:
        return Interval(mean=mean, lo=None, hi=None, n=1, level=level)
    s = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile((1.0 + level) / 2.0, n - 1) * s / math.sqrt(n)
    return Interval(mean=mean, lo=mean - half, hi=mean + half, n=n, level=level)


def paired_difference(arm: dict[int, float], baseline: dict[int, float], level: float = 0.95) -> Interval:
    """The interval of the per-seed differences arm[s] - baseline[s], over the seeds both have (sorted)."""
    seeds = sorted(set(arm) & set(baseline))
    if not seeds:
        raise ValueError(f"no seed in common: arm has seeds {sorted(arm)}, baseline has seeds {sorted(baseline)}")
    diffs = [_check_value(arm[s], f"arm, seed {s}") - _check_value(baseline[s], f"baseline, seed {s}") for s in seeds]
    return mean_interval(diffs, level)


def _seeds(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def _no_spread(diff: Interval) -> bool:
    """Every seed gave the same difference (up to float rounding: 1e-12)."""
    return diff.half is not None and diff.half <= 1e-12


def verdict(diff: Interval, higher_is_better: bool = True) -> str:
    """The verdict on a paired difference (arm - baseline): "better" when its interval lies entirely above
    zero (entirely below when lower is better), "worse" in the mirror case, else "no difference detectable at
    {n} seed(s)". Differences with no spread (every seed the same, s = 0) give a zero-width interval that
    says nothing about the spread either: no verdict beyond "no difference detectable"."""
    if _no_spread(diff):
        return f"no difference detectable at {_seeds(diff.n)}"
    if diff.lo is not None and diff.lo > 0.0:
        return "better" if higher_is_better else "worse"
    if diff.hi is not None and diff.hi < 0.0:
        return "worse" if higher_is_better else "better"
    return f"no difference detectable at {_seeds(diff.n)}"


def verdict_line(arm: str, baseline: str, diff: Interval, metric: str, higher_is_better: bool = True) -> str:
    """One sentence: the verdict of `arm` against `baseline` with its numbers (signed, 3 decimals), e.g.
    `chord-mu vs sft-then-rl: better (mean score +0.052, 95% interval +0.012 to +0.092, 3 paired seeds)`."""
    said = verdict(diff, higher_is_better)
    head = f"{arm} vs {baseline}: {said}"
    if diff.lo is None or diff.hi is None:
        return f"{head} (one seed gives no interval)"
    if _no_spread(diff):
        return f"{head} (mean {metric} {diff.mean:+.3f} on every seed: no spread, no interval)"
    numbers = f"mean {metric} {diff.mean:+.3f}, {diff.level * 100:g}% interval {diff.lo:+.3f} to {diff.hi:+.3f}"
    if said in ("better", "worse"):
        return f"{head} ({numbers}, {diff.n} paired seed{'s' if diff.n != 1 else ''})"
    return f"{head} ({numbers})"
