"""What the chat transports share: clipping text, errors by status, choices of sent messages."""

from __future__ import annotations

import hashlib

from bot.core.messages import Choice, Message
from bot.core.ports import PlatformError
from governance.db import Database
from governance.outbox import service as outbox_rows
from governance.people.service import chat_ids_for_logins

ELLIPSIS = "…"


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[:limit - 1].rstrip() + ELLIPSIS


def error_for_status(platform: str, status: int, detail: str, *,
                     retry_after: float | None = None) -> PlatformError:
    """A PlatformError for an HTTP answer: 429 waits, 5xx and 408 retry, other 4xx are final."""
    if status == 429:
        return PlatformError(platform, f"rate limited: {detail}", status=status,
                             retry_after=retry_after if retry_after is not None else 1.0)
    permanent = 400 <= status < 500 and status != 408
    return PlatformError(platform, f"{status} {detail}", permanent=permanent, status=status)


def choice_digest(command: str) -> str:
    """A short, stable name for a choice's command (for ids that cannot hold the command)."""
    return hashlib.sha256(command.encode()).hexdigest()[:32]


def nonce_for(key: str, length: int = 25) -> str:
    """A platform nonce derived from an outbox key: the same key always gives the same nonce."""
    return hashlib.sha256(key.encode()).hexdigest()[:length]


async def choices_of_sent(db: Database, platform: str, remote_id: str) -> tuple[Choice, ...]:
    """The choices of a message Roadie sent (its newest version), from the outbox."""
    rows = await db.run(
        lambda session: outbox_rows.sent_with_remote_id(session, platform, remote_id))
    for row in rows:
        return Message.from_json(row.payload).choices
    return ()


async def mention_ids(db: Database, platform: str, message: Message | None) -> dict[str, str]:
    """GitHub login -> user id on `platform`, for the logins a message mentions."""
    if message is None or not message.mentions:
        return {}
    logins = message.mentions
    return await db.run(lambda session: chat_ids_for_logins(session, platform, logins))
