"""TLS certificates and the HTTPS options of ``serve flags``: files, errors, curl, fetch."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from awaitkit.cli import main
from awaitkit.core import UsageError
from awaitkit.core.testing import exchange
from awaitkit.flags import build_dataset, self_signed_tls, server_context
from tests.conftest import find_binary
from tests.flags.rawhttp import get
from tests.http._tls import Pki, make_pki

pytestmark = pytest.mark.anyio

GIF = "/flags/br/br.gif"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


# -- server_context and self_signed_tls (sans loop) ---------------------------------


def test_server_context_loads_a_pair(pki: Pki) -> None:
    """A certificate chain and its key (apart, or together in one file) load."""
    assert isinstance(server_context(pki.cert("good"), pki.key("good")), ssl.SSLContext)
    together = pki.folder / "together.pem"
    together.write_bytes(pki.key("good").read_bytes() + pki.cert("good").read_bytes())
    server_context(together)


@pytest.fixture
def bad_files(pki: Pki, tmp_path: Path) -> dict[str, Path]:
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"\xff\xfe not a certificate\n")
    key = serialization.load_pem_private_key(pki.key("good").read_bytes(), None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pass phrase"),
        )
    )
    return {"junk": junk, "encrypted": encrypted, "folder": tmp_path}


@pytest.mark.parametrize(
    ("cert", "key", "message"),
    [
        ("missing", None, "--tls-cert {folder}/missing.pem: No such file"),
        ("folder", None, "not a regular file"),
        ("/dev/zero", None, "--tls-cert /dev/zero: not a regular file"),
        ("junk", None, "no PEM certificate in it"),
        ("good", None, "no private key in it; give --tls-key"),
        ("good", "junk", "not a PEM private key"),
        ("good", "other", "not the key of the certificate"),
        ("good", "encrypted", "encrypted; give it decrypted"),
        ("good", "missing", "--tls-key {folder}/missing.pem: No such file"),
    ],
)
def test_bad_certificate_files_are_usage_errors(
    pki: Pki, bad_files: dict[str, Path], cert: str, key: str | None, message: str
) -> None:
    """Each bad file gets a message naming the option and the file, never a prompt."""
    folder = bad_files["folder"]

    def path(name: str) -> Path:
        if name in bad_files:
            return bad_files[name]
        if name == "missing":
            return folder / "missing.pem"
        if name.startswith("/"):
            return Path(name)
        return pki.cert(name) if name == cert else pki.key(name)

    with pytest.raises(UsageError) as caught:
        server_context(path(cert), None if key is None else path(key))
    assert message.format(folder=folder) in str(caught.value)
    assert "_ssl.c" not in str(caught.value)


def test_self_signed_names_the_bound_host() -> None:
    """The certificate also names --host; a wildcard host adds the machine's name."""
    assert self_signed_tls(["flags.test"]).hosts[-1] == "flags.test"
    assert socket.gethostname() in self_signed_tls(["0.0.0.0"]).hosts


