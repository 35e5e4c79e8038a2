"""A delivery's action, read without parsing its whole body: exactly what parsing it reads.

`action_of` takes a fast path (simdjson) for most bodies; whatever the body, it must accept,
refuse and read exactly as `action_by_parsing` (the whole body parsed, as before) does.
"""

from __future__ import annotations

import json
import threading

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.runtime.webhooks.payloads import (
    OFFLOAD_ABOVE,
    NotAnObject,
    action_by_parsing,
    action_of,
)


def same_as_whole(body: bytes) -> None:
    try:
        expected: str | type[NotAnObject] | None = action_by_parsing(body)
    except NotAnObject:
        expected = NotAnObject
    try:
        found: str | type[NotAnObject] | None = action_of(body)
    except NotAnObject:
        found = NotAnObject
    assert found == expected, body[:200]


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40))


def containers(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(st.lists(inner, max_size=4),
                     st.dictionaries(st.text(max_size=10), inner, max_size=4))


values = st.recursive(scalars, containers, max_leaves=16)
objects = st.dictionaries(st.one_of(st.just("action"), st.text(max_size=10)), values,
                          max_size=6)


@settings(max_examples=400, deadline=None)
@given(objects)
def test_a_json_object_s_action_is_read_as_parsing_it_reads_it(payload: dict[str, object]) -> None:
    body = json.dumps(payload).encode()
    same_as_whole(body)
    same_as_whole(json.dumps(payload, ensure_ascii=False, indent=1).encode())


@settings(max_examples=400, deadline=None)
@given(objects, st.data())
def test_a_damaged_body_is_refused_or_read_as_parsing_it_would(payload: dict[str, object],
                                                                data: st.DataObject) -> None:
    body = bytearray(json.dumps(payload).encode())
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(body)))
        kind = data.draw(st.sampled_from(["cut", "insert", "replace"]))
        junk = data.draw(st.binary(min_size=1, max_size=3))
        if kind == "cut":
            del body[at:]
        elif kind == "insert":
            body[at:at] = junk
        else:
            body[at:at + len(junk)] = junk
    same_as_whole(bytes(body))


@given(st.binary(max_size=200))
def test_any_bytes_are_refused_or_read_as_parsing_them_would(body: bytes) -> None:
    same_as_whole(body)


@pytest.mark.parametrize("body", [
    b'{"action": "opened", "action": "closed"}',  # json keeps the last
    b'{"issue": {"action": "nested"}, "action": "opened"}',
    b'{"\\u0061ction": "opened"}',
    b'{"action": "opened", "\\u0061ction": "closed"}',
    b'{"action": "opened", "n": 123456789012345678901234567890}',  # beyond 64 bits
    b'{"action": "\\ud800"}',  # a lone surrogate: json reads it
    b'{"action": "opened"}\x00',
    b'\xef\xbb\xbf{"action": "opened"}',  # a byte order mark
    b'  {"action" : "opened"}  \n',
    b'{"action": {"name": "opened"}}',
    b'{"action": ["opened"]}',
    b'["action", "opened"]',
    b'"action"',
    b'{"action": "op\xffened"}',
    b'{"action": "opened"',
    b"",
    b"[" * 5000 + b"]" * 5000,
    b'{"a": ' * 2000 + b"1" + b"}" * 2000,
])
def test_bodies_the_fast_reading_could_get_wrong(body: bytes) -> None:
    same_as_whole(body)


def test_a_large_body_is_read_whole_and_alike() -> None:
    body = orjson.dumps({"action": "opened", "padding": "x" * (OFFLOAD_ABOVE + 10)})
    assert action_of(body) == "opened"


def test_threads_each_read_their_own_bodies() -> None:
    found: list[str | None] = []

    def read(action: str) -> None:
        for _ in range(200):
            found.append(action_of(orjson.dumps({"action": action, "n": list(range(50))})))

    threads = [threading.Thread(target=read, args=(f"a{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(found)) == ["a0", "a1", "a2", "a3"]
    assert len(found) == 800
