"""The home page's two charts: runs per day by outcome, and API calls per day by outcome (portal.charts draws them)."""

from __future__ import annotations

from portal.charts import stacked_bars
from portal.keys.chart import usage_chart

RUN_SERIES = (
    ("succeeded", "#2e7d32", "Succeeded"),
    ("failed", "#c62828", "Failed"),
    ("cancelled", "#757575", "Cancelled"),
    ("rejected", "#8e24aa", "Rejected"),
    ("active", "#1565c0", "Queued, running or waiting"),
)


def runs_chart(days: list[dict]) -> dict:
    """Stacked bars of runs started each day, by how they ended."""
    return stacked_bars(days, RUN_SERIES, noun="runs ")


def api_chart(days: list[dict]) -> dict | None:
    """Stacked bars of the org's API requests each day, by outcome; None when the member may not see them."""
    return usage_chart(days) if days else None