def test_missing_trustme_names_the_extra() -> None:
    """Without trustme, --tls self-signed is a usage error naming awaitkit[tls]."""
    code = (
        "import sys; sys.modules['trustme'] = None\n"
        "from awaitkit.cli import main\n"
        "sys.exit(main(['serve', 'flags', '--port', '0', '--tls', 'self-signed']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'awaitkit[tls]'" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- the CLI ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "/nonexistent/cert.pem"], "No such file"),
        (["--tls-key", "/x.key"], "--tls-key needs --tls-cert"),
        (["--tls", "self-signed", "--tls-cert", "c.pem"], "not both"),
        (["--tls-dir", "/tmp"], "--tls-dir goes with --tls self-signed"),
        (["--tls", "self-signed", "--tls-dir", "/dev/null/x"], "--tls-dir /dev/null/x"),
        (["--tls", "self-signed", "--tls-dir", "/dev/null/\udcfe"], "/dev/null/\\xfe"),
        (["--tls-cert", "/no/\udcff.pem"], "--tls-cert /no/\\xff.pem: No such file"),
    ],
)
def test_bad_tls_options_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad HTTPS options are usage errors, found before the port is bound."""
    assert main(["serve", "flags", "--port", "0", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_bad_tls_choice_is_refused() -> None:
    """--tls takes only self-signed (argparse: exit 2)."""
    proc = subprocess.run(
        [sys.executable, "-m", "awaitkit", "serve", "flags", "--tls", "yes"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "self-signed" in proc.stderr


@contextlib.asynccontextmanager
async def cli_server(
    *args: str,
) -> AsyncIterator[tuple[asyncio.subprocess.Process, list[str]]]:
    """Start ``serve flags`` with ``args``; yield it and its first two lines."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "awaitkit",
        "serve",
        "flags",
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        lines = [
            (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            for _ in range(2 if "--tls" in args else 1)
        ]
        assert lines[0].startswith("serving "), lines
        yield proc, lines
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()


async def run(*argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


async def test_cli_self_signed_with_curl_and_fetch(tmp_path: Path) -> None:
    """--tls self-signed prints the CA path; curl --cacert and awaitkit fetch
    --cacert trust it; the temporary folder goes away on exit."""
    curl = find_binary("curl")
    async with cli_server("--tls", "self-signed") as (proc, lines):
        base = lines[0].split(" on ")[1].split()[0]
        assert base.startswith("https://127.0.0.1:")
        assert lines[1].startswith("CA certificate: ")
        ca = Path(lines[1].split()[2])
        pem = await asyncio.to_thread(ca.read_bytes)
        assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
        code, out = await run(
            curl, "-sS", "--cacert", str(ca), f"{base}/flags/br/metadata.json"
        )
        assert code == 0, out
        assert '"iso_cc": "BR"' in out
        local = base.replace("127.0.0.1", "localhost")
        code, out = await run(
            curl,
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            str(ca),
            f"{local}/status/503",
        )
        assert out == "503"
        code, out = await run(curl, "-sS", f"{base}/")  # the system's CAs: refused
        assert code == 60, out
        code, out = await run(
            sys.executable, "-m", "awaitkit", "fetch", "-q", "--cacert", str(ca),
            "--dest", str(tmp_path), f"{base}{GIF}", f"{base}/redirect/2",
        )  # fmt: skip
        assert code == 0, out
        plain = await exchange(base, get(b"/flags/br/br.gif"))  # plain HTTP: refused
        assert not plain.startswith(b"HTTP/")
        assert (
            await asyncio.to_thread((tmp_path / "br.gif").read_bytes)
            == build_dataset()["flags/br/br.gif"].body
        )
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert b"TLS handshake failed: plain HTTP sent to the TLS port" in err
    assert b"Traceback" not in err
    assert not await asyncio.to_thread(ca.parent.exists)


async def test_cli_tls_dir_keeps_the_ca(tmp_path: Path) -> None:
    """--tls-dir DIR writes DIR/ca.pem and leaves it there."""
    async with cli_server(
        "--tls", "self-signed", "--tls-dir", str(tmp_path / "tls")
    ) as (proc, lines):
        assert lines[1].startswith(f"CA certificate: {tmp_path / 'tls' / 'ca.pem'} ")
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), 30)
    pem = await asyncio.to_thread((tmp_path / "tls" / "ca.pem").read_bytes)
    assert pem.startswith(b"-----BEGIN")


async def test_cli_given_certificate(pki: Pki) -> None:
    """--tls-cert/--tls-key serve HTTPS with that pair; curl trusts its CA."""
    curl = find_binary("curl")
    async with cli_server(
        "--tls-cert", str(pki.cert("good")), "--tls-key", str(pki.key("good"))
    ) as (proc, lines):
        base = lines[0].split(" on ")[1].split()[0]
        code, out = await run(
            curl, "-sS", "--cacert", str(pki.ca_pem), f"{base}/headers"
        )
        assert code == 0, out
        assert '"Host": [' in out
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
