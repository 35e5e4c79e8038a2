"""The checklist as the issue writes it, and the settings that make it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cogs.onboarding.settings import OnboardingSettings
from governance.onboarding.tasklist import ItemSpec, parse_ticks, render_body, set_ticks

ITEMS = [ItemSpec("links", "Fix the links", "member"),
         ItemSpec("webhook", "Add the webhook", "admin")]


def test_a_body_is_read_and_ticked_without_touching_anything_else() -> None:
    body = render_body("Welcome!", ITEMS)
    assert body == ("Welcome!\n\n- [ ] `links` Fix the links (any member)\n"
                    "- [ ] `webhook` Add the webhook (an org admin)\n\n"
                    "<!-- roadie:onboarding -->\n")
    assert parse_ticks(body) == {"links": False, "webhook": False}
    # As GitHub saves it after a person ticked a box and reworded a line (CRLF, `X`).
    edited = body.replace("\n", "\r\n").replace("[ ] `webhook` Add the webhook",
                                                "[X] `webhook` Add the RTD webhook, done")
    assert parse_ticks(edited) == {"links": False, "webhook": True}
    ticked = set_ticks(edited, {"links": True, "webhook": False})
    assert ticked == edited.replace("- [ ] `links`", "- [x] `links`").replace(
        "[X] `webhook`", "[ ] `webhook`")
    assert set_ticks(ticked, {"nothing": True}) == ticked


def test_lines_that_are_not_items_are_left_alone() -> None:
    body = ("Notes:\n* [x] `links` first one counts\n- [ ] `links` a copy\n  - [x] `ci` nested\n"
            "- [x] no key here\n- [x]`badge` no space\n")
    assert parse_ticks(body) == {"links": True, "ci": True}
    assert set_ticks(body, {"links": False}) == body.replace("* [x] `links`", "* [ ] `links`")


def test_bad_settings_are_refused_with_what_to_write() -> None:
    def problem(**settings: object) -> str:
        with pytest.raises(ValidationError) as refused:
            OnboardingSettings.model_validate(settings)
        return str(refused.value)

    twice = [{"key": "ci", "who": "member", "text": "a"}, {"key": "ci", "who": "lead",
                                                          "text": "b"}]
    assert "the key 'ci' is used twice" in problem(items=twice)
    assert "'CI Checks' is not an item key" in problem(
        items=[{"key": "CI Checks", "who": "member", "text": "a"}])
    assert "Input should be 'member', 'lead' or 'admin'" in problem(
        items=[{"key": "ci", "who": "owner", "text": "a"}])
    assert "title: unknown placeholder {repo}; use {org}, {project}, {sender}, {admin_wait}" in \
        problem(title="Welcome {repo}")
    assert "escalation_kinds.ci: no admin item has this key" in problem(
        escalation_kinds={"ci": "ci"})
    # The default mapping does not get in the way of a checklist of one's own.
    own = OnboardingSettings.model_validate(
        {"items": [{"key": "docs", "who": "admin", "text": "Docs"}]})
    assert own.kind_of("docs") == "other"
    assert OnboardingSettings().kind_of("lead") == "permissions"
