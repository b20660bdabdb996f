"""Phases: trends of a metric history and the phase of a held-out score curve (pure functions).

`slope` gives the least-squares trend of recent (step, value) points, e.g. per-task entropy
(`eval/<task>/entropy`) or output diversity, which structured tasks shrink and creative tasks expand
under RL.

`detect_phases` labels each eval point of a held-out score curve with the phase of the arc that staged
SFT-then-RL goes through when the demonstrations differ from what the model already does (CHORD,
arXiv 2508.11408, Sec. 3): the score first drops (policy shift), then recovers above the start
(readaptation), then declines while the SFT loss still falls (overfitting). A task whose demonstrations teach what the
model can already do once shown, without pulling it down first, just rises (gain).

Rules, for scores s_0, s_1, ... at steps t_0 < t_1 < ...; the first that matches gives point i its label:

1. "start": i = 0.
2. "overfit": the running best B = max(s_0..s_i) exceeds the start by more than `drop` (B > s_0 + drop:
   training did improve on the start); the last `patience` points s_{i-patience+1}..s_i are all below
   B - `overfit_drop`; and, if `sft_loss` is given, its least-squares slope over the steps
   t_{i-patience}..t_i (the decline and the eval before it) is negative. Fewer than 2 loss points in that
   range is not a fall. Without `sft_loss` the score decline alone decides.
   So the first `patience` - 1 points of a decline get another label, and the patience-th is "overfit".
3. "readapt": a "shift" was labelled earlier, the score rose since the previous point (s_i > s_{i-1}),
   and it stands more than `drop` above the lowest score so far (s_i > min(s_0..s_i) + drop), so an
   uptick within the noise band at the bottom of a shift stays "shift". It covers the whole climb back,
   below the start and above it.
4. "gain": no "shift" was labelled earlier, the score rose since the previous point (s_i > s_{i-1}),
   and it stands more than `drop` above the start (s_i > s_0 + drop): improvement with no shift first.
5. "shift": s_i < s_0 - `drop`, and the run has not recovered yet: no point after the first "shift" has
   reached the start (s_j >= s_0). A later fall below the start is overfitting or noise, not a new shift.
6. "stable": anything else (flat, within the thresholds, plateaus, declines without a falling SFT loss).

Defaults: drop = 0.02 and overfit_drop = 0.03 (absolute score units, for scores in [0, 1]), patience = 2.
"""

from __future__ import annotations

from collections.abc import Sequence

Points = Sequence[tuple[int, float]]


def slope(points: Points, window: int) -> float | None:
    """Least-squares slope (value per step) of the last `window` (step, value) points.

    None with fewer than 2 points in the window, or when they all share one step.
    """
    recent = list(points)[-window:] if window > 0 else []
    if len(recent) < 2:
        return None
    xs = [float(step) for step, _ in recent]
    ys = [float(value) for _, value in recent]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def _sft_falling(sft_loss: Points, start: int, end: int) -> bool:
    """Whether the SFT loss points with start <= step <= end have a negative least-squares slope."""
    inside = [(step, value) for step, value in sft_loss if start <= step <= end]
    s = slope(inside, len(inside))
    return s is not None and s < 0


def detect_phases(
    scores: Points,
    sft_loss: Points | None = None,
    *,
    drop: float = 0.02,
    overfit_drop: float = 0.03,
    patience: int = 2,
) -> list[str]:
    """One phase label per eval point of `scores` (see the module docstring for the exact rules).

    `scores` and `sft_loss` are (step, value) lists in step order, e.g. `Measurements.scores[task]` and the
    run's `train/sft_loss` rows; the loss may be logged at any steps (every training step is fine).
    """
    if patience < 1:
        raise ValueError(f"patience must be at least 1, got {patience}")
    steps = [int(step) for step, _ in scores]
    s = [float(value) for _, value in scores]
    if any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError("score steps must be strictly increasing")

    labels: list[str] = []
    shifted = recovered = False
    for i, si in enumerate(s):
        if i == 0:
            labels.append("start")
            continue
        best, lowest = max(s[: i + 1]), min(s[: i + 1])
        declined = (
            best > s[0] + drop
            and i >= patience
            and all(v < best - overfit_drop for v in s[i - patience + 1 : i + 1])
            and (sft_loss is None or _sft_falling(sft_loss, steps[i - patience], steps[i]))
        )
        if declined:
            label = "overfit"
        elif shifted and si > s[i - 1] and si > lowest + drop:
            label = "readapt"
        elif not shifted and si > s[i - 1] and si > s[0] + drop:
            label = "gain"
        elif si < s[0] - drop and not recovered:
            label = "shift"
        else:
            label = "stable"
        labels.append(label)
        shifted = shifted or label == "shift"
        recovered = recovered or (shifted and si >= s[0])
    return labels
