"""Reading a disputed commit as people paste it: a sha, or a commit URL on GitHub."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from governance.errors import Refusal

_SHA = re.compile(r"[0-9a-f]{7,40}")
_PATH = re.compile(r"/(?P<owner>[^/]+)/(?P<repo>[^/]+)/(?:pull/\d+/)?commits?/(?P<sha>[0-9a-f]+)/?")
HINT = ("Give the commit's sha (at least 7 hex digits) or its GitHub URL, such as "
        "https://github.com/{org}/{project}/commit/1a2b3c4.")


def parse_commit(text: str, *, org: str, project: str) -> str:
    """The commit's sha, lower-case; a Refusal when the text is neither a sha nor a URL of a
    commit of this project."""
    text = text.strip()
    hint = HINT.format(org=org, project=project)
    if _SHA.fullmatch(text.lower()):
        return text.lower()
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.netloc:
        match = _PATH.fullmatch(parts.path)
        if match is None or not _SHA.fullmatch(match["sha"].lower()):
            raise Refusal(f"{text!r} is not the URL of a commit.", hint)
        if (match["owner"].lower(), match["repo"].lower()) != (org.lower(), project.lower()):
            raise Refusal(f"That commit belongs to {match['owner']}/{match['repo']}, not to "
                          f"{org}/{project}.", hint)
        return match["sha"].lower()
    raise Refusal(f"{text!r} is not a commit.", hint)
