"""A seeded cooperative served by the public pages, on a loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, timedelta, tzinfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.web.settings import WebSection
from bot.web.site import mount
from governance.clock import FakeClock
from governance.db import Database
from tests.web.world import World, seed

PATH = "/roadie"


def web_app(db: Database, clock: FakeClock, *, digest_zone: tzinfo = UTC,
            **settings: object) -> web.Application:
    app = web.Application()
    mount(app, db=db, clock=clock, settings=WebSection(enabled=True, path=PATH, **settings),
          stuck_after=timedelta(days=14), feeds_of=lambda project: ["feed"], org="jazzband",
          digest_zone=digest_zone)
    return app


@pytest.fixture
async def world(db: Database, clock: FakeClock) -> World:
    return await asyncio.to_thread(seed, db, clock)


@pytest.fixture
async def client(db: Database, clock: FakeClock, world: World) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(web_app(db, clock), host="127.0.0.1", port=0)) as client:
        yield client
