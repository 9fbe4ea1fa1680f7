"""``awaitkit fetch`` over HTTPS: --cacert, --capath, -k, --cert, --key, end to end.

The server is ``tests.http._tls.TlsServer`` (threads on loopback), the
certificates trustme's.  A refused certificate or handshake ends its item
as an ERROR with one line of reason, after one attempt; bad option input
is a usage error (exit 2) before anything is downloaded.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from awaitkit.cli import main
from tests.conftest import find_binary
from tests.http._tls import (
    Pki,
    TlsServer,
    hashed_ca_folder,
    make_pki,
    tls11_server_context,
)

WARNING = (
    "awaitkit fetch: warning: -k/--insecure: server certificates and host names "
    "are not checked"
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def fetch(tmp_path: Path, *args: str) -> tuple[int, list[dict[str, object]]]:
    """Run ``awaitkit fetch -v`` into tmp_path/out; its status and report lines."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    report = tmp_path / "report.jsonl"
    status = main(
        ["fetch", "-v", "--dest", str(tmp_path / "out"), "--report", str(report), *args]
    )
    lines = report.read_text().splitlines() if report.exists() else []
    return status, [json.loads(line) for line in lines]


def refused_with(
    capsys: pytest.CaptureFixture[str], records: list[dict[str, object]], reason: str
) -> None:
    """One ERROR after one attempt, its reason in the report and on one -v line."""
    [record] = records
    assert record["status"] == "error"
    assert record["attempts"] == 1  # final: never retried
    error = str(record["error"])
    assert reason in error
    assert "\n" not in error
    assert "_ssl.c" not in error
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    [line] = [line for line in out.splitlines() if line.startswith("ERROR")]
    assert line.endswith(error)


def test_a_trusted_certificate_downloads(pki: Pki, tmp_path: Path) -> None:
    with TlsServer(pki.server_context(), b"secret") as server:
        status, [record] = fetch(
            tmp_path, "--cacert", str(pki.ca_pem), f"{server.named_url}/a.bin"
        )
    assert status == 0
    assert record["status"] == "ok"
    assert (tmp_path / "out" / "a.bin").read_bytes() == b"secret"
    assert server.names == ["localhost"]


