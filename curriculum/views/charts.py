"""Text charts for the terminal: mu over steps, sparklines, the colours of a heat table."""

from __future__ import annotations

BLOCKS = " ▁▂▃▄▅▆▇█"


def mu_chart(values: list[float], width: int = 64, height: int = 5) -> list[str]:
    """A block chart of mu in [0, 1]: `height` text rows, `width` columns (each the mean of its steps)."""
    if not values:
        return []
    width = min(width, len(values))
    cols = []
    for c in range(width):
        lo = c * len(values) // width
        hi = max((c + 1) * len(values) // width, lo + 1)
        cols.append(sum(values[lo:hi]) / (hi - lo))
    rows = []
    for r in range(height - 1, -1, -1):  # top row first
        cells = "".join(BLOCKS[max(0, min(8, round((v * height - r) * 8)))] for v in cols)
        rows.append(("1.0 │" if r == height - 1 else "    │") + cells)
    last = str(len(values) - 1)
    rows.append("0.0 └" + "─" * width)
    rows.append("     0" + last.rjust(width - 1))
    return rows


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], lo: float = 0.0, hi: float = 1.0) -> str:
    """One character per value: its place in [lo, hi] as one of eight bars (the top eighth is the full bar);
    a missing value is a space."""
    out = []
    for v in values:
        if v is None:
            out.append(" ")
            continue
        share = 0.0 if hi <= lo else (min(max(v, lo), hi) - lo) / (hi - lo)
        out.append(SPARKS[min(len(SPARKS) - 1, int(share * len(SPARKS)))])
    return "".join(out)


# A heat table's five bands over [0, 1], low to high: red, orange, yellow, light green, green, from the 256-colour
# palette; rich lowers them to what the terminal has (16 colours: red, bright red, bright yellow, bright green,
# green, still in order) or drops them. The text is white on the two dark ends, black on the rest.
HEAT = (
    "bright_white on red3",
    "black on dark_orange",
    "black on gold1",
    "black on chartreuse3",
    "bright_white on green4",
)


def heat_style(value: float | None) -> str:
    """The rich style of a score cell in a heat table: the band of [0, 1] the score falls in, each a fifth wide
    and closed below (0.2 is in the second band; 1.0 in the last); scores outside [0, 1] take the nearest end.
    A missing score (None, NaN) gets no style."""
    if value is None or value != value:
        return ""
    share = min(max(value, 0.0), 1.0)
    return HEAT[min(len(HEAT) - 1, int(share * len(HEAT)))]
