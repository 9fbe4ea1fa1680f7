"""The web app on real uvicorn over loopback: hostile HTTP clients, lifespan loading."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from awaitkit.core.testing import exchange
from awaitkit.find import CharIndex
from awaitkit.servers import create_app, serving_web
from tests.servers._client import plain_client

pytestmark = pytest.mark.anyio


@pytest.fixture
async def base_url(web_app: FastAPI) -> AsyncIterator[str]:
    async with serving_web(web_app) as url:
        yield url


async def raw(base_url: str, data: bytes, *, half_close: bool = False) -> bytes:
    """Send raw bytes over a fresh connection; return whatever comes back."""
    return await exchange(base_url, data, half_close=half_close)


async def assert_healthy(base_url: str) -> None:
    async with plain_client(base_url) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_search_over_real_http(base_url: str) -> None:
    async with plain_client(base_url) as client:
        response = await client.get("/search", params={"q": "cat face", "limit": 1})
    assert response.json() == [
        {
            "char": "\U0001f431",
            "code": "U+1F431",
            "name": "CAT FACE",
            "kind": "char",
            "via": "name",
        }
    ]
    assert response.headers["x-total-count"] == "11"


async def test_lifespan_loads_index_when_none_given(
    monkeypatch: pytest.MonkeyPatch, find_cache: Path, index: CharIndex
) -> None:
    """create_app() holds no index; its lifespan loads the real one (from the cache)."""
    monkeypatch.setenv("AWAITKIT_CACHE_DIR", str(find_cache))
    app = create_app()
    assert not hasattr(app.state, "finder")
    async with serving_web(app) as url, plain_client(url) as client:
        response = await client.get("/search", params={"q": "cat face", "limit": 1})
        assert response.json()[0]["name"] == "CAT FACE"
    assert app.state.finder.search.index is not index  # its own, freshly loaded


async def test_malformed_request_line_is_400_and_server_lives(base_url: str) -> None:
    reply = await raw(base_url, b"GARBAGE\x00\x01 / HTTP/9.9\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")
    await assert_healthy(base_url)


async def test_non_utf8_query_string_is_data(base_url: str) -> None:
    reply = await raw(
        base_url,
        b"GET /search?q=\xff\xfe%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert reply.startswith((b"HTTP/1.1 200", b"HTTP/1.1 400"))
    await assert_healthy(base_url)


async def test_oversized_query_is_4xx(base_url: str) -> None:
    reply = await raw(
        base_url,
        b"GET /search?q="
        + b"x" * 10_000  # under the 16 KiB target limit (test_web_limits: 414)
        + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 422")
    assert b'"string_too_long"' in reply


async def test_oversized_header_is_survived(base_url: str) -> None:
    """A 1 MiB header is refused (431, or a reset while sending) and harms nothing."""
    header = b"X-Big: " + b"a" * (1 << 20) + b"\r\n"
    reply = await raw(
        base_url,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + header + b"\r\n",
    )
    assert reply.startswith((b"HTTP/1.1 200", b"HTTP/1.1 4"))
    await assert_healthy(base_url)


async def test_half_closed_request_is_answered_or_dropped_cleanly(
    base_url: str,
) -> None:
    """A client's FIN never wedges the server (test_web_limits: answers in detail)."""
    reply = await raw(base_url, b"GET /search?q=cat HTTP/1.1\r\nHo", half_close=True)
    assert reply == b"" or reply.startswith(b"HTTP/1.1 400")
    complete = await raw(
        base_url,
        b"GET /search?q=cat%20face HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        half_close=True,
    )
    assert complete == b"" or (
        complete.startswith(b"HTTP/1.1 200") and b"CAT FACE" in complete
    )
    await assert_healthy(base_url)
