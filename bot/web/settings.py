"""The `[web]` section: Roadie's public pages."""

from __future__ import annotations

import re

from pydantic import field_validator

from bot.core.settings import Section


class WebSection(Section):
    enabled: bool = False
    path: str = "/roadie"
    base_url: str = ""
    publish_private_repos: bool = False

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if value != "" and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value):
            raise ValueError("expected a path such as /roadie (letters, digits, . _ ~ -; "
                             "starting with /, not ending with /), or \"\" for the root")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if value and not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", value):
            raise ValueError("expected the pages' public address, such as "
                             "https://roadie.example.org/roadie")
        return value.rstrip("/")

