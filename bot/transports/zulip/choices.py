"""The choices Roadie offered on Zulip, so that `/choose 2` and a :two: reaction find them.

Recent offers are kept in memory; after a restart they are found again in the outbox, which
holds every message Roadie sent with its choices.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from bot.core.messages import Choice, Message
from bot.transports.common import choices_of_sent
from governance.db import Database
from governance.outbox import service as outbox_rows

PLATFORM = "zulip"
REMEMBERED = 1000


class OfferedChoices:
    def __init__(self, place_for: Callable[[str], str | None],
                 with_topic: Callable[[str, str], str]) -> None:
        self._place_for = place_for
        self._with_topic = with_topic
        self._by_message: OrderedDict[int, tuple[Choice, ...]] = OrderedDict()
        self._latest: dict[str, int] = {}

    def remember(self, message_id: int, place: str, choices: tuple[Choice, ...]) -> None:
        if not choices:
            return
        self._by_message[message_id] = choices
        self._by_message.move_to_end(message_id)
        while len(self._by_message) > REMEMBERED:
            self._by_message.popitem(last=False)
        self._latest[place] = message_id

    async def of_message(self, db: Database, message_id: int) -> tuple[Choice, ...]:
        return (self._by_message.get(message_id)
                or await choices_of_sent(db, PLATFORM, str(message_id)))

    async def latest_at(self, db: Database, place: str) -> tuple[Choice, ...]:
        """The choices of the newest message with choices in a place."""
        message_id = self._latest.get(place)
        if message_id is not None and message_id in self._by_message:
            return self._by_message[message_id]
        rows = await db.run(lambda session: outbox_rows.recently_sent(session, PLATFORM))
        for row in rows:
            message = Message.from_json(row.payload)
            mapped = self._place_for(row.destination)
            if message.choices and mapped and self._with_topic(mapped, message.topic) == place:
                return message.choices
        return ()
