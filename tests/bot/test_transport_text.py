"""How the transports write and read: Discord's limits, button ids, Zulip's commands."""

from __future__ import annotations

from bot.core.messages import Choice, Field, Message, Reply
from bot.transports.common import clip, error_for_status
from bot.transports.discord import render
from bot.transports.discord.transport import as_target
from bot.transports.zulip import text


def test_clip_ends_with_an_ellipsis_only_when_it_cuts() -> None:
    assert clip("short", 10) == "short"
    assert clip("a long sentence", 7) == "a long…"
    assert len(clip("x" * 5000, 4096)) == 4096


def test_errors_by_status() -> None:
    assert error_for_status("discord", 429, "slow down", retry_after=2.5).retry_after == 2.5
    assert not error_for_status("discord", 503, "down").permanent
    assert error_for_status("discord", 403, "Missing Permissions").permanent
    assert not error_for_status("zulip", 408, "timeout").permanent


def test_an_empty_message_still_makes_an_embed() -> None:
    assert render.fit_embed(Message()).description == "(empty message)"


def test_a_url_without_a_title_goes_into_the_description() -> None:
    embed = render.fit_embed(Message(body="Merged", url="https://github.com/o/r/pull/1"))
    assert embed.description == "Merged\nhttps://github.com/o/r/pull/1"
    assert embed.url is None


def test_blank_field_names_and_values_are_allowed_by_discord() -> None:
    embed = render.fit_embed(Message(title="t", fields=(Field("", ""),)))
    assert (embed.fields[0].name, embed.fields[0].value) == ("\u200b", "\u200b")


def test_more_than_25_choices_are_listed_in_the_text() -> None:
    choices = tuple(Choice(f"option {i}", f"vote {i}") for i in range(27))
    rendered = render.notice(Message(title="Vote", choices=choices), {})
    assert rendered.view is not None
    assert len(rendered.view.children) == 25
    assert rendered.embed is not None
    assert rendered.embed.description == "Also: option 25: `/vote 25` · option 26: `/vote 26`"


def test_button_ids_carry_the_command_or_its_digest() -> None:
    assert render.custom_id_for("vote yes 12") == "roadie:vote yes 12"
    long_command = "grant dave moderator --reason " + "x" * 100
    custom_id = render.custom_id_for(long_command)
    assert len(custom_id) <= 100
    assert render.command_for(custom_id, (Choice("a", "help"), Choice("b", long_command))) \
        == long_command
    assert render.command_for(custom_id, ()) is None
    assert render.command_for("someone-elses-button", ()) is None


def test_long_replies_become_an_embed() -> None:
    rendered = render.reply(Reply(text="x" * 2500), {})
    assert rendered.content is None
    assert rendered.embed is not None
    assert rendered.embed.description == "x" * 2500


def test_discord_mentions_become_targets() -> None:
    assert as_target("<@123456789012345678>") == "discord:123456789012345678"
    assert as_target("<@!123456789012345678>") == "discord:123456789012345678"
    assert as_target("octocat") == "octocat"


def test_zulip_finds_commands_where_people_give_them() -> None:
    found = text.command_in("/grant bob admin", private=False, bot_id=5, bot_names=["Roadie"])
    assert found == text.Addressed("grant bob admin", explicit=False)
    found = text.command_in("@**Roadie** /whoami", private=False, bot_id=5, bot_names=["Roadie"])
    assert found == text.Addressed("whoami", explicit=True)
    found = text.command_in("@**Robot|5**: help", private=False, bot_id=5, bot_names=["Roadie"])
    assert found == text.Addressed("help", explicit=True)
    assert text.command_in("hello all", private=False, bot_id=5, bot_names=["Roadie"]) is None
    assert text.command_in("@**Ann** hi", private=False, bot_id=5, bot_names=["Roadie"]) is None
    found = text.command_in("help", private=True, bot_id=5, bot_names=["Roadie"])
    assert found == text.Addressed("help", explicit=True)


def test_zulip_mentions_become_targets() -> None:
    names = {"jane doe": 12}
    assert text.rewrite_mentions("block @**Jane Doe|12** spam", {}) == "block zulip:12 spam"
    assert text.rewrite_mentions("block @_**Jane Doe** spam", names) == "block zulip:12 spam"
    assert text.rewrite_mentions("block @**Nobody** x", names) == "block @**Nobody** x"


def test_zulip_never_sends_an_empty_message() -> None:
    assert text.render(Message(), lambda login: login, limit=10000) == "(empty message)"


def test_zulip_places_keep_topics_within_the_realm_s_limit() -> None:
    place = text.stream_place("governance", "t" * 70, 60)
    assert text.split_place(place) == ("governance", "t" * 59 + "…")
    assert text.split_place(text.stream_place("governance", "t" * 70, 20))[1] == "t" * 19 + "…"
    assert text.with_topic("governance\nadmins", "escalation #4", 60) == \
        "governance\nescalation #4"
    assert text.with_topic("dm:12", "ignored", 60) == "dm:12"


def test_zulip_content_is_clipped_to_the_realm_s_limit() -> None:
    rendered = text.render(Message(body="x" * 500), lambda login: login, limit=100)
    assert len(rendered) == 100
    assert rendered.endswith("…")
    replaced = text.replacing("y" * 500, 1234, limit=300)
    assert len(replaced) == 300
    assert replaced.endswith("[an earlier message](#narrow/near/1234), which Zulip no longer "
                             "lets Roadie edit.*")


def test_zulip_realm_rules_come_from_register() -> None:
    default = text.RealmRules()
    rules = text.RealmRules.from_register(
        {"max_message_length": 5000, "max_topic_length": 40,
         "realm_message_content_edit_limit_seconds": None,
         "realm_allow_message_editing": True}, default)
    assert (rules.content, rules.topic, rules.edit_window) == (5000, 40, None)
    assert rules.may_edit(10**9)
    timed = rules.updated({"message_content_edit_limit_seconds": 3})
    assert timed.may_edit(2.5)
    assert not timed.may_edit(3.5)
    assert timed.may_edit(None)
    assert not timed.updated({"allow_message_editing": False}).may_edit(0)
    assert text.RealmRules.from_register({}, timed) == timed
