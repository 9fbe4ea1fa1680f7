"""httpbin-style paths over loopback: raw sockets, awaitkit's client, ``awaitkit fetch``."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
import struct
import sys
from pathlib import Path

import pytest

from awaitkit.core.testing import (
    exchange,
    split_url,
    status_of,
    statuses_of,
    wait_until,
)
from awaitkit.flags import FlagsServer, serving_flags
from awaitkit.http import ACCEPT_ENCODING, HttpClient, TooManyRedirects
from tests.flags.loops import both_loops
from tests.flags.rawhttp import get

pytestmark = pytest.mark.anyio


anyio_backend = both_loops


def split(response: bytes) -> tuple[bytes, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return head, body


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (b"/status/503", 503),
        (b"/status/418", 418),
        (b"/status/204", 204),
        (b"/status/999", 400),
        (b"/delay/0", 200),
        (b"/delay/99", 400),
        (b"/drip?numbytes=3&duration=0", 200),
        (b"/drip?numbytes=9999999999", 400),
        (b"/bytes/16", 200),
        (b"/bytes/-1", 400),
        (b"/redirect/2", 302),
        (b"/gzip", 200),
        (b"/headers", 200),
        (b"/response-headers?A=b", 200),
        (b"/response-headers?A=%0d%0aX:1", 400),
        (b"/response-headers?A=%ff", 400),
        (b"/status/%ff%fe", 400),
        (b"http://other.example/status/201", 201),  # absolute-form
    ],
)
async def test_paths_answer_over_the_wire(path: bytes, status: int) -> None:
    """Each path answers its status on a real socket, framed by Content-Length."""
    async with serving_flags() as base_url:
        response = await exchange(base_url, get(path))
    assert statuses_of(response) == [status]
    assert b"\r\n\r\n" in response


async def test_bad_parameters_leave_the_connection_usable() -> None:
    """A 400 for a bad parameter is an ordinary response: keep-alive goes on."""
    requests = (
        b"GET /bytes/x HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /response-headers?X=%00 HTTP/1.1\r\nHost: x\r\n\r\n"
        + get(b"/flags/br/metadata.json")
    )
    async with serving_flags() as base_url:
        response = await exchange(base_url, requests)
    assert statuses_of(response) == [400, 400, 200]


async def test_informational_status_precedes_a_200() -> None:
    """/status/103 sends the 103 interim response, then a final 200."""
    async with serving_flags() as base_url:
        response = await exchange(base_url, get(b"/status/103"))
    assert response.startswith(b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\n")


async def test_status_and_delay_take_any_method_others_get_405() -> None:
    """POST /status/201 and /delay answer (as go-httpbin's); POST /bytes is 405."""
    post = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    async with serving_flags() as base_url:
        assert status_of(await exchange(base_url, post % b"/status/201")) == 201
        delayed = await exchange(base_url, post % b"/delay/0")
        assert json.loads(split(delayed)[1])["method"] == "POST"
        assert status_of(await exchange(base_url, post % b"/bytes/4")) == 405


async def test_pipelined_delays_keep_their_order() -> None:
    """A delayed request pipelined before a quick one is still answered first."""
    requests = (
        b"GET /delay/0.3 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /drip?numbytes=4&duration=0.1 HTTP/1.1\r\nHost: x\r\n\r\n"
        + get(b"/bytes/3?seed=1")
    )
    async with serving_flags() as base_url:
        response = await exchange(base_url, requests)
    assert statuses_of(response) == [200, 201, 200, 200]
    assert b"****" in response


async def test_a_drip_waits_for_a_slow_reader() -> None:
    """A client that stops reading while 1 MiB drips still gets every byte: the
    drip waits on flow control (a small send buffer, inherited by accepted
    sockets, makes the transport pause while the client is not reading)."""
    n = 1024 * 1024
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    async with FlagsServer(sock=listener) as server:
        reader, writer = await asyncio.open_connection(*split_url(server.base_url))
        writer.write(get(b"/drip?numbytes=%d&duration=0.2" % n))
        await wait_until(lambda: server.stats.in_flight == 1)
        await asyncio.sleep(0.4)  # not reading while the drip would be done
        assert server.stats.in_flight == 1  # held back, not finished into a buffer
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    head, body = split(data)
    assert b"Content-Length: %d" % n in head
    assert body == b"*" * n


async def test_head_gets_the_head_only() -> None:
    """HEAD on /bytes and /drip: the Content-Length of the GET, no body."""
    head = b"HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    async with serving_flags() as base_url:
        for path, length in ((b"/bytes/100", b"100"), (b"/drip?numbytes=7", b"7")):
            response = await exchange(base_url, head % path)
            top, body = split(response)
            assert b"Content-Length: " + length in top
            assert body == b""


async def test_delays_are_timers_and_do_not_hold_other_requests() -> None:
    """Fifty /delay/0.5 wait together, and a request sent meanwhile is answered first."""
    async with FlagsServer() as server, HttpClient() as client:
        base = server.base_url

        async def delayed() -> float:
            async with client.get(f"{base}/delay/0.5") as resp:
                assert resp.status == 200
                await resp.read()
            return asyncio.get_running_loop().time()

        tasks = [asyncio.create_task(delayed()) for _ in range(50)]
        await wait_until(lambda: server.stats.in_flight == 50)
        async with client.get(f"{base}/status/200") as resp:
            assert resp.status == 200
        assert not any(t.done() for t in tasks)  # still waiting on their timers
        await asyncio.gather(*tasks)
        assert server.stats.max_in_flight >= 50


async def test_a_client_leaving_a_delay_or_a_drip_frees_it() -> None:
    """The timer of a delay and the task of a drip end when the client resets.

    (A client that only half-closes still gets its answer, as for any request.)
    """
    async with FlagsServer() as server:
        host, port = split_url(server.base_url)
        for path in (b"/delay/9", b"/drip?numbytes=10&duration=9"):
            _, writer = await asyncio.open_connection(host, port)
            writer.write(get(path))
            await wait_until(lambda: server.stats.in_flight == 1)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            await wait_until(lambda: server.stats.in_flight == 0, wait=3)


async def test_drip_spreads_the_body_over_the_duration() -> None:
    """/drip sends numbytes of "*" in several pieces, the last after the duration."""
    async with serving_flags() as base_url:
        reader, writer = await asyncio.open_connection(*split_url(base_url))
        loop = asyncio.get_running_loop()
        start = loop.time()
        writer.write(get(b"/drip?numbytes=20&duration=0.6&delay=0.2&code=503"))
        pieces: list[tuple[float, bytes]] = []
        while data := await asyncio.wait_for(reader.read(65536), 10):
            pieces.append((loop.time() - start, data))
        writer.close()
    response = b"".join(data for _, data in pieces)
    head, body = split(response)
    assert status_of(head) == 503
    assert b"Content-Length: 20" in head
    assert body == b"*" * 20
    assert len(pieces) >= 3  # dripped, not sent at once
    assert pieces[0][0] >= 0.2  # the delay comes before the head
    assert pieces[-1][0] >= 0.2 + 0.6 * 0.9


async def test_body_faults_cut_a_drip_short() -> None:
    """With --truncate-rate 1 a drip closes after half its bytes (short of Content-Length)."""
    async with serving_flags(truncate_rate=1.0) as base_url:
        response = await exchange(base_url, get(b"/drip?numbytes=10&duration=0.1"))
        bytes_response = await exchange(base_url, get(b"/bytes/1000"))
    head, body = split(response)
    assert b"Content-Length: 10" in head
    assert body == b"*" * 5
    assert len(split(bytes_response)[1]) == 500


async def test_the_awaitkit_client_reads_every_path() -> None:
    """Our own client: /bytes repeatable, /redirect followed, /gzip decoded,
    /headers and /response-headers echoed."""
    async with (
        serving_flags() as base,
        HttpClient(accept_encoding=ACCEPT_ENCODING) as client,
    ):
        bodies = []
        for _ in range(2):
            async with client.get(f"{base}/bytes/5000?seed=42") as resp:
                bodies.append(await resp.read())
        assert len(bodies[0]) == 5000
        assert bodies[0] == bodies[1]
        async with client.get(f"{base}/redirect/3") as resp:
            assert resp.status == 200
            assert resp.url.endswith("/redirect/0")
            assert json.loads(await resp.read())["url"].endswith("/redirect/0")
        async with client.get(f"{base}/gzip") as resp:
            assert resp.content_encoding == ("gzip",)
            assert json.loads(await resp.read())["gzipped"] is True
        async with client.get(f"{base}/headers", headers={"X-Client-Id": "c7"}) as resp:
            assert json.loads(await resp.read())["headers"]["X-Client-Id"] == ["c7"]
        url = f"{base}/response-headers?X-A=1&X-A=2&Retry-After=3"
        async with client.get(url) as resp:
            assert resp.headers.get_all("X-A") == ["1", "2"]
            assert resp.headers["Retry-After"] == "3"
            assert json.loads(await resp.read())["X-A"] == ["1", "2"]
        with pytest.raises(TooManyRedirects):  # the client's own limit holds
            async with client.get(f"{base}/redirect/3", max_redirects=2):
                pass


async def test_fetch_follows_redirects_and_decodes_gzip(tmp_path: Path) -> None:
    """``awaitkit fetch`` follows /redirect/3 to its 200 and saves /gzip decoded."""
    report = tmp_path / "report.jsonl"
    async with serving_flags() as base:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "awaitkit",
            "fetch",
            "-q",
            "--dest",
            str(tmp_path / "out"),
            "--report",
            str(report),
            f"{base}/redirect/3",
            f"{base}/gzip",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    check_fetched(report, base)


def check_fetched(report: Path, base: str) -> None:
    """The report and the files of the fetch above (blocking reads: not on a loop)."""
    records = {r["url"]: r for r in map(json.loads, report.read_text().splitlines())}
    redirected = records[f"{base}/redirect/3"]
    assert redirected["status"] == "ok"
    assert redirected["final_url"] == f"{base}/redirect/0"
    saved = json.loads(Path(str(redirected["path"])).read_bytes())
    assert saved["url"] == f"{base}/redirect/0"
    zipped = Path(str(records[f"{base}/gzip"]["path"])).read_bytes()
    assert json.loads(zipped)["gzipped"] is True
    with pytest.raises(gzip.BadGzipFile):
        gzip.decompress(zipped)  # saved decoded
