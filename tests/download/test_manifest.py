"""Report lines as a manifest: final URL, validators, SHA-256; ``--report -``; checksums.

Against the flags server (which sends ETag and Last-Modified) in a thread
for the CLI, and an aiohttp app on the test's loop for redirects.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from awaitkit.cli import main
from awaitkit.download import DownloadOptions, DownloadResult, DownloadStatus, Job
from awaitkit.download._engine import iter_downloads
from awaitkit.flags import build_dataset
from tests.download._servers import (
    BODY,
    RangeServer,
    flags_servers_in_thread,
    serving_app,
)

FETCH = [sys.executable, "-m", "awaitkit", "fetch"]


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with flags_servers_in_thread(1) as servers:
        yield servers[0].base_url


def gif(cc: str) -> bytes:
    return build_dataset()[f"flags/{cc}/{cc}.gif"].body


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def report_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_report_line_says_what_the_file_was_made_from(
    tmp_path: Path, base: str
) -> None:
    report = tmp_path / "r.jsonl"
    url = f"{base}/flags/br/br.gif"
    assert (
        main(["fetch", "-q", "--dest", str(tmp_path), "--report", str(report), url])
        == 0
    )
    [line] = report_of(report)
    resource = build_dataset()["flags/br/br.gif"]
    assert line["final_url"] == url
    assert line["etag"] == resource.etag
    assert line["last_modified"]
    assert line["sha256"] == sha(gif("br"))
    assert line["http_status"] == 200
    assert line["path"] == str(tmp_path / "br.gif")


def test_report_to_stdout_leaves_the_summary_on_stderr(
    tmp_path: Path, base: str
) -> None:
    urls = [f"{base}/flags/{cc}/{cc}.gif" for cc in ("br", "fr", "zz")]
    done = subprocess.run(
        [*FETCH, "-v", "--report", "-", "--dest", str(tmp_path), *urls],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1  # zz is not found
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(str(line["url"]) for line in lines) == sorted(urls)
    assert "2 files downloaded." in done.stderr
    assert "OK" in done.stderr  # the -v lines too


def test_checksum_accepts_the_right_body(tmp_path: Path, base: str) -> None:
    url = f"{base}/flags/fr/fr.gif"
    args = ["fetch", "-q", "--dest", str(tmp_path), "--checksum"]
    assert main([*args, f"sha256={sha(gif('fr')).upper()}", url]) == 0
    assert (tmp_path / "fr.gif").read_bytes() == gif("fr")


def test_a_checksum_mismatch_is_an_error_and_keeps_no_file(
    tmp_path: Path, base: str
) -> None:
    report = tmp_path / "r.jsonl"
    dest = tmp_path / "out"
    url = f"{base}/flags/fr/fr.gif"
    wrong = "0" * 64
    args = ["fetch", "-q", "--dest", str(dest), "--report", str(report)]
    assert main([*args, "--checksum", f"sha-256={wrong}", url]) == 1
    [line] = report_of(report)
    assert line["status"] == "error"
    assert line["error"] == f"sha256 mismatch: expected {wrong}, got {sha(gif('fr'))}"
    assert line["attempts"] == 1  # final: another attempt brings the same body
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--checksum", "md5=abc", "http://h/x"], "use sha256=HEX"),
        (["--checksum", "sha256=xyz", "http://h/x"], "64 hex digits"),
        (["--checksum", "sha256=" + "a" * 63, "http://h/x"], "64 hex digits"),
        (["--checksum", "sha256=" + "a" * 64, "http://h/x", "http://h/y"], "one URL"),
    ],
)
def test_bad_checksums_are_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["fetch", "-q", "--dest", str(tmp_path / "d"), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_job_refuses_a_sha256_that_is_not_one() -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        Job("http://h/x", sha256="g" * 64)
    assert Job("http://h/x", sha256="AB" * 32).sha256 == "ab" * 32


# -- the library, with redirects and streamed bodies -----------------------------


def redirecting_app() -> web.Application:
    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/final/big.bin")

    async def final(request: web.Request) -> web.Response:
        return web.Response(
            body=BODY, headers={"ETag": '"v1"', "Last-Modified": "Wed, 02 Dec 2026"}
        )

    app = web.Application()
    app.router.add_get("/start/big.bin", hop)
    app.router.add_get("/final/big.bin", final)
    return app


@pytest.mark.anyio
async def test_the_final_url_is_the_one_after_redirects(tmp_path: Path) -> None:
    async with serving_app(redirecting_app()) as url:
        options = DownloadOptions(hash_files=True)
        [result] = [
            r
            async for r in iter_downloads(
                [f"{url}/start/big.bin"], tmp_path, options=options
            )
        ]
    assert result.status is DownloadStatus.OK
    assert result.final_url == f"{url}/final/big.bin"
    assert (result.etag, result.last_modified) == ('"v1"', "Wed, 02 Dec 2026")
    assert result.sha256 == sha(BODY)  # streamed: over the in-memory limit


@pytest.mark.anyio
async def test_a_resumed_file_is_hashed_whole(tmp_path: Path) -> None:
    """The bytes kept from an earlier run count in the SHA-256, and in the check."""
    write_part(tmp_path / ".file.part", BODY[:5000])
    async with RangeServer() as server:
        job = Job(f"{server.base_url}/file", sha256=sha(BODY))
        options = DownloadOptions(hash_files=True)
        [result] = [r async for r in iter_downloads([job], tmp_path, options=options)]
    assert server.ranges == ["bytes=5000-"]
    assert result.status is DownloadStatus.OK, result.error
    assert result.sha256 == sha(BODY)


def write_part(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def test_the_record_round_trips_with_its_manifest_fields() -> None:
    result = DownloadResult(
        "http://h/a",
        DownloadStatus.OK,
        "out/a",
        3,
        1,
        None,
        0.5,
        200,
        final_url="http://h/b",
        etag='"x"',
        last_modified="Wed, 02 Dec 2026 10:00:00 GMT",
        sha256="ab" * 32,
    )
    assert DownloadResult.from_json(result.to_json()) == result


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sha256", "AB" * 32, "'sha256' must be 64 hex digits"),
        ("sha256", "ab", "'sha256' must be 64 hex digits"),
        ("sha256", 5, "'sha256' must be 64 hex digits"),
        ("final_url", 5, "'final_url' must be a string or null"),
        ("etag", ["x"], "'etag' must be a string or null"),
        ("last_modified", 1.5, "'last_modified' must be a string or null"),
    ],
)
def test_a_record_with_a_bad_manifest_field_is_refused(
    field: str, value: object, message: str
) -> None:
    record = DownloadResult("http://h/a", DownloadStatus.OK, "a").to_json()
    record[field] = value
    with pytest.raises(ValueError, match=message):
        DownloadResult.from_json(record)
