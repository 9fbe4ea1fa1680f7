"""A hostile server: names that try to escape, lies about sizes, bad redirects."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from awaitkit.download import (
    DownloadOptions,
    DownloadStatus,
    Job,
    download_many,
    iter_downloads,
)
from tests.download._servers import serving_app

pytestmark = pytest.mark.anyio

HITS = web.AppKey("hits", Counter[str])
HOSTILE_NAMES = [
    "../../escaped",
    "/etc/passwd",
    "..\\..\\win",
    "CON",
    "nul.txt",
    "a\x00b",
    "..",
    "x" * 1000,
    "🏳️" * 300,
    "../" * 50 + "deep",
]


def hostile_app() -> web.Application:
    async def meta(request: web.Request) -> web.Response:
        name = HOSTILE_NAMES[int(request.match_info["i"])]
        return web.json_response({"country": name})

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=b"GIF89a" + request.match_info["i"].encode())

    async def disposition(request: web.Request) -> web.Response:
        name = HOSTILE_NAMES[int(request.match_info["i"])]
        header = "attachment; filename*=UTF-8''" + "".join(
            f"%{b:02X}" for b in name.encode()
        )
        return web.Response(body=b"cd", headers={"Content-Disposition": header})

    async def raw(request: web.Request) -> web.Response:
        return web.Response(body=b"raw:" + request.path.encode())

    async def big_meta(request: web.Request) -> web.Response:
        return web.Response(body=b'{"country": "' + b"x" * 100_000 + b'"}')

    async def big_meta_chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()  # no Content-Length to refuse up front
        await resp.prepare(request)
        for _ in range(10):
            await resp.write(b" " * 10_000)
        await resp.write_eof()
        return resp

    async def bad_meta(request: web.Request) -> web.Response:
        return web.Response(body=b"\xff\xfe not json")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": str(10 << 20)})
        await resp.prepare(request)
        await resp.write(b"x" * 1024)
        return resp

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()  # chunked: no length announced
        await resp.prepare(request)
        for _ in range(64):
            await resp.write(b"y" * 16384)
        await resp.write_eof()
        return resp

    async def teapot(request: web.Request) -> web.Response:
        request.app[HITS]["teapot"] += 1
        return web.Response(status=418, text="I'm a teapot")

    async def unavailable(request: web.Request) -> web.Response:
        request.app[HITS]["unavailable"] += 1
        return web.Response(status=503)

    app = web.Application()
    app[HITS] = Counter()
    app.router.add_get("/meta/{i}", meta)
    app.router.add_get("/img/{i}/flag.gif", image)
    app.router.add_get("/cd/{i}", disposition)
    app.router.add_get("/big-meta", big_meta)
    app.router.add_get("/bad-meta", bad_meta)
    app.router.add_get("/big-meta-chunked", big_meta_chunked)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/loop", loop)
    app.router.add_get("/huge", huge)
    app.router.add_get("/endless", endless)
    app.router.add_get("/teapot", teapot)
    app.router.add_get("/unavailable", unavailable)
    app.router.add_get("/{tail:.*}", raw)
    return app


def listdir(path: Path) -> list[Path]:
    return sorted(path.iterdir())


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


async def test_metadata_names_cannot_escape(tmp_path: Path) -> None:
    """Hostile country names all land as plain files directly inside dest."""
    dest = tmp_path / "dest"
    async with serving_app(hostile_app()) as base:
        jobs = [
            Job(f"{base}/img/{i}/flag.gif", metadata_url=f"{base}/meta/{i}")
            for i in range(len(HOSTILE_NAMES))
        ]
        results = [r async for r in iter_downloads(jobs, dest)]
    assert all(r.status is DownloadStatus.OK for r in results), results
    assert tree(tmp_path) == {"dest"} | {f"dest/{p.name}" for p in dest.iterdir()}
    names = {p.name for p in dest.iterdir()}
    assert "passwd.gif" in names
    assert "escaped.gif" in names
    assert "deep.gif" in names
    assert "_CON.gif" in names
    assert "_nul.txt.gif" in names
    assert all(len(n.encode()) <= 255 and "\x00" not in n for n in names)
    for r in results:
        assert r.path is not None
        assert r.path.parent == dest


async def test_content_disposition_names_cannot_escape(tmp_path: Path) -> None:
    """Content-Disposition is honoured only when asked, and always sanitised."""
    dest = tmp_path / "dest"
    async with serving_app(hostile_app()) as base:
        urls = [f"{base}/cd/{i}" for i in range(len(HOSTILE_NAMES))]
        opts = DownloadOptions(content_disposition=True)
        counter = await download_many(urls, dest, options=opts)
    # Several sanitise to the same name; each item still ends OK, one at a time.
    assert counter == {DownloadStatus.OK: len(HOSTILE_NAMES)}
    assert all(p.parent == dest for p in dest.rglob("*"))
    assert tree(tmp_path) == {"dest"} | {f"dest/{p.name}" for p in dest.iterdir()}
    assert "escaped" in {p.name for p in dest.iterdir()}


async def test_url_paths_cannot_escape(tmp_path: Path) -> None:
    """Encoded ../, NUL and backslashes in URL paths stay inside dest."""
    dest = tmp_path / "dest"
    async with serving_app(hostile_app()) as base:
        urls = [
            f"{base}/a/..%2F..%2Fescaped",
            f"{base}/%2e%2e%5c%2e%2e%5cwin",
            f"{base}/x%00y",
            f"{base}/",
            f"{base}/CON",
        ]
        counter = await download_many(urls, dest)
    assert counter == {DownloadStatus.OK: 5}
    assert tree(tmp_path) == {"dest"} | {
        f"dest/{n}" for n in ["escaped", "win", "x_y", "index.html", "_CON"]
    }


async def test_planted_symlink_part_is_not_followed(tmp_path: Path) -> None:
    """A .part symlink to a file outside dest is never written through."""
    dest = tmp_path / "dest"
    dest.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    os.symlink(victim, dest / ".file.bin.part")
    async with serving_app(hostile_app()) as base:
        results = [
            r
            async for r in iter_downloads(
                [f"{base}/file.bin"], dest, options=DownloadOptions(resume=False)
            )
        ]
    assert victim.read_bytes() == b"precious"
    assert results[0].status is DownloadStatus.ERROR
    assert not (dest / "file.bin").exists()


async def test_bad_metadata_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """Oversized or malformed metadata.json ends the item as ERROR."""
    async with serving_app(hostile_app()) as base:
        jobs = [
            Job(f"{base}/img/0/flag.gif", metadata_url=f"{base}/big-meta"),
            Job(f"{base}/img/1/flag.gif", metadata_url=f"{base}/bad-meta"),
            Job(f"{base}/img/2/flag.gif", metadata_url=f"{base}/img/2/flag.gif"),
            Job(f"{base}/img/3/flag.gif", metadata_url=f"{base}/big-meta-chunked"),
        ]
        results = [r async for r in iter_downloads(jobs, tmp_path)]
    assert [r.status for r in results] == [DownloadStatus.ERROR] * 4
    errors = sorted(r.error or "" for r in results)
    assert sum("too large" in e for e in errors) == 2
    assert sum("JSON" in e for e in errors) == 2
    assert listdir(tmp_path) == []


async def test_redirects_are_limited_and_http_only(tmp_path: Path) -> None:
    """http redirects are followed; loops and non-http targets are ERROR."""
    async with serving_app(hostile_app()) as base:
        urls = {
            "ok": f"{base}/redirect?to=/target.txt",
            "file": f"{base}/redirect?to=file:///etc/passwd",
            "ftp": f"{base}/redirect?to=ftp://127.0.0.1/x",
            "loop": f"{base}/loop",
        }
        results = {
            r.url: r
            async for r in iter_downloads(
                urls.values(), tmp_path, options=DownloadOptions(max_redirects=3)
            )
        }
    assert results[urls["ok"]].status is DownloadStatus.OK
    # Named after the URL asked for, as curl -O does; the body is the target's.
    assert results[urls["ok"]].path == tmp_path / "redirect"
    assert (tmp_path / "redirect").read_bytes() == b"raw:/target.txt"
    for key in ("file", "ftp", "loop"):
        assert results[urls[key]].status is DownloadStatus.ERROR, key
        assert results[urls[key]].attempts == 1
    assert "redirect" in (results[urls["loop"]].error or "")


async def test_max_size_refuses_announced_and_streamed_bodies(tmp_path: Path) -> None:
    """A Content-Length over the limit is refused at once; a chunked body when it passes."""
    async with serving_app(hostile_app()) as base:
        opts = DownloadOptions(max_size=100_000)
        results = {
            r.url.rsplit("/", 1)[1]: r
            async for r in iter_downloads(
                [f"{base}/huge", f"{base}/endless"], tmp_path, options=opts
            )
        }
    assert results["huge"].status is DownloadStatus.ERROR
    assert "limit" in (results["huge"].error or "")
    assert results["endless"].status is DownloadStatus.ERROR
    assert listdir(tmp_path) == []


async def test_unannounced_length_body_is_saved(tmp_path: Path) -> None:
    """A chunked body with no Content-Length streams to disk whole."""
    async with serving_app(hostile_app()) as base:
        counter = await download_many([f"{base}/endless"], tmp_path)
    assert counter == {DownloadStatus.OK: 1}
    assert (tmp_path / "endless").read_bytes() == b"y" * (64 * 16384)


async def test_418_is_not_retried_but_503_is(tmp_path: Path) -> None:
    """418 is the server's final word (ERROR, 1 attempt); 503 is retried."""
    app = hostile_app()
    async with serving_app(app) as base:
        opts = DownloadOptions(retries=2, backoff_base=0.001)
        results = {
            r.url.rsplit("/", 1)[1]: r
            async for r in iter_downloads(
                [f"{base}/teapot", f"{base}/unavailable"], tmp_path, options=opts
            )
        }
    assert results["teapot"].status is DownloadStatus.ERROR
    assert results["teapot"].attempts == 1
    assert app[HITS]["teapot"] == 1
    assert results["unavailable"].status is DownloadStatus.ERROR
    assert results["unavailable"].attempts == 3
    assert app[HITS]["unavailable"] == 3


