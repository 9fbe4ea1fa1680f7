"""``fetch --compressed``: bodies saved decoded, limits on the decoded size, resume kept honest.

A raw loopback server sends gzip, deflate (zlib and raw), br and zstd
bodies, with Content-Length or chunked, and the broken cases (corrupt,
truncated, unknown coding, a decompression bomb); it honours Range only for
identity, or misbehaves on purpose.  The CLI runs against it in a thread,
the Fetcher on the test's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
import random
import threading
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import brotli
import pytest

from awaitkit.cli import main
from awaitkit.core import bind_tcp
from awaitkit.download import DownloadOptions, DownloadStatus
from awaitkit.download._engine import iter_downloads
from awaitkit.http._decode import load_zstd

zstd = load_zstd()

SMALL = b"".join(b"small line %d\n" % i for i in range(2000))  # 27 KB
# Over the in-memory limit even compressed: streamed.
LARGE = random.Random(7).randbytes(300_000) + b"tail " * 100_000
BODIES = {"small": SMALL, "large": LARGE}


def _raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-15)
    return obj.compress(data) + obj.flush()


def _zeros_gzip(size: int) -> bytes:
    obj = zlib.compressobj(1, wbits=31)
    block = bytes(1 << 20)
    parts = [obj.compress(block) for _ in range(size >> 20)]
    return b"".join([*parts, obj.flush()])


ENCODERS = {
    "gzip": ("gzip", gzip.compress),
    "deflate": ("deflate", zlib.compress),
    "raw-deflate": ("deflate", _raw_deflate),
    "br": ("br", lambda data: brotli.compress(data, quality=4)),
    "zstd": ("zstd", zstd.compress),
}
# Made once, at import: compressing on a test's loop would hold it.
ENCODED = {
    (kind, size): (coding, encode(body))
    for kind, (coding, encode) in ENCODERS.items()
    for size, body in BODIES.items()
}
BOMB = _zeros_gzip(10 << 20)  # 10 MiB of zeros in ~10 KB
# A bomb behind 300 KB of noise: over the in-memory limit, so streamed.
BIG_BOMB = gzip.compress(LARGE[:300_000], 1) + _zeros_gzip(200 << 20)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class EncodingServer:
    """Answers ``/KIND/FRAMING/SIZE/NAME`` with an encoded body; records request heads.

    KIND is a key of :data:`ENCODERS`, or ``identity``, ``corrupt``,
    ``truncated``, ``unknown``, ``bomb``, ``bigbomb``, ``cut`` (gzip cut
    half-way, then the connection closes), ``cutplain`` (the same for an
    identity body), ``range`` (honours Range, identity only), ``range206gz``
    (answers a Range with a gzip 206) or ``ignores`` (answers all with a gzip 200).
    FRAMING is ``length`` or ``chunked``; SIZE ``small`` or ``large``.
    """

    def __init__(self) -> None:
        self.heads: list[dict[str, str]] = []
        self.url = ""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> EncodingServer:
        sock = bind_tcp("127.0.0.1", 0)
        self._server = await asyncio.start_server(self._handle, sock=sock)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                fields = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                fields["path"] = lines[0].split(" ")[1]
                self.heads.append(fields)
                if not await self._respond(fields, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _respond(
        self, fields: dict[str, str], writer: asyncio.StreamWriter
    ) -> bool:
        kind, framing, size, _ = fields["path"].lstrip("/").split("/", 3)
        body = BODIES[size]
        rng = fields.get("range")
        identity = fields.get("accept-encoding", "identity") == "identity"
        status, extra, coding = "200 OK", "", "gzip"
        cut = False
        if kind in ENCODERS:
            coding, blob = ENCODED[kind, size]
        elif kind == "identity":
            coding, blob = "", body
        elif kind == "corrupt":
            blob = b"\x1f\x8b\x08\x00" + b"definitely not deflate data" * 50
        elif kind == "truncated":
            blob = ENCODED["gzip", size][1][:-30]
        elif kind == "unknown":
            coding, blob = "compress", body
        elif kind == "bomb":
            blob = BOMB
        elif kind == "bigbomb":
            blob = BIG_BOMB
        elif kind in ("cut", "cutplain"):
            coding, blob = (
                ("gzip", ENCODED["gzip", size][1]) if kind == "cut" else ("", body)
            )
            cut = True
        elif kind == "range":
            coding, blob = "", body
            if rng and identity:
                start = int(rng.removeprefix("bytes=").rstrip("-"))
                status, blob = "206 Partial Content", body[start:]
                extra = f"Content-Range: bytes {start}-{len(body) - 1}/{len(body)}\r\n"
            elif not identity:
                coding, blob = ENCODED["gzip", size]
        elif kind == "range206gz":
            blob = ENCODED["gzip", size][1]
            if rng:
                start = int(rng.removeprefix("bytes=").rstrip("-"))
                status, blob = "206 Partial Content", blob[start:]
                extra = f"Content-Range: bytes {start}-{len(blob) + start - 1}/*\r\n"
        else:
            assert kind == "ignores"
            blob = ENCODED["gzip", size][1]
        if coding:
            extra += f"Content-Encoding: {coding}\r\n"
        if framing == "length":
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Length: {len(blob)}\r\n{extra}\r\n".encode()
            )
            writer.write(blob[: len(blob) // 2] if cut else blob)
        else:
            writer.write(
                f"HTTP/1.1 {status}\r\nTransfer-Encoding: chunked\r\n{extra}\r\n".encode()
            )
            end = len(blob) // 2 if cut else len(blob)
            for i in range(0, end, 16384):
                piece = blob[i : min(i + 16384, end)]
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            if not cut:
                writer.write(b"0\r\n\r\n")
        await writer.drain()
        return not cut


@contextlib.contextmanager
def server_in_thread() -> Iterator[EncodingServer]:
    """An :class:`EncodingServer` on its own loop in a thread, for the CLI's own loop."""
    ready = threading.Event()
    box: dict[str, object] = {}

    async def serve() -> None:
        async with EncodingServer() as server:
            stop = asyncio.Event()
            box.update(server=server, loop=asyncio.get_running_loop(), stop=stop)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        server = box["server"]
        assert isinstance(server, EncodingServer)
        yield server
    finally:
        loop = box["loop"]
        stop = box["stop"]
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert isinstance(stop, asyncio.Event)
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)


