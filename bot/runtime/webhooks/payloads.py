"""What the receiver and the worker read in a delivery: its signature, its JSON, and what
it is about."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import threading
from typing import Any

import orjson
import simdjson

OFFLOAD_ABOVE = 256 * 1024
"""Bodies larger than this are checked and parsed in a thread, so that the loop keeps
answering other requests meanwhile (a 25 MB body takes a while to hash and parse)."""
_EVENT_NAME = re.compile(r"[a-z_]{1,40}")
_OPENS_AN_OBJECT = re.compile(rb"[ \t\r\n]*\{")


def parse_json(text: str) -> Any:
    """JSON as Python's json module reads it, in a third of the time for what GitHub sends.

    orjson is the fast path (parsing is a good part of what an acknowledgement costs); what
    it refuses and json accepts (a lone surrogate escape, an integer beyond 64 bits) goes to
    json, so that both accept exactly the same bodies.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class NotAnObject(ValueError):
    """The body is not a JSON object in UTF-8."""


def action_of(body: bytes | bytearray) -> str | None:
    """A JSON object's top-level "action", read as `parse_json` reads it (None when it has
    none, or when it is not a string); NotAnObject when the body is not a JSON object in
    UTF-8.

    Most of an acknowledgement's time went to parsing the whole body into Python objects
    for this one value. simdjson validates the body (JSON and UTF-8) and finds the value
    without building anything, five times faster. It is only the fast path: a body it
    refuses, a large one (its parser keeps the memory of the largest body it read) and
    one that names "action" more than once (json keeps the last, simdjson the first) are
    read by `parse_json`, so that exactly the same bodies are accepted as before. So is
    one that does not open with "{": simdjson skips a byte order mark, json refuses it.
    """
    if len(body) <= OFFLOAD_ABOVE and _OPENS_AN_OBJECT.match(body):
        parser = _simdjson_parser()
        try:
            document = parser.parse(body)
        except (ValueError, RuntimeError):  # refused, or beyond what simdjson reads
            pass
        else:
            try:
                if not isinstance(document, simdjson.Object):
                    raise NotAnObject("not a JSON object")
                named = sum(1 for key in document if key == "action")
                if named <= 1:
                    action = document.get("action")
                    return action if isinstance(action, str) else None
            finally:
                del document  # the parser reads its next body only once this is gone
    return action_by_parsing(body)


def action_by_parsing(body: bytes | bytearray) -> str | None:
    """`action_of` the slow way: the whole body parsed by `parse_json`."""
    try:
        payload = parse_json(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise NotAnObject("not JSON in UTF-8") from error
    if not isinstance(payload, dict):
        raise NotAnObject("not a JSON object")
    action = payload.get("action")
    return action if isinstance(action, str) else None


_parsers = threading.local()


def _simdjson_parser() -> simdjson.Parser:
    """This thread's parser (a parser reads one body at a time)."""
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = simdjson.Parser()
    return parser


def signature_for(secret: bytes, *parts: bytes | bytearray) -> str:
    """The X-Hub-Signature-256 of the body made of `parts`."""
    if len(parts) == 1:  # the usual body, of one chunk: OpenSSL's one call
        return "sha256=" + hmac.digest(secret, parts[0], "sha256").hex()
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return "sha256=" + mac.hexdigest()


def signature_ok(secret: bytes, body: bytes | bytearray, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(signature_for(secret, body), header or "")



def event_label(event: str) -> str:
    """The event as a metric label: an event name, or "unknown"."""
    return event if _EVENT_NAME.fullmatch(event) else "unknown"


def delivery_owner(payload: dict[str, Any]) -> str:
    """The org (or account) a delivery is about: its organization, else the owner of its
    repository; "" when it names neither."""
    for outer, inner in (("organization", ()), ("repository", ("owner",))):
        value: Any = payload.get(outer)
        for key in inner:
            value = value.get(key) if isinstance(value, dict) else None
        login = value.get("login") if isinstance(value, dict) else None
        if isinstance(login, str) and login:
            return login
    return ""



async def parsed_payload(payload_text: str) -> Any:
    """A stored payload read back (large ones on a thread); None when it is not JSON."""
    try:
        return (parse_json(payload_text) if len(payload_text) <= OFFLOAD_ABOVE
                else await asyncio.to_thread(parse_json, payload_text))
    except (json.JSONDecodeError, RecursionError):
        return None


def repository_of(payload: Any) -> str:
    """The repository a delivery is about (lower case), "" when it names none."""
    repository = payload.get("repository") if isinstance(payload, dict) else None
    name = repository.get("full_name") if isinstance(repository, dict) else None
    return name.lower() if isinstance(name, str) else ""

