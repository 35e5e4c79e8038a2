"""`might_be_unsafe`: the fast check that lets a delivery skip the walk for unsafe characters
must never pass a payload that holds one."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from bot.core.events import _MAYBE_UNSAFE, _UNSAFE, might_be_unsafe

any_character = st.characters(blacklist_categories=())  # surrogates and controls included


@given(st.text(any_character, max_size=60))
def test_json_with_an_unsafe_character_is_never_passed_as_safe(value: str) -> None:
    # How GitHub's JSON reaches Roadie: escaped (`ensure_ascii`), or as decoded UTF-8, which
    # holds no lone surrogate.
    texts = [json.dumps({"title": value})]
    if not any("\ud800" <= c <= "\udfff" for c in value):
        texts.append(json.dumps({"title": value}, ensure_ascii=False))
    for text in texts:
        if _UNSAFE.search(value):
            assert might_be_unsafe(text), text


@given(st.text(st.sampled_from("\\u0123789abcdefABCDEF\x7fx\""), max_size=30))
def test_the_quick_path_agrees_with_the_pattern(text: str) -> None:
    assert might_be_unsafe(text) == (_MAYBE_UNSAFE.search(text) is not None)


def test_a_github_payload_without_escapes_is_safe_at_once() -> None:
    assert not might_be_unsafe(json.dumps({"title": "Fix the build ✅", "body": "tab\tok"},
                                          ensure_ascii=False))
    assert might_be_unsafe(json.dumps({"title": "nul \u0000"}))
    # JSON's short escapes of two control characters: \b and \f, not \u0008 and \u000c.
    assert might_be_unsafe(json.dumps({"title": "form feed \f"}))
    assert might_be_unsafe(json.dumps({"title": "backspace \b"}))
    assert might_be_unsafe('{"title": "del \x7f"}')
