"""The control API's endpoints, apart from HTTP: a method, a path and a body in, a reply out.

``_control`` parses the requests, checks the token and calls
:meth:`ControlApi.handle`; here each endpoint reads or changes the live
server (its rules, stats and verdicts).  Tested by calling ``handle``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from awaitkit.flags._metrics import CONTENT_TYPE, RequestCounters, registry_for, render
from awaitkit.flags._rules import Rule, RuleError, RuleSet
from awaitkit.flags._site import ServerStats
from awaitkit.flags._verdicts import Verdicts

__all__ = ["ControlApi", "Reply"]

JSON_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class Reply:
    """A response: status, body and its content type, extra header lines."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def json(cls, status: int, data: object, **kwargs: Any) -> Reply:
        body = json.dumps(data, separators=(",", ":")).encode() + b"\n"
        return cls(status, body, JSON_TYPE, **kwargs)

    @classmethod
    def error(cls, status: int, message: str, **kwargs: Any) -> Reply:
        return cls.json(status, {"error": message}, **kwargs)


class BadBody(Exception):
    """A request body that is not the JSON an endpoint needs (400)."""


def parse_json(body: bytes) -> object:
    """The JSON value of a request body, or :class:`BadBody` saying why not."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise BadBody("the body nests too deeply") from None
    except ValueError as exc:
        raise BadBody(f"the body is not JSON: {exc}") from None


class ControlApi:
    """Endpoints over one running server's state: its stats, rules and verdicts."""

    def __init__(
        self,
        stats: ServerStats,
        rules: RuleSet,
        verdicts: Verdicts,
        counters: RequestCounters,
    ) -> None:
        self.stats = stats
        self.rules = rules
        self.verdicts = verdicts
        self.counters = counters
        self.registry = registry_for(stats, counters)
        # path -> method -> endpoint; DELETE /rules/ID is matched by prefix.
        self.routes: dict[str, dict[str, Callable[[bytes], Reply]]] = {
            "/rules": {
                "GET": self.list_rules,
                "POST": self.add_rules,
                "DELETE": self.clear_rules,
            },
            "/stats": {"GET": self.get_stats},
            "/reset": {"POST": self.reset},
            "/verdicts": {"GET": self.get_verdicts},
            "/metrics": {"GET": self.get_metrics},
        }

    def needs_body(self, method: str, path: str) -> bool:
        """Whether the endpoint reads a body (411 without a Content-Length)."""
        return method == "POST" and path == "/rules"

    def handle(self, method: str, path: str, body: bytes) -> Reply:
        """Answer one request (``path`` without its query)."""
        methods = self.routes.get(path)
        if methods is None:
            if path.startswith("/rules/"):
                methods = {"DELETE": lambda _: self.remove_rule(path[7:])}
            else:
                return Reply.error(404, f"no endpoint {path}")
        endpoint = methods.get(method)
        if endpoint is None:
            allow = ", ".join(methods)
            return Reply.error(
                405, f"{method} is not allowed on {path}", headers=(("Allow", allow),)
            )
        try:
            return endpoint(body)
        except BadBody as exc:
            return Reply.error(400, str(exc))

    # -- endpoints -----------------------------------------------------------

    def list_rules(self, body: bytes) -> Reply:
        """GET /rules: every rule, in the order they are tried."""
        return Reply.json(200, {"rules": [r.to_dict() for r in self.rules.rules()]})

    def add_rules(self, body: bytes) -> Reply:
        """POST /rules: one rule object or a list of them; all or none are added."""
        data = parse_json(body)
        items = data if isinstance(data, list) else [data]
        if not items:
            raise BadBody("no rule given")
        parsed = []
        for n, item in enumerate(items, 1):
            where = f"rule {n}" if isinstance(data, list) else "rule"
            if not isinstance(item, dict):
                raise BadBody(f"{where}: expected a JSON object")
            try:
                parsed.append(Rule.from_dict(item, where=where))
            except RuleError as exc:
                raise BadBody(str(exc)) from None
        added: list[Rule] = []
        try:
            for rule in parsed:
                added.append(self.rules.add(rule))
        except RuleError as exc:  # a taken id, too many rules: undo the batch
            for rule in added:
                self.rules.remove(rule.id)
            raise BadBody(str(exc)) from None
        return Reply.json(201, {"rules": [r.to_dict() for r in added]})

    def remove_rule(self, quoted_id: str) -> Reply:
        """DELETE /rules/ID."""
        try:
            rule_id = unquote(quoted_id, errors="strict")
        except UnicodeDecodeError:
            return Reply.error(400, "the rule id is not UTF-8")
        if not self.rules.remove(rule_id):
            return Reply.error(404, f"no rule {rule_id!r}")
        return Reply.json(200, {"removed": [rule_id]})

    def clear_rules(self, body: bytes) -> Reply:
        """DELETE /rules: every rule."""
        removed = [r.id for r in self.rules.rules()]
        self.rules.clear()
        return Reply.json(200, {"removed": removed})

    def get_stats(self, body: bytes) -> Reply:
        """GET /stats: the server's ServerStats."""
        return Reply.json(200, self.stats.to_dict())

    def reset(self, body: bytes) -> Reply:
        """POST /reset: stats, metrics counters, verdicts and rule attempts."""
        self.stats.reset()
        self.counters.reset()
        self.verdicts.reset()
        self.rules.reset_attempts()
        return Reply.json(200, {"reset": True})

    def get_verdicts(self, body: bytes) -> Reply:
        """GET /verdicts: per client, how it behaved."""
        return Reply.json(200, {"clients": self.verdicts.report()})

    def get_metrics(self, body: bytes) -> Reply:
        """GET /metrics: Prometheus text format."""
        return Reply(200, render(self.registry), CONTENT_TYPE)
