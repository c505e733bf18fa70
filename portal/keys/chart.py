"""The key usage chart: requests per day stacked by outcome (portal.charts draws it)."""

from __future__ import annotations

from portal.charts import stacked_bars
from portal.keys.models import OUTCOMES

COLORS = {"2xx": "#2e7d32", "4xx": "#f9a825", "402": "#8e24aa", "429": "#ef6c00", "5xx": "#c62828"}
LABELS = {"2xx": "Success (2xx)", "4xx": "Client errors (4xx)", "402": "Over the plan's calls (402)", "429": "Rate limited (429)", "5xx": "Server errors (5xx)"}


def usage_chart(days: list[dict]) -> dict:
    """Stacked bars by outcome, one a day: the shapes the template draws."""
    return stacked_bars(days, [(o, COLORS[o], LABELS[o]) for o in OUTCOMES])