@pytest.fixture(scope="module")
def server() -> Iterator[EncodingServer]:
    with server_in_thread() as server:
        yield server


def fetch(tmp_path: Path, *args: str) -> tuple[int, list[dict[str, object]]]:
    """Run ``awaitkit fetch`` into ``tmp_path/out``; its exit status and report lines."""
    report = tmp_path / "report.jsonl"
    status = main(
        ["fetch", "-q", "--retries", "0", "--dest", str(tmp_path / "out"),
         "--report", str(report), *args]
    )  # fmt: skip
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    return status, lines


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "out").iterdir())


# -- decoded bodies -------------------------------------------------------------


@pytest.mark.parametrize("size", ["small", "large"])
@pytest.mark.parametrize("framing", ["length", "chunked"])
@pytest.mark.parametrize("kind", sorted(ENCODERS))
def test_bodies_are_saved_decoded(
    tmp_path: Path, server: EncodingServer, kind: str, framing: str, size: str
) -> None:
    """Each coding, by length or chunked, small or streamed: the file is the decoded body."""
    url = f"{server.url}/{kind}/{framing}/{size}/f.txt"
    status, [line] = fetch(tmp_path, url)
    body = BODIES[size]
    assert status == 0, line
    assert (tmp_path / "out" / "f.txt").read_bytes() == body
    assert line["bytes"] == len(body)
    assert line["sha256"] == sha(body)
    assert leftovers(tmp_path) == ["f.txt"]
    [head] = [h for h in server.heads if h["path"] == url.removeprefix(server.url)]
    assert head["accept-encoding"] == "gzip, deflate, br, zstd"


