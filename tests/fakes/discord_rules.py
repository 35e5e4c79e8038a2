"""Discord's rules that its OpenAPI description does not carry, for the fake Discord.

- `message_errors`: content, embed and component limits, as the 50035 "Invalid Form Body"
  error's `errors` tree (empty when the message is valid).
- `RateLimits`: per-route buckets (`X-RateLimit-*` on every answer) and the global limit of
  requests a second, with the 429s Discord gives when either is exceeded.

Limits are from Discord's developer documentation (see the README of the api-specs folder).
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CONTENT, EMBEDS, EMBED_TOTAL = 2000, 10, 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELDS, FIELD_NAME, FIELD_VALUE, FOOTER, AUTHOR = 25, 256, 1024, 2048, 256
ROWS, ROW_WIDTH, CUSTOM_ID, LABEL = 5, 5, 100, 80
CHOICES, CHOICE_NAME, CHOICE_VALUE = 25, 100, 100
ACTION_ROW, BUTTON, LINK_STYLE = 1, 2, 5

Errors = dict[str, Any]


def _error(code: str, message: str) -> Errors:
    return {"_errors": [{"code": code, "message": message}]}


def _too_long(limit: int) -> Errors:
    return _error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _put(tree: Errors, path: list[str], error: Errors) -> None:
    for part in path:
        tree = tree.setdefault(part, {})
    tree.setdefault("_errors", []).extend(error["_errors"])


def _embed_size(embed: dict[str, Any]) -> int:
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    return size + sum(len(f.get("name") or "") + len(f.get("value") or "")
                      for f in embed.get("fields") or [])


def _embed_errors(tree: Errors, embeds: list[dict[str, Any]]) -> None:
    if len(embeds) > EMBEDS:
        _put(tree, ["embeds"], _too_long(EMBEDS))
    for index, embed in enumerate(embeds):
        at = ["embeds", str(index)]
        for key, limit in EMBED_LIMITS.items():
            if len(embed.get(key) or "") > limit:
                _put(tree, [*at, key], _too_long(limit))
        fields = embed.get("fields") or []
        if len(fields) > FIELDS:
            _put(tree, [*at, "fields"], _too_long(FIELDS))
        for number, item in enumerate(fields):
            for key, limit in (("name", FIELD_NAME), ("value", FIELD_VALUE)):
                if len(item.get(key) or "") > limit:
                    _put(tree, [*at, "fields", str(number), key], _too_long(limit))
        if len((embed.get("footer") or {}).get("text") or "") > FOOTER:
            _put(tree, [*at, "footer", "text"], _too_long(FOOTER))
        if len((embed.get("author") or {}).get("name") or "") > AUTHOR:
            _put(tree, [*at, "author", "name"], _too_long(AUTHOR))
    if sum(_embed_size(e) for e in embeds) > EMBED_TOTAL:
        _put(tree, ["embeds"], _error("MAX_EMBED_SIZE_EXCEEDED",
                                      f"Embed size exceeds maximum size of {EMBED_TOTAL}"))


def _component_errors(tree: Errors, rows: list[dict[str, Any]]) -> None:
    if len(rows) > ROWS:
        _put(tree, ["components"], _too_long(ROWS))
    seen: set[str] = set()
    for index, row in enumerate(rows):
        at = ["components", str(index)]
        if row.get("type") != ACTION_ROW:
            _put(tree, [*at, "type"], _error("UNION_TYPE_CHOICES",
                                             "Value of field \"type\" must be one of (1,)."))
            continue
        items = row.get("components") or []
        if not 1 <= len(items) <= ROW_WIDTH:
            _put(tree, [*at, "components"], _error(
                "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {ROW_WIDTH} in length."))
        for number, item in enumerate(items):
            here = [*at, "components", str(number)]
            if len(item.get("label") or "") > LABEL:
                _put(tree, [*here, "label"], _too_long(LABEL))
            if item.get("type") == BUTTON and item.get("style") == LINK_STYLE:
                continue
            custom_id = item.get("custom_id")
            if not custom_id:
                _put(tree, [*here, "custom_id"], _error("BASE_TYPE_REQUIRED",
                                                        "This field is required"))
            elif len(custom_id) > CUSTOM_ID:
                _put(tree, [*here, "custom_id"], _too_long(CUSTOM_ID))
            elif custom_id in seen:
                _put(tree, [*here, "custom_id"], _error(
                    "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"))
            seen.add(custom_id or "")


def message_errors(body: dict[str, Any]) -> Errors:
    """What Discord finds wrong with a message's content, embeds and components."""
    tree: Errors = {}
    if len(body.get("content") or "") > CONTENT:
        _put(tree, ["content"], _too_long(CONTENT))
    _embed_errors(tree, body.get("embeds") or [])
    _component_errors(tree, body.get("components") or [])
    return tree


