"""The report's sparkline, by hand: eight bars over [lo, hi], the top eighth full."""

from curriculum.views.charts import sparkline


def test_sparkline_by_hand():
    # 0.19 * 8 = 1.52 -> bar 1; 0.33 * 8 = 2.64 -> bar 2; 0.78 * 8 = 6.24 -> bar 6; 1.0 -> the top bar (7)
    assert sparkline([0.0, 0.19, 0.33, 0.78, 1.0]) == "▁▂▃▇█"
    assert sparkline([None, -1.0, 2.0]) == " ▁█"  # missing, and values clipped to [lo, hi]
    assert sparkline([5.0, 7.5, 10.0], lo=5.0, hi=10.0) == "▁▅█"  # 0.5 * 8 = 4 -> bar 4
    assert sparkline([1.0], lo=1.0, hi=1.0) == "▁"  # an empty range: the lowest bar
