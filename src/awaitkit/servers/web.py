"""Mojifinder over HTTP: a FastAPI app built by :func:`create_app`.

Routes::

    GET /search?q=cat+face&limit=100&offset=0   JSON list of {char, code, name, kind, via}
        &types=char,sequence&lang=fr            (when the index supports them)
    GET /                                       the page (results rendered when ?q= given)
    GET /mojifinder.js                          the page's script
    GET /healthz                                {"status": "ok"}
    GET /docs, /openapi.json                    OpenAPI

``limit`` is 1-10000 or ``all`` (default 100); the ``X-Total-Count`` header
tells how many matched in all.  Bad input gets a 4xx JSON body: 422 for a
missing q, a q over 200 characters or a limit/offset out of range (FastAPI's
validation detail), 400 for a query with nothing to search for, an unknown
type or language, or one the index does not support (:mod:`._options`).  Before
any of this, the HTTP layer (:func:`awaitkit.servers._serve.web_config`)
answers an oversized request target ``414``, an oversized head or too many
header fields ``431``, malformed bytes ``400``, and still answers a client
that half-closed its side after sending its request.

The app holds no module-level state: the index is loaded in the lifespan
(in a thread, since loading is synchronous) unless one is passed in.

``/search`` is the hot path.  Its JSON is joined from per-character
fragments cached as bytes (:mod:`._encode`) and sent as a raw ``Response``,
so pydantic never validates the list; the response model stays declared for
the OpenAPI schema.  A small ASGI layer answers well-formed ``/search``
requests before FastAPI's routing and dependency machinery, which costs more
than the search itself for small results; anything it is unsure of (a bad
parameter, an error) falls through to the declared route, so there is one
set of validation rules and error bodies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from awaitkit.core import QueryError
from awaitkit.servers._encode import BodyMemo, FragmentCache
from awaitkit.servers._options import SearchOptions
from awaitkit.servers._page import CSP, PAGE_LIMIT, SCRIPT, render_page
from awaitkit.servers._search import CachedSearch

if TYPE_CHECKING:
    from awaitkit.find import CharIndex, QueryResult

__all__ = ["MAX_LIMIT", "MAX_QUERY", "CharInfo", "create_app"]

log = logging.getLogger("awaitkit.servers.web")

MAX_QUERY = 200
MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000
DEFAULT_LIMIT = 100
# Above this many results the JSON join runs in a thread so the loop keeps
# serving other requests (q=cjk returns ~100,000 characters).
_THREAD_ABOVE = 20_000

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class CharInfo(BaseModel):
    """One result: a character or an emoji sequence, and how it was found."""

    char: str = Field(description="the character, or every code point of a sequence")
    code: str = Field(description="its code points: U+1F431, or U+1F1E7 U+1F1F7")
    name: str
    kind: str = Field(description="char or sequence")
    via: str = Field(description="name, alias, keyword, code or text")


class Finder:
    """The app's state: the cached search, the JSON caches, what the index takes."""

    def __init__(self, search: CachedSearch) -> None:
        self.search = search
        self.fragments = FragmentCache()
        self.bodies = BodyMemo()
        self.options = SearchOptions.of(search.index)

    async def query(
        self,
        q: str,
        limit: int | None,
        offset: int,
        types: tuple[str, ...] | None = None,
        lang: str | None = None,
    ) -> QueryResult:
        """Run a query; raises :class:`QueryError` for an empty or invalid one."""
        return await self.search.query(
            q, limit=limit, offset=offset, types=types, lang=lang
        )

    async def search_json(
        self,
        q: str,
        limit: int | None,
        offset: int,
        types: tuple[str, ...] | None = None,
        lang: str | None = None,
    ) -> tuple[int, bytes]:
        """``(total, JSON body)`` for a query."""
        result = await self.query(q, limit, offset, types, lang)
        body = self.bodies.get(result)
        if body is None:
            if len(result.matches) > _THREAD_ABOVE:
                body = await asyncio.to_thread(self.fragments.encode, result.matches)
            else:
                body = self.fragments.encode(result.matches)
            self.bodies.put(result, body)
        return result.total, body


def _json_headers(body: bytes, total: int) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-total-count", str(total).encode()),
    ]


_FastParams = tuple[str, int | None, int, tuple[str, ...] | None, str | None]


