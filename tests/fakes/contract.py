"""The services' own descriptions (tests/contracts/*.json) as a check on every fake exchange.

A fake names its contract and the path prefix its API lives under. Each request it receives
is matched to an operation (method and path template) and checked: path parameters, query,
body. Each answer is checked against the statuses the operation declares and their schemas.
Every exchange lands in `EXCHANGES`; `tests/conftest.py` fails the test that made an invalid
one and prints the traffic report (`pytest --traffic-report`).

OpenAPI is not quite JSON Schema, so the descriptions are translated once when loaded:
- 3.0 (Zulip, GitHub): `nullable: true` admits null; siblings of `$ref` are ignored (as 3.0
  says); boolean `exclusiveMinimum`/`exclusiveMaximum` become the numeric form.
- all three: `oneOf` is read as `anyOf`. The descriptions use `oneOf` without discriminators
  where several alternatives fit the same JSON (Zulip's two 400 shapes that are both a
  `CodedError`, Discord's message component unions), which strict `oneOf` would refuse.
- Discord (3.1, a "preview"; where it and the developer docs differ, the docs win): its
  schemas are JSON Schema 2020-12 as they stand, but a request body marked required whose
  fields are all optional may be left out, and body fields may come in the query string
  (discord.py sends a ban's `delete_message_seconds` there, and Discord honours it); boolean
  query values are `true`/`false`/`1`/`0` ("Boolean Query Strings" in Discord's docs), and
  a snowflake in a request may be a JSON integer (discord.py sends `recipient_id` and
  `allowed_mentions.users` so; Discord takes them). Answers keep snowflakes as strings.
- Some answers may come from any operation although the descriptions list them on few:
  rate limits (GitHub 403/429, Discord and Zulip 429), gateway failures (500, 502, 503,
  504) and GitHub's 401 and 404; their bodies are checked against the error schema the
  description has for them (`contract()` lists them).
- An error status that the description lists without a body may carry one (GitHub's 422 on
  a team membership, for example, has `message` and `errors` although none is described).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@dataclass
class Exchange:
    """One request a fake received and the answer it gave, as the contract judged them."""

    service: str
    method: str
    path: str
    operation: str = ""
    status: int = 0
    request_problems: list[str] = field(default_factory=list)
    response_problems: list[str] = field(default_factory=list)
    strict_responses: bool = True
    """When False, an invalid answer is counted in the report but fails no test."""

    @property
    def request_valid(self) -> bool:
        return not self.request_problems

    @property
    def response_valid(self) -> bool:
        return not self.response_problems

    def failure(self) -> str | None:
        """Why this exchange must fail the test that made it, or None."""
        problems = self.request_problems + (self.response_problems if self.strict_responses
                                            else [])
        if not problems:
            return None
        name = self.operation or f"{self.method} {self.path}"
        return f"{self.service} {name} -> {self.status}: " + "; ".join(problems)


EXCHANGES: list[Exchange] = []
"""Every exchange of every fake in this test run, in order."""


@contextmanager
def refusals_on_purpose() -> Iterator[list[Exchange]]:
    """For tests of a fake's own refusals: the exchanges made inside break the description on
    purpose, so they fail no test and stay out of the traffic report; the list holds them."""
    start = len(EXCHANGES)
    made: list[Exchange] = []
    try:
        yield made
    finally:
        made += EXCHANGES[start:]
        del EXCHANGES[start:]


# --- OpenAPI to JSON Schema ---------------------------------------------------------------------

def _translate(node: Any, openapi30: bool) -> Any:
    if isinstance(node, list):
        return [_translate(item, openapi30) for item in node]
    if not isinstance(node, dict):
        return node
    if openapi30 and isinstance(node.get("$ref"), str):
        return {"$ref": node["$ref"]}
    out = {("anyOf" if key == "oneOf" and isinstance(value, list) else key):
           _translate(value, openapi30) for key, value in node.items()}
    if not openapi30:
        return out
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), bool) and out.pop(bound) and limit in out:
            out[bound] = out.pop(limit)
    nullable = out.pop("nullable", None)
    if nullable is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if isinstance(out.get("enum"), list) and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        elif "type" not in out:
            return {"anyOf": [out, {"type": "null"}]}
    return out


# --- requests and answers -----------------------------------------------------------------------

@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    literal_segments: int
    pointer: str
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.template}"


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class Contract:
    def __init__(self, service: str, *, anywhere: dict[int, str | None] | None = None,
                 loose_bodies: bool = False,
                 request_schemas: dict[str, Any] | None = None,
                 documented_schemas: dict[str, Any] | None = None) -> None:
        """`anywhere`: statuses the service may answer on any operation although the
        description lists them on few (rate limits, gateway failures), each with the
        component schema its body has (None: any body). `loose_bodies`: Discord's reading
        of request bodies (see the module's docstring). `request_schemas`: component schemas
        that read otherwise in requests than in answers. `documented_schemas`: component
        schemas where the developer documentation and the description differ, as the
        documentation has them (it wins)."""
        self.service = service
        self.loose_bodies = loose_bodies
        raw = json.loads((CONTRACTS / f"{service}.json").read_text())
        openapi30 = str(raw["openapi"]).startswith("3.0")
        self.document = _translate(raw, openapi30)
        self.document["components"]["schemas"].update(documented_schemas or {})
        self.uri = f"urn:roadie-contract:{service}"
        self.request_uri = f"urn:roadie-contract:{service}:requests"
        for_requests = {**self.document, "components": {**self.document["components"], "schemas": {
            **self.document["components"]["schemas"], **(request_schemas or {})}}}
        self.registry: Registry = Registry().with_resources([
            (self.uri, DRAFT202012.create_resource(self.document)),
            (self.request_uri, DRAFT202012.create_resource(for_requests))])
        self.anywhere = anywhere or {}
        self.operations: list[Operation] = []
        for template, item in self.document["paths"].items():
            regex = "".join(f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part)
                            for part in re.split(r"(\{[^}]+\})", template))
            literal = sum(1 for part in template.split("/") if part and "{" not in part)
            for method, spec in item.items():
                if method in METHODS:
                    self.operations.append(Operation(
                        method, template, re.compile(f"^{regex}$"), literal,
                        f"/paths/{_escape(template)}/{method}", spec))
        self.operations.sort(key=lambda op: -op.literal_segments)
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}

    # --- schema checks --------------------------------------------------------------------

    def _validator(self, pointer: str, *, request: bool) -> Draft202012Validator:
        uri = self.request_uri if request else self.uri
        if (uri, pointer) not in self._validators:
            self._validators[uri, pointer] = Draft202012Validator(
                {"$ref": f"{uri}#{pointer}"}, registry=self.registry)
        return self._validators[uri, pointer]

    def _node(self, pointer: str) -> Any:
        node: Any = self.document
        for part in pointer.lstrip("/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def _deref(self, schema: Any) -> Any:
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            schema = self._node(schema["$ref"].removeprefix("#"))
        return schema

    def _where(self, pointer: str, error: ValidationError) -> str:
        """The schema location of an error, following `$ref`s into the components."""
        where, node = pointer, self._node(pointer)
        for part in error.absolute_schema_path:
            while (isinstance(node, dict) and isinstance(node.get("$ref"), str)
                   and part not in node):
                where = node["$ref"].removeprefix("#")
                node = self._node(where)
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                break
            where += f"/{_escape(str(part))}"
        return where

    def check(self, pointer: str, instance: Any, label: str, *, request: bool = False
              ) -> list[str]:
        error = best_match(self._validator(pointer, request=request).iter_errors(instance))
        if error is None:
            return []
        message = error.message if len(error.message) <= 300 else error.message[:300] + "..."
        return [f"{label} {error.json_path}: {message} (schema {self._where(pointer, error)})"]

    # --- coercion of strings (paths, queries, forms) ------------------------------------------

    def _coerce(self, value: str, schema: Any) -> Any:
        schema = self._deref(schema)
        kinds = schema.get("type") if isinstance(schema, dict) else None
        kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
        if kinds == ["string"] or (kinds and "string" in kinds and len(kinds) <= 2
                                   and "null" in kinds):
            return value
        if "integer" in kinds or "number" in kinds:
            try:
                return int(value)
            except ValueError:
                try:
                    return float(value)
                except ValueError:
                    return value
        if "boolean" in kinds and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return decoded if kinds or not isinstance(decoded, int | float | bool) else value

    # --- matching and checking --------------------------------------------------------------

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for operation in self.operations:
            if operation.method == method.lower():
                found = operation.pattern.match(path)
                if found:
                    return operation, found.groupdict()
        return None

    def check_request(self, operation: Operation, path_values: dict[str, str],
                      query: dict[str, list[str]], content_type: str, body: Any) -> list[str]:
        problems: list[str] = []
        declared = {(p["name"], p["in"]): (i, p)
                    for i, p in enumerate(operation.spec.get("parameters", []))}
        base = f"{operation.pointer}/parameters"
        for (name, place), (index, param) in declared.items():
            if place == "path":
                values = [path_values[name]] if name in path_values else []
            elif place == "query":
                values = query.get(name, [])
            else:
                continue
            if not values:
                if param.get("required"):
                    problems.append(f"{place} parameter {name!r} is required")
                continue
            if "schema" in param:
                pointer = f"{base}/{index}/schema"
                value = [self._coerce(v, param["schema"]) for v in values]
            else:  # a parameter given as JSON (Zulip's `content: application/json`)
                media = next(iter(param.get("content", {})), "")
                pointer = f"{base}/{index}/content/{_escape(media)}/schema"
                value = [self._coerce(v, {"type": "object"}) for v in values]
            problems += self.check(pointer, value[0] if len(value) == 1 else value,
                                   f"{place} parameter {name!r}", request=True)
        extra = {name: values for name, values in query.items()
                 if (name, "query") not in declared}
        if extra and self.loose_bodies and body is None:
            body, content_type = self._body_from_query(operation, extra), "application/json"
            extra = {name: values for name, values in extra.items() if name not in body}
        problems += [f"query parameter {name!r} is not in the description" for name in extra]
        problems += self._check_body(operation, content_type, body)
        return problems

    def _body_from_query(self, operation: Operation, query: dict[str, list[str]]
                         ) -> dict[str, Any]:
        schema = self._json_body_schema(operation)
        properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
        return {name: self._coerce(values[-1], properties[name])
                for name, values in query.items() if name in properties}

    def _json_body_schema(self, operation: Operation) -> Any:
        content = (operation.spec.get("requestBody") or {}).get("content", {})
        return self._deref(content.get("application/json", {}).get("schema", {}))

    def _check_body(self, operation: Operation, content_type: str, body: Any) -> list[str]:
        request_body = operation.spec.get("requestBody")
        if body is None:
            schema = self._json_body_schema(operation)
            optional = self.loose_bodies and not (isinstance(schema, dict)
                                                  and schema.get("required"))
            if request_body and request_body.get("required") and not optional:
                return ["the request body is required"]
            return []
        if not request_body:
            return ["a request body where the operation takes none"]
        media = content_type.split(";")[0].strip() or "application/json"
        content = request_body.get("content", {})
        if media not in content:
            return [f"content type {media!r} is not one of {sorted(content)}"]
        pointer = f"{operation.pointer}/requestBody/content/{_escape(media)}/schema"
        if media == "multipart/form-data":
            return []  # file uploads: Roadie sends none, and their parts are not parsed here
        if media == "application/x-www-form-urlencoded" and isinstance(body, dict):
            properties = self._deref(content[media].get("schema", {})).get("properties", {})
            body = {key: self._coerce(value, properties.get(key, {}))
                    for key, value in body.items()}
        return self.check(pointer, body, "body", request=True)

    def check_response(self, operation: Operation, status: int, content_type: str,
                       raw: bytes) -> list[str]:
        responses = operation.spec.get("responses", {})
        key = next((k for k in (str(status), f"{status // 100}XX", "default") if k in responses),
                   None)
        if key is None:
            if status not in self.anywhere:
                return [f"status {status} is not declared (declared: {sorted(responses)})"]
            schema_name = self.anywhere[status]
            if schema_name is None or not raw:
                return []
            pointer = f"/components/schemas/{_escape(schema_name)}"
            return self._check_json(pointer, raw, f"{status} body")
        content = responses[key].get("content") or {}
        if not content:
            return [f"a body where status {status} has none"] if raw.strip() and status < 300 \
                else []
        media = content_type.split(";")[0].strip()
        if media not in content:
            return [f"content type {media!r} is not one of {sorted(content)}"]
        if "schema" not in content[media]:
            return []
        pointer = f"{operation.pointer}/responses/{_escape(key)}/content/{_escape(media)}/schema"
        return self._check_json(pointer, raw, f"{status} body")

    def _check_json(self, pointer: str, raw: bytes, label: str) -> list[str]:
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            return [f"{label} is not JSON"]
        if data is None:
            return [f"{label} is empty where the description has a schema"]
        return self.check(pointer, data, label)


DISCORD_FIELD_ERRORS = {
    "type": "object", "additionalProperties": False, "required": ["_errors"],
    "properties": {"_errors": {"type": "array", "items": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}}
"""The errors of one field in Discord's 50035 "Invalid Form Body": the description gives
them integer codes, the developer docs (and Discord) string ones (`BASE_TYPE_MAX_LENGTH`)."""


@cache
def contract(service: str) -> Contract:
    anywhere: dict[str, dict[int, str | None]] = {
        # Rate limits and failures of the edge may answer any route (README of the specs).
        "github": {401: "basic-error", 403: "basic-error", 404: "basic-error",
                   429: "basic-error", 500: None, 502: None, 503: None, 504: None},
        "discord": {429: "RatelimitedResponse", 500: None, 502: None, 503: None, 504: None},
        # Zulip documents a 400 with its error shape for any bad request ("Error handling"
        # in its API docs), e.g. GET /users/{user_id} of an unknown user: "No such user".
        "zulip": {400: "CodedError", 429: None, 500: None, 502: None, 503: None, 504: None},
    }
    if service == "discord":
        snowflake = {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"}
        return Contract(service, anywhere=anywhere[service], loose_bodies=True, request_schemas={
            "SnowflakeType": {"anyOf": [snowflake, {"type": "integer", "minimum": 0}]}},
            documented_schemas={"InnerErrors": DISCORD_FIELD_ERRORS})
    return Contract(service, anywhere=anywhere.get(service))
