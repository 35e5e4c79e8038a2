"""Templates and the filters they use."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from bot.web.chart import bar_chart
from governance.durations import format_duration

TEMPLATES = Path(__file__).parent / "templates"


def when(value: str | None) -> str:
    """An ISO moment as people read it: `2026-01-05 09:00 UTC`."""
    if not value:
        return "—"
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")


def day(value: str) -> str:
    """An ISO day as people read it: `Monday 2026-01-05`."""
    return date.fromisoformat(value).strftime("%A %Y-%m-%d")


def local(value: str) -> str:
    """An ISO moment at its own offset, without it: `2026-01-05 10:00`."""
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")


def clock(seconds: int | None) -> str:
    """Time left, or how long overdue."""
    if seconds is None:
        return "no deadline yet"
    if seconds <= 0:
        return f"overdue by {format_duration(timedelta(seconds=-seconds))}"
    return f"{format_duration(timedelta(seconds=seconds))} left"


def chart(rows: list[dict[str, Any]], key: str, title: str, unit: str, chart_id: str) -> Markup:
    """A bar chart of `row[key]` per `row["month"]`."""
    points = [(row["month"], row[key]) for row in rows]
    return Markup(bar_chart(points, title=title, unit=unit, chart_id=chart_id))


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.filters["when"] = when
    env.filters["clock"] = clock
    env.filters["day"] = day
    env.filters["local"] = local
    env.globals["chart"] = chart
    return env


def render(env: Environment, template: str, **context: Any) -> str:
    return env.get_template(template).render(**context)
