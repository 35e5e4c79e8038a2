"""Checks for operators.

`platform_problems` is what `roadie check-config` checks offline: the credentials look right,
every destination is mapped on each enabled platform, Zulip names fit. `diagnose` is
`roadie doctor`: it connects to each configured platform and says what Roadie may not do
there. Each platform's online check (bot/transports/*/doctor.py, bot/github/doctor.py)
answers a list of findings: what is fine, and what is missing with how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from dataclasses import dataclass, field

from bot.config import RoadieConfig

DISCORD_TOKEN = re.compile(r"[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}")
ZULIP_API_KEY = re.compile(r"[A-Za-z0-9]{32}")
ZULIP_NAME = 60


def platform_problems(config: RoadieConfig) -> list[str]:
    """What can be told wrong about the chat platforms without connecting to them."""
    problems = []
    discord, zulip = config.discord, config.zulip
    token = discord.token.value() if discord.enabled else None
    if token is not None and not DISCORD_TOKEN.fullmatch(token):
        problems.append(f"discord: the token in {discord.token.source()} does not look like a "
                        "bot token (three parts separated by dots; Developer Portal > Bot)")
    key = zulip.api_key.value() if zulip.enabled else None
    if key is not None and not ZULIP_API_KEY.fullmatch(key):
        problems.append(f"zulip: the API key in {zulip.api_key.source()} does not look like one "
                        "(32 letters and digits; the bot's zuliprc has it)")
    for name, destination in sorted(config.destinations.items()):
        where = f"destinations.{name}"
        if discord.enabled and not destination.discord_channel:
            problems.append(f"{where}.discord_channel: missing; Discord is enabled, so nothing "
                            f"for {name} would reach Discord")
        if zulip.enabled and not destination.zulip_stream:
            problems.append(f"{where}.zulip_stream: missing; Zulip is enabled, so nothing for "
                            f"{name} would reach Zulip")
        if destination.zulip_topic and not destination.zulip_stream:
            problems.append(f"{where}.zulip_topic: set without a zulip_stream")
        for key_name in ("zulip_stream", "zulip_topic"):
            value = getattr(destination, key_name)
            if len(value) > ZULIP_NAME:
                problems.append(f"{where}.{key_name}: longer than Zulip's {ZULIP_NAME} "
                                f"characters ({len(value)})")
    return problems


@dataclass(frozen=True)
class Finding:
    ok: bool
    text: str


def good(text: str) -> Finding:
    return Finding(True, text)


def missing(text: str) -> Finding:
    return Finding(False, text)


@dataclass
class Report:
    sections: list[tuple[str, list[Finding]]] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return sum(not f.ok for _, findings in self.sections for f in findings)

    def render(self) -> str:
        lines = []
        for title, findings in self.sections:
            lines.append(f"{title}:")
            lines += [f"  {'ok' if f.ok else 'MISSING':<8}{f.text}" for f in findings]
        lines.append("Everything Roadie needs is in place." if not self.problems
                     else f"{self.problems} thing(s) missing; see MISSING above.")
        return "\n".join(lines)


async def _section(report: Report, title: str, check: Awaitable[list[Finding]]) -> None:
    report.sections.append((title, await check))


async def diagnose(config: RoadieConfig) -> Report:
    """Check every enabled platform and GitHub, one after the other."""
    report = Report()
    if config.discord.enabled:
        from bot.transports.discord.doctor import check as check_discord

        channels = {name: d.discord_channel for name, d in config.destinations.items()}
        await _section(report, f"Discord (guild {config.discord.guild_id})", check_discord(
            config.discord.token.value() or "", config.discord.guild_id, channels))
    if config.zulip.enabled:
        from bot.transports.zulip.doctor import check as check_zulip

        streams = {name: (d.zulip_stream, d.zulip_topic or name)
                   for name, d in config.destinations.items()}
        await _section(report, f"Zulip ({config.zulip.site})", check_zulip(
            config.zulip.site, config.zulip.email, config.zulip.api_key.value() or "", streams))
    from bot.github.doctor import check_github
    from bot.github.needs import needs_of
    from bot.runtime.loader import load_cog_settings

    needs = needs_of(cls for cls, _ in load_cog_settings(config))
    how = f"App {config.github.app_id}" if config.github.auth == "app" else "token"
    await _section(report, f"GitHub (org {config.bot.org}, {how})",
                   check_github(config, needs))
    return report