def test_no_compressed_asks_for_identity_and_keeps_bytes_as_sent(
    tmp_path: Path, server: EncodingServer
) -> None:
    """--no-compressed sends identity; a body sent encoded anyway is saved as sent."""
    url = f"{server.url}/ignores/length/small/raw.gz"
    status, [line] = fetch(tmp_path, "--no-compressed", url)
    assert status == 0
    assert (tmp_path / "out" / "raw.gz").read_bytes() == ENCODED["gzip", "small"][1]
    assert server.heads[-1]["accept-encoding"] == "identity"
    assert line["bytes"] == len(ENCODED["gzip", "small"][1])


def test_checksum_is_of_the_decoded_body(
    tmp_path: Path, server: EncodingServer
) -> None:
    """--checksum checks what is saved: the decoded body."""
    url = f"{server.url}/br/chunked/large/c.bin"
    status, _ = fetch(tmp_path, "--checksum", f"sha256={sha(LARGE)}", url)
    assert status == 0
    status, [line] = fetch(tmp_path, "--checksum", f"sha256={sha(b'x')}", url)
    assert status == 1
    assert "sha256 mismatch" in str(line["error"])


@pytest.mark.parametrize("value", ["--compressed=yes", "--no-compressed=1"])
def test_compressed_takes_no_value(
    tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--compressed is a switch: a value is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as info:
        main(["fetch", "-q", "--dest", str(tmp_path), value, "http://127.0.0.1:9/x"])
    assert info.value.code == 2
    assert "ignored explicit argument" in capsys.readouterr().err


# -- broken bodies: an ERROR, nothing under the final name, not retried -----------


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("corrupt", "corrupt gzip body"),
        ("truncated", "truncated gzip body"),
        ("unknown", "unsupported Content-Encoding 'compress'"),
    ],
)
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_broken_bodies_are_final_errors(
    tmp_path: Path, server: EncodingServer, kind: str, error: str, framing: str
) -> None:
    """Corrupt, truncated or unknown: ERROR after one attempt, no file, no .part."""
    url = f"{server.url}/{kind}/{framing}/large/bad.txt"
    status, [line] = fetch(tmp_path, "--retries", "3", url)
    assert status == 1
    assert line["status"] == "error"
    assert error in str(line["error"])
    assert line["attempts"] == 1
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", ["bomb", "bigbomb"])
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_bomb_over_max_size(
    tmp_path: Path, server: EncodingServer, kind: str, framing: str
) -> None:
    """Gzipped zeros under --max-size 1M: ERROR, nothing left, the limit names the decoded size."""
    url = f"{server.url}/{kind}/{framing}/small/zeros.bin"
    status, [line] = fetch(tmp_path, "--max-size", "1M", url)
    assert status == 1
    assert "over the 1048576-byte limit" in str(line["error"])
    assert line["attempts"] == 1
    assert leftovers(tmp_path) == []


def test_bomb_within_max_size_is_saved(tmp_path: Path, server: EncodingServer) -> None:
    """The same bomb under a limit it fits is simply a file of zeros."""
    status, [line] = fetch(
        tmp_path, "--max-size", "11M", f"{server.url}/bomb/chunked/small/z.bin"
    )
    assert status == 0
    assert line["bytes"] == 10 << 20
    assert (tmp_path / "out" / "z.bin").read_bytes() == bytes(10 << 20)


@pytest.mark.anyio
@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_bomb_memory_stays_bounded(tmp_path: Path, framing: str) -> None:
    """200 MiB of zeros behind a 1 MiB limit: decoding stops there, memory stays small."""
    async with EncodingServer() as server:
        url = f"{server.url}/bigbomb/{framing}/small/z.bin"
        options = DownloadOptions(retries=0, max_size=1 << 20)
        tracemalloc.start()
        try:
            results = [
                r async for r in iter_downloads([url], tmp_path, options=options)
            ]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    [result] = results
    assert result.status is DownloadStatus.ERROR
    assert "limit" in str(result.error)
    assert peak < 24 << 20, peak  # the body is 200 MiB decoded


# -- resume: a .part holds identity bytes only -------------------------------------


