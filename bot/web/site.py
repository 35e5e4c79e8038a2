"""The public pages on Roadie's aiohttp server: `<path>/<page>` in HTML and
`<path>/api/<page>` in JSON, each with an ETag and Cache-Control (304 on If-None-Match)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from aiohttp import web

from bot.config import RoadieConfig
from bot.core.cog import Destinations
from bot.web.pages import Page, pages
from bot.web.render import environment, render
from bot.web.settings import WebSection
from governance.clock import Clock
from governance.db import Database
from governance.durations import parse_duration
from governance.public.scope import Scope

CACHE_CONTROL = "public, max-age=30"
STYLE = Path(__file__).parent / "static" / "style.css"


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _answer(request: web.Request, body: bytes, content_type: str,
            cache_control: str = CACHE_CONTROL) -> web.Response:
    tag = _etag(body)
    headers = {"ETag": tag, "Cache-Control": cache_control}
    asked = request.headers.get("If-None-Match", "")
    if tag in (t.strip().removeprefix("W/") for t in asked.split(",")) or asked.strip() == "*":
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=content_type, charset="utf-8",
                        headers=headers)


def mount(app: web.Application, *, db: Database, clock: Clock, settings: WebSection,
          stuck_after: timedelta, feeds_of: Callable[[str], list[str]], org: str,
          digest_zone: tzinfo = UTC) -> None:
    """Add the pages' routes under `settings.path`."""
    root = settings.path
    env = environment()
    style = STYLE.read_bytes()
    site = pages(stuck_after=stuck_after, feeds_of=feeds_of, digest_zone=digest_zone)

    async def read(page: Page) -> dict[str, object]:
        scope = Scope(now=clock.now(), publish_private_repos=settings.publish_private_repos)
        return await db.autocommit(lambda session: page.read(session, scope))

    def html_view(page: Page) -> Callable[[web.Request], object]:
        async def view(request: web.Request) -> web.Response:
            data = await read(page)
            text = render(env, f"{page.name}.html", page=page, pages=site, root=root, org=org,
                          data=data, api=f"{root}/api/{page.name}")
            return _answer(request, text.encode(), "text/html")
        return view

    def json_view(page: Page) -> Callable[[web.Request], object]:
        async def view(request: web.Request) -> web.Response:
            data = await read(page)
            body = orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
            return _answer(request, body, "application/json")
        return view

    async def stylesheet(request: web.Request) -> web.Response:
        return _answer(request, style, "text/css", "public, max-age=3600")

    async def api_index(request: web.Request) -> web.Response:
        body = orjson.dumps({"pages": {p.name: f"{root}/api/{p.name}" for p in site}})
        return _answer(request, body, "application/json")

    for page in site:
        app.router.add_get(f"{root}/{page.name}", html_view(page))  # type: ignore[arg-type]
        app.router.add_get(f"{root}/api/{page.name}", json_view(page))  # type: ignore[arg-type]
    app.router.add_get(f"{root}/", html_view(site[0]))  # type: ignore[arg-type]
    if root:
        app.router.add_get(root, html_view(site[0]))  # type: ignore[arg-type]
    app.router.add_get(f"{root}/api", api_index)
    app.router.add_get(f"{root}/style.css", stylesheet)


def _cog_setting(config: RoadieConfig, section: str, key: str, default: str) -> str:
    found = config.cog_sections.get(section)
    return str((found if isinstance(found, dict) else {}).get(key, default))


def _zone(name: str) -> tzinfo:
    """The digest's timezone; the digest's own settings refuse a wrong one at start-up, so a
    wrong one here is a section of a digest that is not loaded: UTC, as the page says."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def mount_for(app: web.Application, config: RoadieConfig, *, db: Database, clock: Clock,
              destinations: Destinations) -> None:
    """`mount` with what the config says: `[web]`, the onboarding's `stuck_after`, the
    digest's `timezone`, the feeds."""
    stuck_after = parse_duration(_cog_setting(config, "onboarding", "stuck_after", "14d"))
    mount(app, db=db, clock=clock, settings=config.web, stuck_after=stuck_after,
          feeds_of=lambda project: [destinations.for_project(project)], org=config.bot.org,
          digest_zone=_zone(_cog_setting(config, "digest", "timezone", "UTC")))