async def test_connection_refused_is_retried_then_error(tmp_path: Path) -> None:
    """Nothing listening: connect errors are retried, then ERROR."""
    sock = __import__("socket").socket()
    sock.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    port = sock.getsockname()[1]
    try:
        opts = DownloadOptions(retries=1, backoff_base=0.001)
        results = [
            r
            async for r in iter_downloads(
                [f"http://127.0.0.1:{port}/x"], tmp_path, options=opts
            )
        ]
    finally:
        sock.close()
    assert results[0].status is DownloadStatus.ERROR
    assert results[0].attempts == 2
    assert "connect" in (results[0].error or "")


async def test_slow_consumer_bounds_memory(tmp_path: Path) -> None:
    """With nobody reading results, the feeder stops pulling input (bounded queues)."""
    pulled = 0

    def endless_input() -> Iterator[str]:
        nonlocal pulled
        while True:
            pulled += 1
            yield "ftp://refused/x"  # instant ERROR, no network

    stream = iter_downloads(
        endless_input(), tmp_path, options=DownloadOptions(concurrency=4)
    )
    first = await stream.__anext__()
    await asyncio.sleep(0.05)  # let the workers run as far as they can
    await stream.aclose()
    assert first.status is DownloadStatus.ERROR
    assert pulled < 100


async def test_report_line_has_the_fields(tmp_path: Path) -> None:
    """to_json gives url, status, bytes, attempts, error, seconds (and more)."""
    async with serving_app(hostile_app()) as base:
        results = [r async for r in iter_downloads([f"{base}/ok.txt"], tmp_path)]
    line = json.loads(json.dumps(results[0].to_json()))
    assert {"url", "status", "bytes", "attempts", "error", "seconds"} <= set(line)
    assert line["status"] == "ok"
    assert line["bytes"] == len(b"raw:/ok.txt")


async def test_retry_statuses_is_configurable(tmp_path: Path) -> None:
    """Putting 418 in retry_statuses makes teapots retried like 503s."""
    app = hostile_app()
    async with serving_app(app) as base:
        opts = DownloadOptions(
            retries=1, backoff_base=0.001, retry_statuses=frozenset({418})
        )
        results = [
            r async for r in iter_downloads([f"{base}/teapot"], tmp_path, options=opts)
        ]
    assert results[0].status is DownloadStatus.ERROR
    assert results[0].attempts == 2
    assert app[HITS]["teapot"] == 2