def test_an_unknown_ca_is_an_error_not_retried(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with TlsServer(pki.server_context()) as server:
        status, records = fetch(tmp_path, f"{server.named_url}/a.bin")
        assert server.connections == 1
    assert status == 1
    refused_with(
        capsys,
        records,
        f"cannot connect to localhost:{server.port}: certificate verify failed: "
        "unable to get local issuer certificate",
    )
    assert not (tmp_path / "out" / "a.bin").exists()


def test_insecure_downloads_and_says_so_once(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with TlsServer(pki.server_context("other"), b"unchecked") as server:
        urls = [f"{server.named_url}/{n}.bin" for n in "ab"]
        status, records = fetch(tmp_path, "-k", *urls)
    assert status == 0
    assert [r["status"] for r in records] == ["ok", "ok"]
    assert (tmp_path / "out" / "a.bin").read_bytes() == b"unchecked"
    err = capsys.readouterr().err
    assert err.splitlines().count(WARNING) == 1
    assert "warning" not in err.replace(WARNING, "")


def test_no_warning_without_insecure(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with TlsServer(pki.server_context()) as server:
        assert (
            fetch(tmp_path, "--cacert", str(pki.ca_pem), server.named_url + "/a")[0]
            == 0
        )
    assert "insecure" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("other", "certificate verify failed: Hostname mismatch, certificate is not valid for 'localhost'"),
        ("expired", "certificate verify failed: certificate has expired"),
    ],
)  # fmt: skip
def test_a_wrong_or_expired_certificate_is_an_error(
    pki: Pki,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    reason: str,
) -> None:
    with TlsServer(pki.server_context(name)) as server:
        status, records = fetch(
            tmp_path, "--cacert", str(pki.ca_pem), f"{server.named_url}/a.bin"
        )
    assert status == 1
    refused_with(capsys, records, reason)


def test_a_tls_1_1_server_is_an_error(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server_context = tls11_server_context(pki)
    if server_context is None:
        pytest.skip("this OpenSSL cannot make a TLS 1.1 server")
    with TlsServer(server_context) as server:
        status, records = fetch(
            tmp_path, "--cacert", str(pki.ca_pem), f"{server.named_url}/a.bin"
        )
    assert status == 1
    refused_with(
        capsys, records, "no TLS version in common (TLS 1.2 or later is required)"
    )


@pytest.mark.parametrize(
    "version",
    [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2],
    ids=["tls1.3", "tls1.2"],
)
def test_a_required_client_certificate(
    pki: Pki,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    version: ssl.TLSVersion,
) -> None:
    server_context = pki.requiring_client_certificates()
    server_context.minimum_version = server_context.maximum_version = version
    ca = ["--cacert", str(pki.ca_pem)]
    with TlsServer(server_context, b"members only") as server:
        status, records = fetch(tmp_path / "none", *ca, f"{server.named_url}/a.bin")
        assert status == 1
        refused_with(
            capsys,
            records,
            "the server requires a client certificate"
            if version is ssl.TLSVersion.TLSv1_3
            else "the server refused the handshake",
        )
        for mine in (
            ["--cert", str(pki.cert("client")), "--key", str(pki.key("client"))],
            ["--cert", str(pki.folder / "client-all.pem")],  # the key in the same file
        ):
            out = tmp_path / mine[-1].rsplit("/", 1)[-1]
            status, [record] = fetch(out, *ca, *mine, f"{server.named_url}/a.bin")
            assert status == 0, record
            assert (out / "out" / "a.bin").read_bytes() == b"members only"
    assert server.peers == [True, True]


def test_a_hashed_ca_folder(pki: Pki, tmp_path: Path) -> None:
    folder = hashed_ca_folder(pki, find_binary("openssl"))
    with TlsServer(pki.server_context()) as server:
        status, [record] = fetch(tmp_path, "--capath", str(folder), f"{server.url}/a")
    assert status == 0, record


def test_every_process_of_a_spread_run_uses_the_options(
    pki: Pki, tmp_path: Path
) -> None:
    """The context is built once, before the children are forked: they inherit it."""
    with TlsServer(pki.server_context(), b"x") as server:
        urls = [f"{server.named_url}/{i}.bin" for i in range(40)]
        status, records = fetch(
            tmp_path, "--cacert", str(pki.ca_pem), "--processes", "2", "-j", "4", *urls
        )
    assert status == 0
    assert [r["status"] for r in records] == ["ok"] * 40


# -- bad option input: exit 2, one line, nothing downloaded -----------------------


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad")
    (folder / "junk.pem").write_bytes(b"\xff\xfe not PEM \x00")
    return folder


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cacert", "{bad}/nope.pem"], "CA file {bad}/nope.pem: No such file or directory"),
        (["--cacert", "{bad}/junk.pem"], "CA file {bad}/junk.pem: no PEM certificate in it"),
        (["--cacert", "{bad}"], "CA file {bad}: not a regular file"),
        (["--cacert", ""], "CA file : No such file or directory"),
        (["--cacert", "/dev/zero"], "CA file /dev/zero: not a regular file"),
        (["--capath", "{bad}/nope"], "CA folder {bad}/nope: No such file or directory"),
        (["--capath", "{bad}"], "CA folder {bad}: no certificates named HASH.0 in it"),
        (["--capath", "{pki}/ca.pem"], "CA folder {pki}/ca.pem: Not a directory"),
        (["--cert", "{bad}/junk.pem"], "client certificate {bad}/junk.pem: no PEM certificate in it"),
        (["--cert", "{pki}/client.pem"], "client certificate {pki}/client.pem: no private key in it"),
        (["--cert", "{pki}/client.pem", "--key", "{pki}/good.key"], "client key {pki}/good.key: not the key of the certificate"),
        (["--cert", "{pki}/client.pem", "--key", "{bad}/junk.pem"], "client key {bad}/junk.pem: not a PEM private key"),
        (["--key", "{pki}/client.key"], "--key needs --cert"),
    ],
)  # fmt: skip
def test_bad_tls_options_are_usage_errors(
    pki: Pki,
    bad_files: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    def fill(text: str) -> str:
        return text.format(bad=bad_files, pki=pki.folder)

    dest = tmp_path / "out"
    argv = ["fetch", "--dest", str(dest), *map(fill, args), "https://localhost:1/a"]
    assert main(argv) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("awaitkit: error: ")
    assert fill(message) in line
    assert not dest.exists()


def test_a_file_name_that_is_not_utf8_is_named_in_the_error(tmp_path: Path) -> None:
    """A real process: the name reaches stderr escaped, as one line, status 2."""
    name = os.fsencode(tmp_path) + b"/\xff\xfe.pem"
    done = subprocess.run(
        [sys.executable, "-m", "awaitkit", "fetch", "--cacert", name, "https://h/a"],
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith(b"awaitkit: error: CA file ")
    assert line.endswith(b": No such file or directory")
    assert b"\\udcff" in line or b"\\xff" in line
