"""The control API's endpoints, apart from HTTP: a method, a path and a body in, a reply out.

``_control`` parses the requests, checks the token and calls
:meth:`ControlApi.handle`; here each endpoint reads or changes the live
server (its rules, stats and verdicts).  Tested by calling ``handle``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote

from awaitkit.core import UsageError
from awaitkit.flags._metrics import CONTENT_TYPE, RequestCounters, registry_for, render
from awaitkit.flags._site import ServerStats
from awaitkit.flags._verdicts import Verdicts

__all__ = ["ControlApi", "Reply", "RuleBook"]

JSON_TYPE = "application/json"


class RuleLike(Protocol):
    """A rule as the API shows it."""

    @property
    def id(self) -> str: ...

    def to_dict(self) -> dict[str, object]: ...


class RuleBook(Protocol):
    """The live rules of a server (``awaitkit.flags._rules.RuleSet``)."""

    def add(self, rule: Any) -> RuleLike: ...

    def remove(self, rule_id: str) -> bool: ...

    def rules(self) -> list[Any]: ...

    def clear(self) -> None: ...

    def reset_attempts(self) -> None: ...


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
    """Endpoints over one running server's state.

    ``rules`` is the server's rule set and ``parse_rule`` builds a rule from
    a JSON object (raising :class:`UsageError` naming the bad field); without
    them the ``/rules`` endpoints answer 501.
    """

    def __init__(
        self,
        stats: ServerStats,
        verdicts: Verdicts,
        counters: RequestCounters,
        *,
        rules: RuleBook | None = None,
        parse_rule: Callable[[Mapping[str, object], str], Any] | None = None,
    ) -> None:
        self.stats = stats
        self.verdicts = verdicts
        self.counters = counters
        self.rules = rules
        self.parse_rule = parse_rule
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
        if self.rules is None:
            return _no_rules()
        return Reply.json(200, {"rules": [r.to_dict() for r in self.rules.rules()]})

    def add_rules(self, body: bytes) -> Reply:
        """POST /rules: one rule object or a list of them; all or none are added."""
        if self.rules is None or self.parse_rule is None:
            return _no_rules()
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
                parsed.append(self.parse_rule(item, where))
            except UsageError as exc:
                raise BadBody(str(exc)) from None
        added = [self.rules.add(rule) for rule in parsed]
        return Reply.json(201, {"rules": [r.to_dict() for r in added]})

    def remove_rule(self, quoted_id: str) -> Reply:
        """DELETE /rules/ID."""
        if self.rules is None:
            return _no_rules()
        try:
            rule_id = unquote(quoted_id, errors="strict")
        except UnicodeDecodeError:
            return Reply.error(400, "the rule id is not UTF-8")
        if not self.rules.remove(rule_id):
            return Reply.error(404, f"no rule {rule_id!r}")
        return Reply.json(200, {"removed": [rule_id]})

    def clear_rules(self, body: bytes) -> Reply:
        """DELETE /rules: every rule."""
        if self.rules is None:
            return _no_rules()
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
        if self.rules is not None:
            self.rules.reset_attempts()
        return Reply.json(200, {"reset": True})

    def get_verdicts(self, body: bytes) -> Reply:
        """GET /verdicts: per client, how it behaved."""
        return Reply.json(200, {"clients": self.verdicts.report()})

    def get_metrics(self, body: bytes) -> Reply:
        """GET /metrics: Prometheus text format."""
        return Reply(200, render(self.registry), CONTENT_TYPE)


def _no_rules() -> Reply:
    return Reply.error(501, "this server has no rules engine")
