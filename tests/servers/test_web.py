"""The web app: routes, validation, fast path vs FastAPI path, the page's escaping."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi.responses import JSONResponse

from awaitkit.find import CharIndex
from awaitkit.servers import create_app
from awaitkit.servers._encode import FragmentCache, encode_match
from awaitkit.servers.web import MAX_LIMIT

pytestmark = pytest.mark.anyio

XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


async def _client(
    index: CharIndex, fast_path: bool
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(index, fast_path=fast_path)
    # ASGITransport skips the lifespan, so run it here.
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


@pytest.fixture(params=[True, False], ids=["fast-path", "fastapi-path"])
async def client(
    index: CharIndex, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(index, request.param):
        yield c


async def test_search_returns_char_code_name(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", params={"q": "cat face"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-total-count"] == "11"
    body = response.json()
    assert body[0] == {
        "char": "\U0001f431",
        "code": "U+1F431",
        "name": "CAT FACE",
        "kind": "char",
        "via": "name",
    }
    assert len(body) == 11


async def test_limit_offset_and_all(
    client: httpx.AsyncClient, index: CharIndex
) -> None:
    total = index.query("sign").total
    everything = (await client.get("/search?q=sign&limit=all")).json()
    assert len(everything) == total > 3000
    page = (await client.get("/search?q=sign&limit=5&offset=10")).json()
    assert page == everything[10:15]
    assert len((await client.get("/search?q=sign")).json()) == 100  # default limit


@pytest.mark.parametrize(
    ("url", "status", "where"),
    [
        ("/search", 422, ["query", "q"]),
        ("/search?q=", 422, ["query", "q"]),
        ("/search?q=" + "a" * 201, 422, ["query", "q"]),
        ("/search?q=cat&limit=0", 422, ["query", "limit"]),
        (f"/search?q=cat&limit={MAX_LIMIT + 1}", 422, ["query", "limit"]),
        ("/search?q=cat&limit=lots", 422, ["query", "limit"]),
        ("/search?q=cat&offset=-1", 422, ["query", "offset"]),
    ],
)
async def test_bad_input_gets_clear_4xx_json(
    client: httpx.AsyncClient, url: str, status: int, where: list[str]
) -> None:
    response = await client.get(url)
    assert response.status_code == status
    detail = response.json()["detail"]
    assert detail[0]["loc"][:2] == where


async def test_whitespace_query_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", params={"q": "   "})
    assert response.status_code == 400
    assert response.json() == {"detail": "empty query"}


async def test_hostile_queries_are_data(client: httpx.AsyncClient) -> None:
    """Markup, NULs, surrogates and percent-garbage come back as JSON or a 4xx."""
    for q in (XSS, "\x00\x01", "U+D800", "%ff%fe", "' OR 1=1 --", "\u202e\ufeff"):
        response = await client.get("/search", params={"q": q})
        assert response.status_code in (200, 400), q
        json.loads(response.content)
    raw = await client.get("/search?q=%FF%FE%00")  # not UTF-8 once decoded
    assert raw.status_code in (200, 400)


async def test_fast_path_bytes_equal_fastapi_jsonresponse(index: CharIndex) -> None:
    """The cached fragments give exactly what FastAPI's JSONResponse would."""
    matches = index.query("sign", limit=None).matches
    expected = JSONResponse(
        [
            {
                "char": m.char,
                "code": m.code,
                "name": m.name,
                "kind": m.kind,
                "via": m.via,
            }
            for m in matches
        ]
    ).body
    assert FragmentCache().encode(matches) == expected
    assert FragmentCache().encode(()) == b"[]"


def test_fragment_for_lone_surrogate_is_escaped() -> None:
    from awaitkit.find import Match

    fragment = encode_match(Match("\ud800", "U+D800", "X"))
    assert json.loads(fragment)["char"] == "\ud800"


async def test_openapi_documents_response_model(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    ok = schema["paths"]["/search"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["items"]["$ref"].endswith(
        "CharInfo"
    )
    assert (await client.get("/docs")).status_code == 200


async def test_healthz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_page_without_query_is_the_form(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert '<form id="search" action="/" method="get"' in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert (
        (await client.get("/mojifinder.js"))
        .headers["content-type"]
        .startswith("text/javascript")
    )


async def test_page_renders_results_without_javascript(
    client: httpx.AsyncClient,
) -> None:
    text = (await client.get("/", params={"q": "cat face"})).text
    assert '<tr class="kind-char via-name"><td class="code">U+1F431</td>' in text
    assert '<td class="char" title="click to copy">\U0001f431</td>' in text
    assert '<td class="name">CAT FACE</td>' in text
    assert '<p id="caption" aria-live="polite">11 found</p>' in text
    assert 'value="cat face"' in text


async def test_page_escapes_hostile_query_and_results(
    client: httpx.AsyncClient,
) -> None:
    """An XSS attempt in q is shown as text: in the input value and in result cells."""
    text = (await client.get("/", params={"q": XSS})).text
    assert "<script>alert" not in text
    assert "<img src=x" not in text
    assert 'value="&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;' in text
    assert (
        '<td class="char" title="click to copy">&lt;</td>' in text
    )  # pasted '<' found
    assert text.count("<script") == 1  # only the page's own script tag


async def test_page_shows_query_error(client: httpx.AsyncClient) -> None:
    text = (await client.get("/", params={"q": "  "})).text
    assert '<tbody id="results">\n</tbody>' in text