def part_of(tmp_path: Path, name: str) -> Path:
    return tmp_path / "out" / f".{name}.part"


def test_resume_asks_for_identity(tmp_path: Path, server: EncodingServer) -> None:
    """A .part is continued with Range and Accept-Encoding: identity; the file is whole."""
    (tmp_path / "out").mkdir()
    part_of(tmp_path, "r.txt").write_bytes(LARGE[:100_000])
    url = f"{server.url}/range/length/large/r.txt"
    status, [line] = fetch(tmp_path, url)
    assert status == 0, line
    assert (tmp_path / "out" / "r.txt").read_bytes() == LARGE
    head = server.heads[-1]
    assert head["range"] == "bytes=100000-"
    assert head["accept-encoding"] == "identity"
    assert line["http_status"] == 206


def test_an_encoded_206_starts_over(tmp_path: Path, server: EncodingServer) -> None:
    """A 206 that comes back gzip cannot continue identity bytes: the .part goes, from zero."""
    (tmp_path / "out").mkdir()
    part_of(tmp_path, "g.txt").write_bytes(LARGE[:1000])
    url = f"{server.url}/range206gz/length/large/g.txt"
    status, [line] = fetch(tmp_path, "--retries", "1", url)
    assert status == 0, line
    assert (tmp_path / "out" / "g.txt").read_bytes() == LARGE
    mine = [h for h in server.heads if h["path"] == url.removeprefix(server.url)]
    assert [h.get("range") for h in mine] == ["bytes=1000-", None]
    assert line["attempts"] == 2


def test_an_encoded_200_to_a_resume_is_written_from_zero(
    tmp_path: Path, server: EncodingServer
) -> None:
    """A server that ignores Range and identity: the decoded body replaces the .part."""
    (tmp_path / "out").mkdir()
    part_of(tmp_path, "i.txt").write_bytes(b"junk that must not stay in front")
    status, [line] = fetch(tmp_path, f"{server.url}/ignores/length/large/i.txt")
    assert status == 0, line
    assert (tmp_path / "out" / "i.txt").read_bytes() == LARGE
    assert line["bytes"] == len(LARGE)


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_an_encoded_body_cut_short_keeps_no_part(
    tmp_path: Path, server: EncodingServer, framing: str
) -> None:
    """gzip cut half-way: ERROR, and no .part of decoded bytes is left to resume."""
    url = f"{server.url}/cut/{framing}/large/c.txt"
    status, [line] = fetch(tmp_path, url)
    assert status == 1
    assert line["status"] == "error"
    assert leftovers(tmp_path) == []


def test_an_identity_body_cut_short_keeps_its_part(
    tmp_path: Path, server: EncodingServer
) -> None:
    """The contrast: identity bytes cut short stay in the .part for a Range resume."""
    status, _ = fetch(tmp_path, f"{server.url}/cutplain/length/large/p.txt")
    assert status == 1
    assert part_of(tmp_path, "p.txt").read_bytes() == LARGE[: len(LARGE) // 2]


# -- through the library --------------------------------------------------------------


@pytest.fixture
async def encoding_server() -> AsyncIterator[EncodingServer]:
    async with EncodingServer() as server:
        yield server


@pytest.mark.anyio
async def test_library_default_is_compressed(
    tmp_path: Path, encoding_server: EncodingServer
) -> None:
    """DownloadOptions() asks for compression and saves decoded; compressed=False does not."""
    url = f"{encoding_server.url}/zstd/chunked/small/l.txt"
    [ok] = [r async for r in iter_downloads([url], tmp_path / "a")]
    assert ok.status is DownloadStatus.OK
    assert (tmp_path / "a" / "l.txt").read_bytes() == SMALL
    options = DownloadOptions(compressed=False)
    [raw] = [r async for r in iter_downloads([url], tmp_path / "b", options=options)]
    assert raw.status is DownloadStatus.OK
    assert encoding_server.heads[-1]["accept-encoding"] == "identity"
    # The server sent zstd regardless: kept as sent.
    assert (tmp_path / "b" / "l.txt").read_bytes() == ENCODED["zstd", "small"][1]
