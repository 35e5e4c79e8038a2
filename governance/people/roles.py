"""The permission ladder: anyone < member < lead < moderator < admin."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    ANYONE = 0
    MEMBER = 1
    LEAD = 2
    MODERATOR = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(r.label for r in cls)
            raise ValueError(f"{text!r} is not a role; use one of: {names}") from None


GRANTABLE = (Role.MEMBER, Role.LEAD, Role.MODERATOR, Role.ADMIN)
