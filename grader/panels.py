"""Report panels: figures built from several checks' details, as a spec's ``report:`` section lists them.

A check judges one thing; some pictures compare several (the learning curves of three training variants,
their accuracies side by side). Panels gather those details after scoring, on the trusted side, into the
figure data of ``grader/figures.py``; checks that did not run or returned nothing usable are left out.
"""

from __future__ import annotations

from typing import Any

from grader import figures
from grader.results import CheckResult
from grader.spec import Panel


def _numbers(value: Any) -> list[float] | None:
    if not isinstance(value, list) or not value:
        return None
    return [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan") for v in value]


def build_panels(panels: list[Panel], checks: list[CheckResult]) -> list[dict[str, Any]]:
    """One figure per panel that has anything to show."""
    by_id = {check.id: check for check in checks if check.status != "skipped"}
    built = []
    for panel in panels:
        sources = [(label, by_id[cid].details.get(panel.source)) for cid, label in panel.checks.items() if cid in by_id]
        if panel.kind == "line_chart":
            series = [(label, values) for label, raw in sources if (values := _numbers(raw)) is not None]
            if series:
                built.append(figures.line_chart(panel.title, series, panel.x_label, panel.y_label))
        else:
            rows = [[label, *(raw.get(key) for key in panel.columns)] for label, raw in sources if isinstance(raw, dict)]
            if rows:
                built.append(figures.table(panel.title, ["", *panel.columns.values()], rows))
    return built
