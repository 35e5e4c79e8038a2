"""The org webhook's deliveries on GitHub: find the failed ones and ask for them again.

`GET /orgs/{org}/hooks/{hook_id}/deliveries` lists attempts newest first, a page at a time
(cursor pagination through the Link header); one delivery (`guid`) may have several
attempts. `POST .../deliveries/{id}/attempts` redelivers one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from github import Auth, Github, GithubException

from bot.core.ports import PlatformError
from bot.github.client import _error as platform_error

_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


@dataclass(frozen=True)
class HookDelivery:
    id: int
    guid: str
    delivered_at: datetime
    status_code: int
    event: str
    action: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


class OrgHooks:
    def __init__(self, *, org: str, token: str | None = None, api_url: str, timeout: int = 15,
                 auth: Auth.Auth | None = None) -> None:
        self.org = org
        self._gh = Github(auth=auth or Auth.Token(token or ""), base_url=api_url,
                          timeout=timeout, retry=None, seconds_between_requests=None,
                          seconds_between_writes=None)

    def _get(self, url: str, parameters: dict[str, Any] | None = None) -> tuple[Any, str]:
        try:
            headers, data = self._gh.requester.requestJsonAndCheck("GET", url,
                                                                   parameters=parameters)
        except (GithubException, requests.RequestException) as error:
            raise platform_error(error) from error
        match = _NEXT.search(headers.get("link", "") or "")
        return data, match.group(1) if match else ""

    def find_hook(self, path_hint: str) -> int:
        """The org hook pointing at `path_hint`, or the only one there is."""
        hooks: list[dict[str, Any]] = []
        url, parameters = f"/orgs/{self.org}/hooks", {"per_page": 100}
        while url:
            page, url = self._get(url, parameters)
            parameters = None  # the next link carries them
            hooks += [h for h in page or () if isinstance(h, dict)]
        matching = [h for h in hooks
                    if str((h.get("config") or {}).get("url", "")).endswith(path_hint)]
        chosen = matching if len(matching) == 1 else hooks if len(hooks) == 1 else []
        if not chosen:
            listing = ", ".join(f"{h.get('id')} ({(h.get('config') or {}).get('url', '?')})"
                                for h in hooks) or "none"
            raise PlatformError("github", f"cannot tell which org hook is Roadie's; hooks: "
                                f"{listing}. Pass --hook ID.", permanent=True)
        return int(chosen[0]["id"])

    def deliveries_since(self, hook_id: int, since: datetime) -> Iterator[HookDelivery]:
        """Attempts since `since`, newest first."""
        url, parameters = f"/orgs/{self.org}/hooks/{hook_id}/deliveries", {"per_page": 100}
        while url:
            page, url = self._get(url, parameters)
            parameters = None  # the next link carries them
            for item in page or ():
                delivered = datetime.fromisoformat(str(item["delivered_at"]).replace(
                    "Z", "+00:00"))
                if delivered < since:
                    return
                yield HookDelivery(id=int(item["id"]), guid=str(item.get("guid", "")),
                                   delivered_at=delivered,
                                   status_code=int(item.get("status_code") or 0),
                                   event=str(item.get("event", "")),
                                   action=str(item.get("action") or ""))

    def failed_since(self, hook_id: int, since: datetime) -> list[HookDelivery]:
        """The latest attempt of each delivery that has no successful attempt since."""
        latest: dict[str, HookDelivery] = {}
        succeeded: set[str] = set()
        for attempt in self.deliveries_since(hook_id, since):
            if attempt.ok:
                succeeded.add(attempt.guid)
            latest.setdefault(attempt.guid, attempt)
        return [d for guid, d in latest.items() if guid not in succeeded]

    def redeliver(self, hook_id: int, delivery_id: int) -> None:
        try:
            self._gh.requester.requestJsonAndCheck(
                "POST", f"/orgs/{self.org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts")
        except (GithubException, requests.RequestException) as error:
            raise platform_error(error) from error
