"""The dashboard: the desk's headline figures and charts, as GET /reports/desk answers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from controller.console import charts
from controller.console.pages import PRIORITY_NAMES, Api, Me, render, templates

router = APIRouter()
WINDOWS = (7, 30, 90)


def _duration(seconds: int | None) -> str:
    """'2 d 4 h', '3 h 20 min' or '45 min': how long, at a glance."""
    if seconds is None:
        return "n/a"
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


templates.env.filters["duration"] = _duration
templates.env.filters["percent"] = _percent


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request, api: Api, me: Me, days: str = "30") -> HTMLResponse:
    # Passed on as given: the API checks it (an error page names the field), and any window
    # it accepts may be linked to; the selector offers the usual three.
    report = await api.get("/reports/desk", days=days)
    backlog = report["backlog"]
    by_priority = charts.bar_chart(
        [
            (f"P{level} {name}", backlog["by_priority"][str(level)], f"p{level}")
            for level, name in PRIORITY_NAMES.items()
        ]
    )
    return render(
        request,
        api,
        "dashboard.html",
        section="dashboard",
        report=report,
        windows=WINDOWS,
        by_priority=by_priority,
        per_day=charts.days_chart(backlog["per_day"]),
        sla_gauge=charts.gauge(report["resolution"]["sla_compliance_percent"]),
        fcr_gauge=charts.gauge(report["resolution"]["fcr_percent"]),
    )
