"""What `roadie doctor` asks Zulip: the API key, the bot's role, the streams."""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.ports import PlatformError
from bot.doctor import Finding, good, missing
from bot.transports.zulip.api import ZulipApi

ADMIN_ROLES = (100, 200)  # owner, administrator


async def check(site: str, email: str, api_key: str,
                streams: Mapping[str, tuple[str, str]]) -> list[Finding]:
    api = ZulipApi(site=site, email=email, api_key=api_key, workers=1)
    try:
        try:
            profile = await api.call("get_profile")
        except PlatformError as error:
            return [missing(f"cannot log in as {email}: {error.detail}")]
        findings = [good(f"logged in as {profile.get('full_name')} ({email})")]
        if int(profile.get("role", 400)) in ADMIN_ROLES:
            findings.append(good("the bot is an administrator: it may deactivate users and "
                                 "delete messages"))
        else:
            findings.append(missing("the bot is not an administrator, so it cannot deactivate "
                                    "users or delete messages: give it the Administrator role "
                                    "(Organization settings > Bots)"))
        subscribed = {s["name"] for s in (await api.call("get_subscriptions"))["subscriptions"]}
        for destination, (stream, topic) in sorted(streams.items()):
            findings.append(await _check_stream(api, destination, stream, topic, subscribed))
        return findings
    except PlatformError as error:
        return [missing(f"Zulip failed while checking: {error.detail}")]
    finally:
        await api.stop()


async def _check_stream(api: ZulipApi, destination: str, stream: str, topic: str,
                        subscribed: set[str]) -> Finding:
    if not stream:
        return missing(f"{destination}: no zulip_stream in the config")
    try:
        await api.call("get_stream_id", stream)
    except PlatformError:
        return missing(f"{destination}: the stream {stream!r} does not exist, or the bot cannot "
                       "see it")
    if stream not in subscribed:
        return missing(f"{destination}: the bot is not subscribed to {stream!r}, so it does not "
                       "see commands given there: subscribe it")
    return good(f"{destination}: {stream} > {topic}")
