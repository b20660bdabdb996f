"""Trends and phase labels on synthetic curves whose expected labels are written out by hand."""

import pytest

from curriculum.signals.phases import detect_phases, slope

# ------------------------------------------------------------------------------------------------ slope


def test_slope_of_a_line():
    # values rise 1 per 10 steps -> 0.1 per step
    assert slope([(0, 1.0), (10, 2.0), (20, 3.0)], window=3) == pytest.approx(0.1)


def test_slope_is_least_squares():
    # x = 0, 1, 2; y = 0, 1, 1; mean x = 1, mean y = 2/3
    # sxy = (-1)(-2/3) + 0 + (1)(1/3) = 1; sxx = 1 + 0 + 1 = 2; slope = 1/2
    assert slope([(0, 0.0), (1, 1.0), (2, 1.0)], window=3) == pytest.approx(0.5)


def test_slope_uses_only_the_last_window_points():
    # the first point (0, 5.0) would make the slope negative; the last three rise 0.1 per step
    points = [(0, 5.0), (10, 0.0), (20, 1.0), (30, 2.0)]
    assert slope(points, window=3) == pytest.approx(0.1)
    assert slope(points, window=4) < 0


def test_slope_needs_two_distinct_steps():
    assert slope([], window=5) is None
    assert slope([(0, 1.0)], window=5) is None
    assert slope([(0, 1.0), (10, 2.0)], window=1) is None
    assert slope([(3, 1.0), (3, 2.0)], window=2) is None


def test_slope_of_an_entropy_history():
    # entropy 2.0 -> 1.0 over 20 steps = -0.05 per step; one point has no slope
    assert slope([(0, 2.0), (10, 1.5), (20, 1.0)], window=3) == pytest.approx(-0.05)
    assert slope([(0, 1.0)], window=3) is None


# ----------------------------------------------------------------------------------------------- phases


def _curve(*values, every=10):
    return [(i * every, v) for i, v in enumerate(values)]


FALLING = [(t, 2.0 - 0.01 * t) for t in range(0, 100)]  # SFT loss, logged every step, always falling
FLAT_LATE = [(t, max(2.0 - 0.01 * t, 1.4)) for t in range(0, 100)]  # falls until step 60, then flat
RISING_LATE = [(t, 2.0 - 0.01 * t if t <= 60 else 1.4 + 0.01 * (t - 60)) for t in range(0, 100)]

# drop 0.50 -> 0.40, recover to 0.60 (> start + drop), plateau, decline 0.60 -> 0.50 (steps 0..90)
ARC = _curve(0.50, 0.44, 0.40, 0.47, 0.55, 0.60, 0.60, 0.56, 0.52, 0.50)


def test_flat_curve_is_stable():
    assert detect_phases(_curve(0.5, 0.5, 0.5, 0.5), FALLING) == ["start", "stable", "stable", "stable"]


def test_noise_within_thresholds_is_stable():
    # start 0.50: nothing below 0.48 (no shift), the best 0.515 is not above 0.52 (no overfit)
    scores = _curve(0.50, 0.51, 0.49, 0.515, 0.485, 0.50, 0.49)
    assert detect_phases(scores, FALLING) == ["start"] + ["stable"] * 6


def test_pure_shift_drops_and_stays_down():
    # below 0.50 - 0.02 = 0.48 from the first eval; the 0.42 -> 0.43 upticks are within 0.02 of the low
    scores = _curve(0.50, 0.45, 0.42, 0.43, 0.42, 0.43)
    assert detect_phases(scores, FALLING) == ["start", "shift", "shift", "shift", "shift", "shift"]


def test_shift_then_readapt():
    # 0.45 rose from 0.40 and is > 0.40 + 0.02: readapt, though still below the start;
    # 0.50 and 0.53 keep climbing; the repeated 0.53 does not rise: stable
    scores = _curve(0.50, 0.44, 0.40, 0.45, 0.50, 0.53, 0.53)
    expected = ["start", "shift", "shift", "readapt", "readapt", "readapt", "stable"]
    assert detect_phases(scores, FALLING) == expected


