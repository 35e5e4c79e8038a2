"""/readyz against the fakes: ready only with the database, every platform and GitHub."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.e2e.harness import World


async def _get(world: World, path: str) -> tuple[int, dict[str, Any]]:
    assert world.roadie.server is not None
    url = f"http://127.0.0.1:{world.roadie.server.port}{path}"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.json()


async def test_ready_when_everything_answers_and_not_when_github_refuses(world: World) -> None:
    status, body = await _get(world, "/readyz")
    assert status == 200, body
    assert body["status"] == "ready"
    assert {k: body[k] for k in ("database", "discord", "zulip", "github")} == {
        "database": "ok", "discord": "connected", "zulip": "connected", "github": "ok"}

    world.roadie.readiness.github_every = 0  # ask GitHub on every request
    world.github.fail("GET", f"/orgs/{world.github.org}", status=401, times=100,
                      body={"message": "Bad credentials"})
    status, body = await _get(world, "/readyz")
    assert status == 503
    assert body["status"] == "not ready"
    assert body["github"] == "refused: 401 Bad credentials"
    status, _ = await _get(world, "/healthz")
    assert status == 200, "liveness does not depend on GitHub"


async def test_not_ready_when_a_platform_is_disconnected(world: World) -> None:
    client = world.discord_transport.client
    assert client is not None
    await client.close()
    status, body = await _get(world, "/readyz")
    assert status == 503
    assert body["discord"] == "not connected"
    assert body["zulip"] == "connected"
