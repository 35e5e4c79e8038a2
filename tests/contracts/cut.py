#!/usr/bin/env python3
"""Cut the operations Roadie uses out of the services' official OpenAPI descriptions.

    python3 tests/contracts/cut.py SPEC_DIR

SPEC_DIR (or $ROADIE_API_SPECS) holds the descriptions as published (their sources are in
tests/contracts/README.md). For each service this writes `<service>.json`: a small OpenAPI
document with only the operations listed below, their parameters, request bodies, responses
and headers inlined, and only the component schemas they reference (transitively). Prose,
examples and vendor extensions are dropped; nothing else is changed, so the fakes are
checked against the services' own words.

Add an operation here when Roadie starts calling it, then run this again. Reading Zulip's
YAML description needs PyYAML (`pip install pyyaml`); the tests read only the JSON output.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

OPERATIONS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "discord": ("discord-openapi.json.gz", [
        ("get", "/users/@me"),
        ("get", "/users/{user_id}"),
        ("post", "/users/@me/channels"),
        ("get", "/oauth2/applications/@me"),
        ("get", "/gateway/bot"),
        ("get", "/applications/{application_id}/guilds/{guild_id}/commands"),
        ("put", "/applications/{application_id}/guilds/{guild_id}/commands"),
        ("get", "/channels/{channel_id}"),
        ("post", "/channels/{channel_id}/messages"),
        ("get", "/channels/{channel_id}/messages/{message_id}"),
        ("patch", "/channels/{channel_id}/messages/{message_id}"),
        ("delete", "/channels/{channel_id}/messages/{message_id}"),
        ("put", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me"),
        ("get", "/guilds/{guild_id}"),
        ("get", "/guilds/{guild_id}/channels"),
        ("get", "/guilds/{guild_id}/roles"),
        ("get", "/guilds/{guild_id}/members/{user_id}"),
        ("get", "/guilds/{guild_id}/bans/{user_id}"),
        ("put", "/guilds/{guild_id}/bans/{user_id}"),
        ("delete", "/guilds/{guild_id}/bans/{user_id}"),
        ("post", "/interactions/{interaction_id}/{interaction_token}/callback"),
        ("get", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
        ("patch", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
        ("delete", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
        ("post", "/webhooks/{webhook_id}/{webhook_token}"),
        ("patch", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"),
    ]),
    "zulip": ("zulip-openapi.yaml.gz", [
        ("get", "/server_settings"),
        ("post", "/register"),
        ("get", "/events"),
        ("delete", "/events"),
        ("get", "/messages"),
        ("post", "/messages"),
        ("get", "/messages/{message_id}"),
        ("patch", "/messages/{message_id}"),
        ("delete", "/messages/{message_id}"),
        ("post", "/messages/{message_id}/reactions"),
        ("delete", "/messages/{message_id}/reactions"),
        ("get", "/users/me"),
        ("get", "/users/me/subscriptions"),
        ("get", "/users"),
        ("get", "/users/{user_id}"),
        ("delete", "/users/{user_id}"),
        ("post", "/users/{user_id}/reactivate"),
        ("get", "/streams"),
        ("get", "/get_stream_id"),
    ]),
    "github": ("github-api.github.com.json.gz", [
        ("get", "/user"),
        ("get", "/users/{username}"),
        ("get", "/orgs/{org}"),
        ("get", "/orgs/{org}/blocks"),
        ("get", "/orgs/{org}/blocks/{username}"),
        ("put", "/orgs/{org}/blocks/{username}"),
        ("delete", "/orgs/{org}/blocks/{username}"),
        ("get", "/orgs/{org}/members"),
        ("get", "/orgs/{org}/members/{username}"),
        ("get", "/orgs/{org}/memberships/{username}"),
        ("get", "/orgs/{org}/invitations"),
        ("get", "/orgs/{org}/teams/{team_slug}"),
        ("get", "/orgs/{org}/teams/{team_slug}/members"),
        ("get", "/orgs/{org}/teams/{team_slug}/memberships/{username}"),
        ("put", "/orgs/{org}/teams/{team_slug}/memberships/{username}"),
        ("get", "/repos/{owner}/{repo}"),
        ("get", "/repos/{owner}/{repo}/issues"),
        ("post", "/repos/{owner}/{repo}/issues"),
        ("get", "/repos/{owner}/{repo}/issues/{issue_number}"),
        ("patch", "/repos/{owner}/{repo}/issues/{issue_number}"),
        ("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
        ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
        ("get", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"),
        ("get", "/orgs/{org}/hooks"),
        ("get", "/orgs/{org}/hooks/{hook_id}/deliveries"),
        ("post", "/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts"),
        ("get", "/app"),
        ("get", "/app/hook/config"),
        ("get", "/app/installations"),
        ("get", "/app/installations/{installation_id}"),
        ("get", "/orgs/{org}/installation"),
        ("post", "/app/installations/{installation_id}/access_tokens"),
    ]),
}

PROSE = {"description", "summary", "example", "examples", "externalDocs", "tags", "title",
         "x-curl-examples-parameters", "x-parameter-description", "x-response-description"}
"""Annotations that validation never reads. Keys of name maps (`properties`, ...) are kept."""

NAME_MAPS = {"properties", "patternProperties", "headers", "content", "responses",
             "encoding", "$defs"}


def strip(node: Any) -> Any:
    if isinstance(node, list):
        return [strip(item) for item in node]
    if not isinstance(node, dict):
        return node
    kept: dict[str, Any] = {}
    for key, value in node.items():
        if key in PROSE or key.startswith("x-"):
            continue
        if key in NAME_MAPS and isinstance(value, dict):
            kept[key] = {name: strip(item) for name, item in value.items()}
        else:
            kept[key] = strip(value)
    return kept


class Cutter:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.schemas: dict[str, Any] = {}

    def lookup(self, ref: str) -> Any:
        node: Any = self.spec
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def inline(self, node: Any) -> Any:
        """Inline every reference but those to component schemas, which are collected."""
        if isinstance(node, list):
            return [self.inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref.startswith("#/components/schemas/"):
                self.collect(ref.rsplit("/", 1)[1])
                return {key: self.inline(value) for key, value in node.items()}
            merged = {**copy.deepcopy(self.lookup(ref)),
                      **{k: v for k, v in node.items() if k != "$ref"}}
            return self.inline(merged)
        return {key: self.inline(value) for key, value in node.items()}

    def collect(self, name: str) -> None:
        if name in self.schemas:
            return
        self.schemas[name] = None  # a placeholder, so that cycles end
        self.schemas[name] = self.inline(self.spec["components"]["schemas"][name])

    def cut(self, operations: list[tuple[str, str]]) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for method, path in operations:
            item = self.spec["paths"][path]
            operation = copy.deepcopy(item[method])
            shared = {(p.get("name"), p.get("in")): p for p in
                      (self.inline(p) for p in item.get("parameters", []))}
            own = {(p.get("name"), p.get("in")): p for p in
                   (self.inline(p) for p in operation.get("parameters", []))}
            operation["parameters"] = list({**shared, **own}.values())
            paths.setdefault(path, {})[method] = self.inline(operation)
        document = {"openapi": self.spec["openapi"],
                    "info": {"title": self.spec["info"]["title"],
                             "version": self.spec["info"]["version"],
                             "license": self.spec["info"].get("license", {})},
                    "servers": self.spec.get("servers", [])[:1],
                    "paths": paths,
                    "components": {"schemas": dict(sorted(self.schemas.items()))}}
        return strip(document)


def load(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as file:
        if path.name.endswith((".yaml.gz", ".yml.gz")):
            import yaml  # only needed here, to read Zulip's description

            return yaml.safe_load(file)
        return json.load(file)


def main(argv: list[str]) -> None:
    given = argv[0] if argv else os.environ.get("ROADIE_API_SPECS")
    if not given:
        sys.exit(__doc__)
    source = Path(given)
    for service, (filename, operations) in OPERATIONS.items():
        document = Cutter(load(source / filename)).cut(operations)
        target = HERE / f"{service}.json"
        target.write_text(json.dumps(document, separators=(",", ":")) + "\n")
        print(f"{target.name}: {len(operations)} operations, "
              f"{len(document['components']['schemas'])} schemas, "
              f"{target.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main(sys.argv[1:])
