"""Stacked bar charts drawn on the server as SVG shapes (no chart script: the CSP allows no inline code)."""

from __future__ import annotations

from collections.abc import Sequence

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 180, 44, 22, 8


def _nice_max(value: int) -> int:
    """A round axis maximum at or above value."""
    if value <= 4:
        return 4
    step = 10 ** (len(str(value)) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * step:
            return int(factor * step)
    return value


def stacked_bars(days: list[dict], series: Sequence[tuple[str, str, str]], *, noun: str = "") -> dict:
    """One stacked bar a day: `days` are {"date", "total", "outcomes": {key: n}}, `series` (key, colour, label)."""
    peak = _nice_max(max((d["total"] for d in days), default=0))
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(1, len(days))
    bar_w = max(2.0, slot * 0.7)
    bars, labels = [], []
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar_w) / 2
        y = TOP + plot_h
        for key, colour, label in series:
            count = day["outcomes"].get(key, 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            bars.append({"x": round(x, 1), "y": round(y, 1), "w": round(bar_w, 1), "h": round(max(h, 0.5), 1),
                         "fill": colour, "title": f"{day['date']}: {count} {noun}{label.lower()}".strip()})
        if (len(days) - 1 - i) % 7 == 0:  # today, and every week back from it
            labels.append({"x": round(x + bar_w / 2, 1), "text": day["date"][5:]})
    grid = [{"y": round(TOP + plot_h - plot_h * f, 1), "label": f"{int(peak * f):,}"} for f in (0, 0.5, 1)]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - 4, "base": TOP + plot_h, "bars": bars,
            "labels": labels, "grid": grid, "legend": [(colour, label) for _key, colour, label in series],
            "total": sum(d["total"] for d in days), "days": len(days)}
