"""--directory: any directory, confined to its root (symlinks included)."""

from __future__ import annotations

import asyncio
import os
import random
import socket
from pathlib import Path

import aiohttp
import pytest

from awaitkit.core.testing import exchange, split_url, status_of
from awaitkit.flags import FlagsServer, serving_flags
from tests.flags.rawhttp import get

pytestmark = pytest.mark.anyio


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/ with files, a subdirectory with index.html, and symlinks in and out."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "hello.txt").write_text("hello\n")
    (root / "data.bin").write_bytes(bytes(range(256)) * 40)
    (root / "sub" / "index.html").write_text("<p>index</p>\n")
    (root / "caf\u00e9.json").write_text("{}\n")
    (tmp_path / "secret.txt").write_text("root:x:0:0\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "passwd").write_text("root:x:0:0\n")
    os.symlink(tmp_path / "secret.txt", root / "escape.txt")
    os.symlink(tmp_path / "outside", root / "escape_dir")
    os.symlink(root / "hello.txt", root / "inside.txt")
    return root


async def test_serves_files_with_types(tree: Path) -> None:
    """Files come back whole, with types guessed from their names."""
    async with (
        serving_flags(directory=tree) as base_url,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(base_url + "/hello.txt") as resp:
            assert resp.status == 200
            assert await resp.read() == b"hello\n"
            assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        async with session.get(base_url + "/data.bin") as resp:
            assert await resp.read() == (tree / "data.bin").read_bytes()
            assert resp.headers["Content-Type"] == "application/octet-stream"
        async with session.get(base_url + "/sub/") as resp:
            assert await resp.read() == b"<p>index</p>\n"
        async with session.get(base_url + "/caf%C3%A9.json") as resp:
            assert resp.status == 200
        async with session.get(base_url + "/inside.txt") as resp:
            assert resp.status == 200  # a symlink that stays inside is fine
        async with session.get(base_url + "/missing") as resp:
            assert resp.status == 404
        async with session.get(base_url + "/") as resp:
            assert resp.status == 404  # no index.html, and no listings


async def test_changed_file_is_served_fresh(tree: Path) -> None:
    """The cache notices a rewritten file (mtime and size change the ETag)."""
    async with (
        serving_flags(directory=tree) as base_url,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(base_url + "/hello.txt") as resp:
            etag = resp.headers["ETag"]
            await resp.read()
        (tree / "hello.txt").write_text("changed, longer\n")
        async with session.get(base_url + "/hello.txt") as resp:
            assert await resp.read() == b"changed, longer\n"
            assert resp.headers["ETag"] != etag


async def test_range_and_304_on_disk_files(tree: Path) -> None:
    """Range and conditional requests work for files on disk too."""
    data = (tree / "data.bin").read_bytes()
    async with (
        serving_flags(directory=tree) as base_url,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(
            base_url + "/data.bin", headers={"Range": "bytes=10-19"}
        ) as resp:
            assert resp.status == 206
            assert await resp.read() == data[10:20]
            etag = resp.headers["ETag"]
        async with session.get(
            base_url + "/data.bin", headers={"If-None-Match": etag}
        ) as resp:
            assert resp.status == 304


@pytest.mark.parametrize(
    "path",
    [
        b"/escape.txt",
        b"/escape_dir/passwd",
        b"/../secret.txt",
        b"/%2e%2e/secret.txt",
        b"/sub/..%2f..%2fsecret.txt",
        b"/sub/%2e%2e/%2e%2e/secret.txt",
        b"//secret.txt",
    ],
)
async def test_nothing_outside_the_root(tree: Path, path: bytes) -> None:
    """Symlinks out of the root and every traversal trick get 404."""
    async with serving_flags(directory=tree) as base_url:
        response = await exchange(base_url, get(path))
    assert status_of(response) == 404
    assert b"root:x" not in response


async def test_faults_apply_to_directories(tree: Path) -> None:
    """Fault options work the same when serving a directory."""
    async with (
        FlagsServer(directory=tree, error_rate=1.0) as server,
        aiohttp.ClientSession() as session,
        session.get(server.base_url + "/hello.txt") as resp,
    ):
        assert resp.status == 418


BIG = random.Random(0).randbytes(3 * 1024 * 1024 + 12_345)  # streamed, not held


@pytest.fixture
def big_tree(tmp_path: Path) -> Path:
    """A directory holding one file bigger than what the server keeps in memory."""
    (tmp_path / "big.bin").write_bytes(BIG)
    return tmp_path


async def test_big_files_are_streamed_whole(big_tree: Path) -> None:
    """GET, Range across chunk boundaries and HEAD on a file streamed from disk."""
    async with (
        serving_flags(directory=big_tree) as base_url,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(base_url + "/big.bin") as resp:
            assert resp.headers["Content-Length"] == str(len(BIG))
            assert await resp.read() == BIG
        span = {"Range": "bytes=200000-2000000"}
        async with session.get(base_url + "/big.bin", headers=span) as resp:
            assert resp.status == 206
            assert await resp.read() == BIG[200_000:2_000_001]
        async with session.head(base_url + "/big.bin") as resp:
            assert resp.headers["Content-Length"] == str(len(BIG))
            assert await resp.read() == b""


async def test_slow_reader_gets_every_byte(big_tree: Path) -> None:
    """A client that stops reading for a while (server paused on the socket) loses nothing."""
    async with FlagsServer(directory=big_tree) as server:
        # A tiny receive window, so the server's socket fills and it must pause.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, split_url(server.base_url))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(get(b"/big.bin"))
        await asyncio.sleep(0.3)  # not reading meanwhile: a slow client
        data = await asyncio.wait_for(reader.read(-1), 30)
        writer.close()
        await writer.wait_closed()
    assert data.partition(b"\r\n\r\n")[2] == BIG


async def test_truncated_big_file(big_tree: Path) -> None:
    """The truncate fault cuts a streamed file short of its Content-Length too."""
    async with FlagsServer(directory=big_tree, truncate_rate=1.0) as server:
        response = await exchange(server.base_url, get(b"/big.bin"), wait=30)
        assert server.stats.by_fault == {"truncate": 1}
    body = response.partition(b"\r\n\r\n")[2]
    assert 0 < len(body) < len(BIG)
    assert BIG.startswith(body)


async def test_missing_directory_is_refused(tmp_path: Path) -> None:
    """A directory that does not exist fails at start, not at the first request."""
    with pytest.raises(NotADirectoryError):
        async with serving_flags(directory=tmp_path / "nope"):
            pass
