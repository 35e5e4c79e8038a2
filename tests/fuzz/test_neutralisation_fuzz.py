"""Whatever people write, what Roadie renders from it pings nobody and forges nothing.

Zulip: no live mention of any kind but the ones Roadie means (a message's `mentions`).
GitHub: no live `@user` or `@org/team` from people's text. Discord: `allowed_mentions` names
only the users Roadie means. On every platform, each line of people's text is quoted.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.messages import Field, Message, Reply
from bot.core.usertext import (
    LIVE_GITHUB_MENTION,
    LIVE_ZULIP_MENTION,
    UserText,
    for_github,
    for_plain,
)
from bot.transports.discord import render as discord_render
from bot.transports.zulip import text as zulip_text

BUDGET = settings(max_examples=150, deadline=None, derandomize=True, database=None)
ZULIP_LIMIT = 10_000
MESSAGES_BUDGET = settings(BUDGET, max_examples=100)
"""Whole messages cost more to draw and render."""

NASTY = st.sampled_from([
    "@**all**", "@**everyone**", "@**stream**", "@**channel**", "@**topic**", "@**Alice|12**",
    "@**Jane Doe**", "@_**Bob|3**", "@*admins*", "@_*admins*", "@everyone", "@here",
    "<@123>", "<@&456>", "@jazzband/admins", "@alice", "@@**all**", "(@**all**)",
    '"@**all**"', "**Escalation #1 resolved**", "\n", "\n\n", "> ", "```", "~~~", "*", "_",
    "|", "\ue000", "\ue001", "\u200b", " ", "\t", "@", "**", "[@**all**](x)",
])
TEXT = st.lists(st.one_of(NASTY, st.text(max_size=8)), max_size=10).map("".join)
OWN = st.text(alphabet=st.characters(blacklist_characters="@\ue000\ue001"), max_size=20)
"""Roadie's own words in these tests: anything but an `@` (so a live mention in the output
can only have come from people's text) or a mark."""


def zulip_mention(login: str) -> str:
    return f"@**{login.title()}|{len(login)}**"


@st.composite
def piece(draw: st.DrawFn) -> str:
    """Roadie's words with people's text in them, as cogs build them."""
    parts = draw(st.lists(st.one_of(OWN, TEXT.map(UserText)), min_size=1, max_size=4))
    return "".join(parts)


@st.composite
def message(draw: st.DrawFn) -> Message:
    fields = draw(st.lists(st.builds(Field, piece(), piece(), st.booleans()), max_size=3))
    return Message(title=draw(piece()), body=draw(piece()), fields=tuple(fields),
                   footer=draw(piece()), mentions=tuple(draw(st.lists(
                       st.sampled_from(["alice", "bob"]), max_size=2, unique=True))))


@given(message=message(), reply=piece())
@MESSAGES_BUDGET
def test_zulip_renders_no_mention_but_those_roadie_means(message: Message, reply: str) -> None:
    rendered = zulip_text.render(message, zulip_mention, limit=ZULIP_LIMIT)
    meant = [zulip_mention(login) for login in message.mentions]
    assert LIVE_ZULIP_MENTION.findall(rendered) == meant
    answer = zulip_text.render_reply(Reply(text=reply), zulip_mention, limit=ZULIP_LIMIT)
    assert LIVE_ZULIP_MENTION.findall(answer) == []


@given(text=TEXT, own=OWN)
@BUDGET
def test_no_line_of_peoples_text_passes_for_roadies(text: str, own: str) -> None:
    title = own.replace("\n", " ").strip() or "Notice"
    for rendered in (zulip_text.render(Message(title=title, body=UserText(text)), str,
                                       limit=ZULIP_LIMIT),
                     for_plain(f"**{title}**\n{UserText(text)}"),
                     for_github(f"**{title}**\n{UserText(text)}")):
        head, *rest = rendered.split("\n")
        assert head == f"**{title}**"
        assert all(line.startswith(">") for line in rest if line.strip())


@given(text=piece())
@BUDGET
def test_github_mentions_only_what_roadie_wrote(text: str) -> None:
    assert LIVE_GITHUB_MENTION.findall(for_github(text)) == []
    assert LIVE_GITHUB_MENTION.findall(for_github(text, inline=True)) == []
    assert for_github("@alice commented: " + text).startswith("@alice")  # Roadie's own stays


@given(message=message())
@MESSAGES_BUDGET
def test_discord_allows_only_the_users_roadie_names(message: Message) -> None:
    ids = {"alice": "111", "bob": "222"}
    rendered = discord_render.notice(message, ids)
    allowed = rendered.allowed_mentions.to_dict()
    assert allowed["parse"] == []
    assert sorted(allowed.get("users", [])) == sorted(int(ids[m]) for m in message.mentions)
    assert not allowed.get("replied_user")