def _fast_params(query_string: bytes, options: SearchOptions) -> _FastParams | None:
    """(q, limit, offset, types, lang) when every parameter is plainly valid, else ``None``."""
    q: str | None = None
    limit: int | None = DEFAULT_LIMIT
    offset = 0
    types: tuple[str, ...] | None = None
    lang: str | None = None
    try:
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    except ValueError:
        return None
    seen: set[str] = set()
    for key, value in pairs:
        if key in seen:
            return None  # repeated parameters: let FastAPI decide
        seen.add(key)
        if key == "q":
            q = value
        elif key == "limit":
            if value == "all":
                limit = None
            elif value.isdigit() and 1 <= int(value) <= MAX_LIMIT:
                limit = int(value)
            else:
                return None
        elif key == "offset":
            if not (value.isdigit() and int(value) <= MAX_OFFSET):
                return None
            offset = int(value)
        elif key == "types" or key == "lang":
            try:
                if key == "types":
                    types = options.parse_types(value)
                else:
                    lang = options.parse_lang(value)
            except ValueError:
                return None  # the route answers 400 with the reason
    if q is None or not 1 <= len(q) <= MAX_QUERY:
        return None
    return q, limit, offset, types, lang


class SearchFastPath:
    """ASGI layer answering plainly valid ``GET /search`` requests directly."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request, or hand it to the wrapped app."""
        if (
            scope["type"] == "http"
            and scope["path"] == "/search"
            and scope["method"] == "GET"
        ):
            finder: Finder = scope["app"].state.finder
            params = _fast_params(scope["query_string"], finder.options)
        else:
            params = None
        if params is not None:
            try:
                total, body = await finder.search_json(*params)
            except QueryError:
                pass  # the route turns it into a 400 with its detail
            else:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": _json_headers(body, total),
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def create_app(
    index: CharIndex | CachedSearch | None = None, *, fast_path: bool = True
) -> FastAPI:
    """Build the Mojifinder web app; the index is loaded in its lifespan if not given.

    ``fast_path=False`` leaves every request to FastAPI's routing (for
    comparison: both paths give the same bytes).

    Example use (uvicorn needs an import string for several workers)::

        uvicorn.run("awaitkit.servers.web:create_app", factory=True, workers=2)
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if index is None:
            from awaitkit.find import load_index

            search = CachedSearch(await asyncio.to_thread(load_index))
            from awaitkit.servers._heap import settle_heap

            settle_heap()  # a worker's index, kept out of GC walks
        elif isinstance(index, CachedSearch):
            search = index
        else:
            search = CachedSearch(index)
        app.state.finder = Finder(search)
        log.info("Mojifinder web ready")
        yield

    app = FastAPI(
        title="Mojifinder",
        description="Search Unicode characters by name.",
        lifespan=lifespan,
    )
    if fast_path:
        app.add_middleware(SearchFastPath)

    @app.get(
        "/search",
        response_model=list[CharInfo],
        responses={400: {"description": "Nothing to search for in the query"}},
    )
    async def search(
        request: Request,
        q: Annotated[
            str,
            Query(
                min_length=1,
                max_length=MAX_QUERY,
                description="words of a character name, code points or characters",
            ),
        ],
        limit: Annotated[
            Annotated[int, Field(ge=1, le=MAX_LIMIT)] | Literal["all"],
            Query(description=f"1-{MAX_LIMIT}, or 'all'"),
        ] = DEFAULT_LIMIT,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
        types: Annotated[
            str | None,
            Query(
                max_length=100,
                description="comma-separated kinds of result: char, sequence",
            ),
        ] = None,
        lang: Annotated[
            str | None,
            Query(max_length=20, description="search emoji names in this language"),
        ] = None,
    ) -> Response:
        """Characters (and emoji sequences) for ``q``, best first."""
        finder: Finder = request.app.state.finder
        try:
            kinds = None if types is None else finder.options.parse_types(types)
            language = None if lang is None else finder.options.parse_lang(lang)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        try:
            total, body = await finder.search_json(
                q, None if limit == "all" else limit, offset, kinds, language
            )
        except QueryError as exc:
            raise HTTPException(400, str(exc)) from exc
        return Response(
            body,
            media_type="application/json",
            headers={"x-total-count": str(total)},
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request, q: str = "") -> HTMLResponse:
        """The page; with ``?q=`` its results are rendered server-side."""
        query = q.strip()[:MAX_QUERY]
        result: QueryResult | None = None
        error = ""
        if query:
            try:
                result = await request.app.state.finder.query(query, PAGE_LIMIT, 0)
            except QueryError as exc:
                error = str(exc)
        languages = request.app.state.finder.options.languages
        return HTMLResponse(
            render_page(q[:MAX_QUERY], result, error, languages=languages),
            headers={"content-security-policy": CSP},
        )

    @app.get("/mojifinder.js", include_in_schema=False)
    async def script() -> Response:
        """The page's script."""
        return Response(SCRIPT, media_type="text/javascript")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the index is loaded and the app answers."""
        return {"status": "ok"}

    return app
