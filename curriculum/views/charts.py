"""Text charts for the terminal."""

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
