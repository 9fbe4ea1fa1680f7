"""The whole download path on scripted bytes (``MockBackend``): retries, resume, every error.

No sockets: each scripted connection answers one request (or several, with
``MockBackend.NEXT``), and what the client wrote is checked, so these tests
see the ``Range`` a resume sends and the request a retry makes.  The
loopback tests against real servers sit beside these in ``test_resume.py``
and ``test_flags_server.py``.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from awaitkit.download import DownloadOptions, DownloadResult, DownloadStatus
from awaitkit.download._engine import iter_downloads
from awaitkit.http import HttpClient, MockBackend

pytestmark = pytest.mark.anyio

URL = "http://files.test/data/blob.bin"
BODY = bytes(range(256)) * 4  # 1 KiB, over the memory limit below: streamed
# No waiting between attempts, and small bodies streamed to a .part.
OPTIONS = DownloadOptions(
    concurrency=1, retries=2, backoff_base=0, backoff_max=0, memory_limit=64
)


def response(
    status: int, body: bytes = b"", *fields: bytes, length: int | None = None
) -> bytes:
    declared = len(body) if length is None else length
    head = b"".join(field + b"\r\n" for field in fields)
    return (
        b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n" % (status, declared, head)
        + body
    )


async def fetch_one(
    backend: MockBackend,
    dest: Path,
    options: DownloadOptions = OPTIONS,
    **client: float,
) -> DownloadResult:
    async with HttpClient(backend=backend, **client) as http:  # type: ignore[arg-type]
        results = [
            r async for r in iter_downloads([URL], dest, options=options, client=http)
        ]
    (result,) = results
    return result


def requests(backend: MockBackend) -> list[bytes]:
    return [conn.written for conn in backend.connections]


def leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir())


# -- retries --------------------------------------------------------------------


async def test_a_503_with_retry_after_is_retried_then_saved(tmp_path: Path) -> None:
    backend = MockBackend(
        [[response(503, b"", b"Retry-After: 0")], [response(200, BODY)]]
    )
    result = await fetch_one(backend, tmp_path)
    assert result.status is DownloadStatus.OK
    assert result.attempts == 2
    assert (tmp_path / "blob.bin").read_bytes() == BODY
    assert leftovers(tmp_path) == ["blob.bin"]


async def test_retries_run_out_and_the_report_says_how_many(tmp_path: Path) -> None:
    backend = MockBackend([[response(500)]] * 3)
    result = await fetch_one(backend, tmp_path)
    assert result.status is DownloadStatus.ERROR
    assert result.error == "HTTP 500 X (after 3 attempts)"
    assert result.attempts == 3
    assert len(backend.connections) == 3
    assert leftovers(tmp_path) == []


async def test_a_404_is_not_found_and_never_retried(tmp_path: Path) -> None:
    backend = MockBackend([[response(404)], [response(200, BODY)]])
    result = await fetch_one(backend, tmp_path)
    assert result.status is DownloadStatus.NOT_FOUND
    assert result.error == "HTTP 404"
    assert len(backend.connections) == 1


async def test_a_403_is_final_at_once(tmp_path: Path) -> None:
    backend = MockBackend([[response(403)], [response(200, BODY)]])
    result = await fetch_one(backend, tmp_path)
    assert (result.status, result.error, result.attempts) == (
        DownloadStatus.ERROR,
        "HTTP 403 X",
        1,
    )


# -- resume ---------------------------------------------------------------------


async def test_a_cut_body_is_resumed_with_range_and_saved_whole(tmp_path: Path) -> None:
    cut = 400
    backend = MockBackend(
        [
            [response(200, BODY[:cut], length=len(BODY)), MockBackend.RESET],
            [
                response(
                    206,
                    BODY[cut:],
                    b"Content-Range: bytes %d-%d/%d" % (cut, len(BODY) - 1, len(BODY)),
                )
            ],
        ]
    )
    result = await fetch_one(backend, tmp_path)
    assert result.status is DownloadStatus.OK, result.error
    assert result.attempts == 2
    first, second = requests(backend)
    assert b"Range:" not in first
    assert b"\r\nRange: bytes=%d-\r\n" % cut in second
    assert (tmp_path / "blob.bin").read_bytes() == BODY
    assert leftovers(tmp_path) == ["blob.bin"]


async def test_a_server_ignoring_range_starts_the_file_over(tmp_path: Path) -> None:
    backend = MockBackend(
        [
            [response(200, BODY[:300], length=len(BODY)), MockBackend.EOF],
            [response(200, BODY)],  # a 200 to the Range: the whole file again
        ]
    )
    result = await fetch_one(backend, tmp_path)
    assert result.status is DownloadStatus.OK, result.error
    assert b"Range: bytes=300-" in requests(backend)[1]
    assert (tmp_path / "blob.bin").read_bytes() == BODY


async def test_a_leftover_part_that_does_not_fit_is_dropped_on_416(
    tmp_path: Path,
) -> None:
    (tmp_path / ".blob.bin.part").write_bytes(b"x" * 5000)  # longer than the file
    backend = MockBackend([[response(416)], [response(200, BODY)]])
    result = await fetch_one(backend, tmp_path)
    assert result.status is DownloadStatus.OK, result.error
    first, second = requests(backend)
    assert b"Range: bytes=5000-" in first
    assert b"Range:" not in second
    assert (tmp_path / "blob.bin").read_bytes() == BODY
    assert leftovers(tmp_path) == ["blob.bin"]


async def test_a_206_starting_elsewhere_is_final_and_keeps_the_part(
    tmp_path: Path,
) -> None:
    (tmp_path / ".blob.bin.part").write_bytes(BODY[:100])
    backend = MockBackend(
        [[response(206, BODY[50:], b"Content-Range: bytes 50-1023/1024")]]
    )
    result = await fetch_one(backend, tmp_path)
    assert result.status is DownloadStatus.ERROR
    assert result.error == "206 with a Content-Range that does not match the request"
    assert not (tmp_path / "blob.bin").exists()
    assert (tmp_path / ".blob.bin.part").read_bytes() == BODY[:100]


async def test_without_resume_a_cut_body_leaves_no_part(tmp_path: Path) -> None:
    options = DownloadOptions(
        concurrency=1, retries=0, backoff_base=0, memory_limit=64, resume=False
    )
    backend = MockBackend(
        [[response(200, BODY[:300], length=len(BODY)), MockBackend.RESET]]
    )
    result = await fetch_one(backend, tmp_path, options)
    assert result.status is DownloadStatus.ERROR
    assert result.error is not None
    assert result.error.startswith("truncated body: ")
    assert leftovers(tmp_path) == []


# -- every client error, as the report names it ------------------------------------


@pytest.mark.parametrize(
    ("script", "why"),
    [
        ([MockBackend.EOF], "server disconnected"),
        (
            [b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\nabc", MockBackend.EOF],
            "truncated body: ",
        ),
        (
            [b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\nabc", MockBackend.RESET],
            "truncated body: ",
        ),
        ([b"NOT HTTP AT ALL\r\n\r\n"], "ProtocolError: "),
        (
            [
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"
            ],
            "ProtocolError: ",
        ),
        ([], "timed out"),  # silence: the read timeout
        (ConnectionRefusedError(111, "Connection refused"), "cannot connect: "),
        # The peer hung up mid-handshake: may not happen again.
        (
            ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
            "cannot connect: ",
        ),
        (MockBackend.HANG, "timed out"),  # the connect timeout
    ],
    ids=[
        "eof-before-head",
        "eof-in-body",
        "reset-in-body",
        "garbage",
        "upgrade",
        "silence",
        "refused",
        "tls-eof",
        "connect-hangs",
    ],
)
async def test_each_failure_is_retried_and_reported(
    tmp_path: Path, script, why
) -> None:
    options = DownloadOptions(concurrency=1, retries=1, backoff_base=0, backoff_max=0)
    backend = MockBackend([script, script])
    result = await fetch_one(
        backend, tmp_path, options, read_timeout=0.05, connect_timeout=0.05
    )
    assert result.status is DownloadStatus.ERROR
    assert result.error is not None
    assert result.error.startswith(why), result.error
    assert result.error.endswith("(after 2 attempts)")
    assert len(backend.connections) == 2  # retried once, on a new connection
    assert [p for p in leftovers(tmp_path) if not p.startswith(".")] == []


@pytest.mark.parametrize(
    ("script", "why"),
    [
        ([response(200, BODY)], "1024 bytes is over the 100-byte limit"),
        ([response(302, b"", b"Location: ftp://elsewhere/")], "bad redirect or URL: "),
        ([response(302)], "bad redirect or URL: "),  # no Location
        # A refused handshake: the same certificate on every attempt.
        (ssl.SSLError(1, "handshake failed"), "cannot connect to files.test: TLS: "),
        (
            ssl.SSLCertVerificationError(1, "certificate verify failed"),
            "cannot connect to files.test: certificate verify failed",
        ),
    ],
    ids=[
        "over-max-size",
        "redirect-to-ftp",
        "redirect-without-location",
        "tls-refused",
        "certificate",
    ],
)
async def test_final_failures_are_not_retried(tmp_path: Path, script, why) -> None:
    options = DownloadOptions(concurrency=1, retries=3, backoff_base=0, max_size=100)
    backend = MockBackend([script] * 4)
    result = await fetch_one(backend, tmp_path, options)
    assert result.status is DownloadStatus.ERROR
    assert result.error is not None
    assert result.error.startswith(why), result.error
    assert len(backend.connections) == 1


async def test_too_many_redirects_is_final(tmp_path: Path) -> None:
    options = DownloadOptions(concurrency=1, retries=3, backoff_base=0, max_redirects=2)
    hop = response(302, b"", b"Location: /again")
    backend = MockBackend([[hop, MockBackend.NEXT, hop, MockBackend.NEXT, hop]])
    result = await fetch_one(backend, tmp_path, options)
    assert (result.status, result.error) == (DownloadStatus.ERROR, "too many redirects")


async def test_a_cancelled_batch_keeps_the_part_for_resume(tmp_path: Path) -> None:
    # The body stops halfway and the server goes silent; the batch is cancelled.
    backend = MockBackend([[response(200, BODY[:500], length=len(BODY))]])
    async with HttpClient(backend=backend) as http:
        task = asyncio.ensure_future(
            _drain(iter_downloads([URL], tmp_path, options=OPTIONS, client=http))
        )
        part = tmp_path / ".blob.bin.part"
        for _ in range(200):
            await asyncio.sleep(0.005)
            if part.exists() and part.stat().st_size:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert part.read_bytes() == BODY[:500]
    assert not (tmp_path / "blob.bin").exists()


async def _drain(results: object) -> None:
    async for _ in results:  # type: ignore[attr-defined]
        pass


# -- what a result names --------------------------------------------------------


@pytest.mark.parametrize("where", [".", "out", "out/", "./a/../out", "ABS", "ABS/x/"])
async def test_a_result_names_its_file_as_dest_slash_name_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """``fspath`` is ``str(Path(dest) / name)`` (the report's ``path``), built without a Path."""
    monkeypatch.chdir(tmp_path)
    dest = where.replace("ABS", str(tmp_path))
    folder(dest)
    result = await fetch_one(MockBackend([[response(200, BODY)]]), Path(dest))
    assert result.status is DownloadStatus.OK
    assert result.fspath == str(Path(dest) / "blob.bin")
    assert result.path == Path(dest) / "blob.bin"
    assert result.to_json()["path"] == result.fspath
    assert body_of(result.fspath) == BODY


def folder(path: str) -> None:
    Path(path).mkdir(parents=True, exist_ok=True)


def body_of(path: str) -> bytes:
    return Path(path).read_bytes()


def test_a_result_takes_a_path_or_a_string_and_gives_a_path() -> None:
    as_path = DownloadResult("u", DownloadStatus.OK, Path("/d/a.gif"))
    as_text = DownloadResult("u", DownloadStatus.OK, "/d/a.gif")
    assert as_path == as_text
    assert as_path.fspath == "/d/a.gif"
    assert isinstance(as_text.path, Path)
    assert as_text.path == Path("/d/a.gif")
    assert DownloadResult("u", DownloadStatus.ERROR).path is None
    with pytest.raises(AttributeError):
        as_path.url = "v"  # type: ignore[misc]
