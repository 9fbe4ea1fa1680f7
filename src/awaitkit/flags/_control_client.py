"""``ControlClient``: the control API of a flags server, from Python.

Example use::

    client = ControlClient("http://127.0.0.1:8475", token)
    await client.add_rule({"path": "/flags/br/*", "status": 503})
    print((await client.verdicts())["my-client"]["retry_after"])

One short connection per call (the API sees a few calls per test, and a
fresh connection has no state to go stale); every call has a timeout.  A
non-2xx answer raises :class:`~awaitkit.core.HTTPStatusError` carrying the
API's message; a server that cannot be reached raises
:class:`~awaitkit.core.ConnectError` or :class:`~awaitkit.core.TimeoutExpired`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from awaitkit.core import ConnectError, HTTPStatusError, TimeoutExpired, UsageError

__all__ = ["ControlClient"]

_MAX_REPLY = 16 * 1024 * 1024


class ControlClient:
    """Talks to one flags server's control API (``base_url``, ``token``)."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        parts = urlsplit(self.base_url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme != "http" or not parts.hostname or port is None:
            raise UsageError(f"not an http://HOST:PORT URL: {base_url!r}")
        self._address = (parts.hostname, port)
        self._host = parts.netloc

    def __repr__(self) -> str:
        return f"<ControlClient {self.base_url}>"

    async def rules(self) -> list[dict[str, Any]]:
        """Every rule, in the order they are tried."""
        return list((await self._json("GET", "/rules"))["rules"])

    async def add_rule(
        self, rule: Mapping[str, object] | list[Mapping[str, object]]
    ) -> list[dict[str, Any]]:
        """Add a rule (or several, all or none); return them as stored (with ids)."""
        data = dict(rule) if isinstance(rule, Mapping) else rule
        return list((await self._json("POST", "/rules", data))["rules"])

    async def remove_rule(self, rule_id: str) -> None:
        """Remove one rule (HTTPStatusError 404 if there is none by that id)."""
        await self._json("DELETE", "/rules/" + quote(rule_id, safe=""))

    async def clear_rules(self) -> list[str]:
        """Remove every rule; return their ids."""
        return list((await self._json("DELETE", "/rules"))["removed"])

    async def stats(self) -> dict[str, Any]:
        """The server's counters (``ServerStats`` as JSON)."""
        return dict(await self._json("GET", "/stats"))

    async def reset(self) -> None:
        """Zero stats and metrics, forget verdicts and rule attempt counts."""
        await self._json("POST", "/reset")

    async def verdicts(self) -> dict[str, dict[str, Any]]:
        """Per client (its X-Client-Id, else its IP address), how it behaved."""
        return dict((await self._json("GET", "/verdicts"))["clients"])

    async def metrics(self) -> str:
        """The Prometheus text exposition."""
        status, body = await self.request("GET", "/metrics")
        self._check(status, body, "/metrics")
        return body.decode("utf-8")

    async def _json(self, method: str, path: str, data: object = None) -> Any:
        body = None if data is None else json.dumps(data).encode()
        status, reply = await self.request(method, path, body)
        self._check(status, reply, path)
        return json.loads(reply)

    def _check(self, status: int, body: bytes, path: str) -> None:
        if 200 <= status < 300:
            return
        try:
            message = json.loads(body)["error"]
        except (ValueError, KeyError, TypeError):
            message = body[:200].decode("utf-8", "replace")
        raise HTTPStatusError(
            f"control API: {status} {message}",
            status_code=status,
            url=self.base_url + path,
        )

    async def request(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        """Send one request; return (status, body)."""
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self._host}",
            f"Authorization: Bearer {self.token}",
            "Connection: close",
        ]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + (body or b"")
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(data)
        except TimeoutError:
            raise TimeoutExpired(
                f"control API {self.base_url}: no answer in {self.timeout} s"
            ) from None
        except OSError as exc:
            raise ConnectError(f"control API {self.base_url}: {exc}") from exc

    async def _exchange(self, data: bytes) -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection(*self._address)
        try:
            writer.write(data)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            length = 0
            for line in header_lines:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length > _MAX_REPLY:
                raise ConnectError(f"control API {self.base_url}: reply too large")
            return status, await reader.readexactly(length)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            raise ConnectError(
                f"control API {self.base_url}: malformed reply"
            ) from None
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
