"""The report's sparkline, by hand: eight bars over [lo, hi], the top eighth full."""

from curriculum.views.charts import sparkline


def test_sparkline_by_hand():
    # 0.19 * 8 = 1.52 -> bar 1; 0.33 * 8 = 2.64 -> bar 2; 0.78 * 8 = 6.24 -> bar 6; 1.0 -> the top bar (7)
    assert sparkline([0.0, 0.19, 0.33, 0.78, 1.0]) == "▁▂▃▇█"
    assert sparkline([None, -1.0, 2.0]) == " ▁█"  # missing, and values clipped to [lo, hi]
    assert sparkline([5.0, 7.5, 10.0], lo=5.0, hi=10.0) == "▁▅█"  # 0.5 * 8 = 4 -> bar 4
    assert sparkline([1.0], lo=1.0, hi=1.0) == "▁"  # an empty range: the lowest bar


def test_heat_style_bands_by_hand():
    """Five bands of [0, 1], each closed below: [0, 0.2) red ... [0.8, 1] green; outside clipped, missing unstyled."""
    from curriculum.views.charts import HEAT, heat_style

    red, orange, yellow, light_green, green = HEAT
    assert "red" in red and "green" in green and len(set(HEAT)) == 5
    assert [heat_style(v) for v in (0.0, 0.199, 0.2, 0.399, 0.4, 0.599, 0.6, 0.799, 0.8, 1.0)] == [
        red, red, orange, orange, yellow, yellow, light_green, light_green, green, green
    ]  # fmt: skip
    assert heat_style(-0.5) == red and heat_style(1.5) == green and heat_style(float("inf")) == green
    assert heat_style(None) == "" and heat_style(float("nan")) == ""