def test_full_three_phase_arc():
    # best 0.60 (> 0.52), overfit line 0.60 - 0.03 = 0.57, patience 2:
    #   step 70 (0.56): window (0.60, 0.56) -> 0.60 not below 0.57: stable
    #   step 80 (0.52): window (0.56, 0.52) both below; SFT loss falls over steps 60..80: overfit
    #   step 90 (0.50): window (0.52, 0.50); loss falls over 70..90: overfit
    expected = ["start", "shift", "shift", "readapt", "readapt", "readapt", "stable", "stable", "overfit", "overfit"]
    assert detect_phases(ARC, FALLING) == expected
    assert detect_phases(ARC, None) == expected  # without a loss the decline alone decides


@pytest.mark.parametrize("loss", [FLAT_LATE, RISING_LATE], ids=["flat", "rising"])
def test_decline_without_falling_sft_loss_is_not_overfit(loss):
    # same arc; over steps 60..90 the SFT loss is flat (slope 0) or rising: the decline is stable
    expected = ["start", "shift", "shift", "readapt", "readapt", "readapt", "stable", "stable", "stable", "stable"]
    assert detect_phases(ARC, loss) == expected


def test_patience_sets_how_many_evals_the_decline_must_last():
    # patience 1: step 70 (0.56 < 0.57) is already overfit
    # patience 3: step 80's window (0.60, 0.56, 0.52) holds 0.60: stable; step 90's (0.56, 0.52, 0.50): overfit
    head = ["start", "shift", "shift", "readapt", "readapt", "readapt", "stable"]
    assert detect_phases(ARC, FALLING, patience=1) == head + ["overfit", "overfit", "overfit"]
    assert detect_phases(ARC, FALLING, patience=3) == head + ["stable", "stable", "overfit"]


def test_rise_then_fall_below_start_is_overfit_not_shift():
    # no shift first: 0.56 and 0.60 rose and stand above 0.50 + 0.02: gain (readapt needs a shift);
    # 0.55 is one eval below 0.57; 0.50 and 0.46 are overfit (rule 2 comes before rule 5, though 0.46 < 0.48)
    scores = _curve(0.50, 0.56, 0.60, 0.55, 0.50, 0.46)
    assert detect_phases(scores, FALLING) == ["start", "gain", "gain", "stable", "overfit", "overfit"]


def test_gain_needs_a_rise_above_the_start_and_no_shift_before():
    # 0.51 rose but is not above 0.52: stable; 0.53 rose above 0.52: gain; 0.53 again did not rise: stable;
    # 0.60 gain. After a shift the same climb is readapt: 0.46 rose more than 0.02 from the low 0.40.
    assert detect_phases(_curve(0.50, 0.51, 0.53, 0.53, 0.60), FALLING) == [
        "start",
        "stable",
        "gain",
        "stable",
        "gain",
    ]
    assert detect_phases(_curve(0.50, 0.40, 0.46, 0.60), FALLING) == ["start", "shift", "readapt", "readapt"]


def test_too_few_loss_points_is_not_a_fall():
    # a single loss point cannot show a fall over steps 60..90
    assert detect_phases(ARC, [(0, 2.0)])[-2:] == ["stable", "stable"]


def test_thresholds_are_parameters():
    # drop 0.08: shift line 0.50 - 0.08 = 0.42, so the 0.44 dip is stable and 0.40 a shift;
    # 0.47 rose but is not more than 0.08 above the low 0.40 (0.48): stable, not readapt;
    # 0.55 and 0.60 climb past 0.48: readapt; best 0.60 > 0.58 still allows overfit (line 0.57)
    labels = detect_phases(ARC, FALLING, drop=0.08)
    expected = ["start", "stable", "shift", "stable", "readapt", "readapt", "stable", "stable", "overfit", "overfit"]
    assert labels == expected
    # overfit_drop 0.09: the line 0.60 - 0.09 = 0.51 is crossed only at step 90, one eval: no overfit yet
    assert detect_phases(ARC, FALLING, overfit_drop=0.09)[-3:] == ["stable", "stable", "stable"]


def test_bad_input():
    assert detect_phases([]) == []
    with pytest.raises(ValueError, match="strictly increasing"):
        detect_phases([(0, 0.5), (0, 0.6)])
    with pytest.raises(ValueError, match="patience"):
        detect_phases(ARC, patience=0)