def choice_errors(choices: list[dict[str, Any]]) -> Errors:
    """What Discord finds wrong with an autocomplete answer's choices."""
    tree: Errors = {}
    if len(choices) > CHOICES:
        _put(tree, ["choices"], _too_long(CHOICES))
    for index, choice in enumerate(choices):
        name, value = choice.get("name") or "", choice.get("value")
        if not 1 <= len(name) <= CHOICE_NAME:
            _put(tree, ["choices", str(index), "name"], _error(
                "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {CHOICE_NAME} in length."))
        if isinstance(value, str) and len(value) > CHOICE_VALUE:
            _put(tree, ["choices", str(index), "value"], _too_long(CHOICE_VALUE))
    return tree


# --- rate limits -------------------------------------------------------------------------------


@dataclass
class Window:
    """At most `limit` requests in any `per` seconds."""

    limit: int
    per: float
    hits: deque[float] = field(default_factory=deque)

    def _forget(self, now: float) -> None:
        while self.hits and now - self.hits[0] >= self.per:
            self.hits.popleft()

    def take(self, now: float) -> float:
        """Count a request; 0 when it fits, else the seconds until one would."""
        self._forget(now)
        if len(self.hits) >= self.limit:
            return self.hits[0] + self.per - now
        self.hits.append(now)
        return 0.0

    def reset_after(self, now: float) -> float:
        self._forget(now)
        return self.hits[0] + self.per - now if self.hits else self.per

    def remaining(self, now: float) -> int:
        self._forget(now)
        return max(0, self.limit - len(self.hits))


@dataclass(frozen=True)
class Limited:
    """A 429: the body and headers Discord answers."""

    body: dict[str, Any]
    headers: dict[str, str]


MESSAGES_LIMIT = (5, 5.0)
DEFAULT_LIMIT = (20, 1.0)
GLOBAL_LIMIT = 50
FREE_OF_GLOBAL = ("/interactions/", "/webhooks/")
"""Interaction answers are not bound by the bot's global limit."""


class RateLimits:
    """Per-route buckets (keyed by route and major parameter) and the global limit."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self.limits: dict[str, tuple[int, float]] = {"messages": MESSAGES_LIMIT}
        """Route limits by name: `messages` (a channel's message routes) or a route
        template such as `/api/v10/guilds/{guild}/bans/{user}`; others get DEFAULT_LIMIT."""
        self.global_limit = GLOBAL_LIMIT
        self._buckets: dict[tuple[str, str], Window] = {}
        self._global = Window(GLOBAL_LIMIT, 1.0)

    def _limit_of(self, template: str) -> tuple[str, tuple[int, float]]:
        if "/channels/{channel}/messages" in template:
            return "messages", self.limits["messages"]
        return template, self.limits.get(template, DEFAULT_LIMIT)

    def check(self, method: str, template: str, major: str) -> tuple[Limited | None,
                                                                    dict[str, str]]:
        """Count a request: (a 429 if it is over a limit, the headers of the answer)."""
        now = self._now()
        name, (limit, per) = self._limit_of(template)
        bucket_hash = hashlib.sha1(f"{method} {name}".encode()).hexdigest()[:16]
        window = self._buckets.get((bucket_hash, major))
        if window is None or (window.limit, window.per) != (limit, per):
            window = self._buckets[(bucket_hash, major)] = Window(limit, per)
        self._global.limit = self.global_limit
        wait_global = 0.0
        if not any(part in template for part in FREE_OF_GLOBAL):
            wait_global = self._global.take(now)
        wait_route = window.take(now) if not wait_global else 0.0
        reset_after = window.reset_after(now)
        headers = {"X-RateLimit-Limit": str(limit),
                   "X-RateLimit-Remaining": str(window.remaining(now)),
                   "X-RateLimit-Reset": f"{now + reset_after:.3f}",
                   "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                   "X-RateLimit-Bucket": bucket_hash}
        if wait_global:
            return self.limited(wait_global, "global", headers), headers
        if wait_route:
            return self.limited(wait_route, "user", headers), headers
        return None, headers

    @staticmethod
    def limited(retry_after: float, scope: str, headers: dict[str, str]) -> Limited:
        is_global = scope == "global"
        extra = {"Retry-After": str(max(1, round(retry_after + 0.5))), "X-RateLimit-Scope": scope,
                 # without Via, discord.py takes a 429 for a Cloudflare ban
                 "Via": "1.1 google"}
        if is_global:
            extra["X-RateLimit-Global"] = "true"
        return Limited({"message": "You are being rate limited.", "code": 0,
                        "retry_after": round(retry_after, 3), "global": is_global},
                       {**headers, **extra})
