"""``tls_context``: the settings it makes, and a one-line UsageError for each bad file.

No socket: the handshakes are in ``test_client_tls.py``.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from awaitkit.core import UsageError
from awaitkit.http import tls_context
from tests.http._tls import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_the_default_checks_certificates_and_host_names() -> None:
    context = tls_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2


def test_verify_false_checks_nothing_and_still_wants_tls_1_2(pki: Pki) -> None:
    for context in (
        tls_context(verify=False),
        tls_context(verify=False, cafile=pki.ca_pem),
    ):
        assert context.verify_mode is ssl.CERT_NONE
        assert not context.check_hostname
        assert context.minimum_version is ssl.TLSVersion.TLSv1_2


def test_a_ca_file_is_all_that_is_trusted(pki: Pki) -> None:
    context = tls_context(cafile=pki.ca_pem)
    assert context.cert_store_stats()["x509_ca"] == 1
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2


def test_a_ca_folder_is_read_at_once(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "0a1b2c3d.0").write_bytes(pki.ca_pem.read_bytes())
    (tmp_path / "README").write_text("not a certificate, and not read")
    context = tls_context(capath=tmp_path)
    assert context.cert_store_stats()["x509_ca"] == 1  # loaded, not looked up later


def test_a_client_certificate_with_its_key_loads(pki: Pki) -> None:
    tls_context(certfile=pki.cert("client"), keyfile=pki.key("client"))
    tls_context(certfile=pki.folder / "client-all.pem")


# -- bad input: one line naming the file -----------------------------------------


def junk(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def check(message: str, **options: object) -> None:
    with pytest.raises(UsageError) as info:
        tls_context(**options)  # type: ignore[arg-type]
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert "_ssl.c" not in text


def test_a_missing_or_odd_ca_file_is_refused(tmp_path: Path) -> None:
    check(
        f"CA file {tmp_path}/nope.pem: No such file or directory",
        cafile=tmp_path / "nope.pem",
    )
    check(f"CA file {tmp_path}: not a regular file", cafile=tmp_path)
    check("CA file /dev/zero: not a regular file", cafile="/dev/zero")  # never read
    os.mkfifo(tmp_path / "fifo")
    check("not a regular file", cafile=tmp_path / "fifo")  # would block forever
    check("embedded null", cafile="ca\0.pem")


def test_a_ca_file_too_large_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.pem"
    with open(big, "wb") as out:
        out.truncate(16 * 1024 * 1024 + 1)  # sparse
    check(f"CA file {big}: larger than 16 MiB, not a certificate file", cafile=big)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello\n", "no PEM certificate in it"),
        (b"", "no PEM certificate in it"),
        (b"\xff\xfe\x00\x80 not UTF-8 \xc3\x28", "no PEM certificate in it"),
        (
            b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            "not a valid PEM certificate file",
        ),
    ],
)
def test_a_ca_file_that_is_not_pem_is_refused(
    tmp_path: Path, data: bytes, message: str
) -> None:
    path = junk(tmp_path, "ca.pem", data)
    check(f"CA file {path}: {message}", cafile=path)


def test_a_key_is_no_ca_file(pki: Pki) -> None:
    check("no PEM certificate in it", cafile=pki.key("good"))


def test_a_bad_ca_folder_is_refused(pki: Pki, tmp_path: Path) -> None:
    check("CA folder", capath=tmp_path / "nope")
    check("No such file or directory", capath=tmp_path / "nope")
    check("Not a directory", capath=pki.ca_pem)
    unhashed = tmp_path / "unhashed"
    unhashed.mkdir()
    (unhashed / "ca.pem").write_bytes(pki.ca_pem.read_bytes())
    check(
        f"CA folder {unhashed}: no certificates named HASH.0 in it "
        "(openssl rehash names them)",
        capath=unhashed,
    )
    hashed = tmp_path / "hashed"
    hashed.mkdir()
    bad = junk(hashed, "0a1b2c3d.0", b"junk")
    check(f"CA file {bad}: no PEM certificate in it", capath=hashed)


def test_a_bad_client_certificate_is_refused(pki: Pki, tmp_path: Path) -> None:
    check("client certificate", certfile=tmp_path / "nope.pem")
    check("No such file or directory", certfile=tmp_path / "nope.pem")
    text = junk(tmp_path, "c.pem", b"not PEM at all")
    check(f"client certificate {text}: no PEM certificate in it", certfile=text)
    check(
        f"client certificate {text}: no PEM certificate in it",
        certfile=text,
        keyfile=pki.key("client"),
    )
    check(
        f"client certificate {pki.cert('client')}: no private key in it; give the key file",
        certfile=pki.cert("client"),
    )


def test_a_bad_client_key_is_refused(pki: Pki, tmp_path: Path) -> None:
    cert = pki.cert("client")
    check("client key", certfile=cert, keyfile=tmp_path / "nope.key")
    text = junk(tmp_path, "k.pem", b"\xff\xfe not a key")
    check(f"client key {text}: not a PEM private key", certfile=cert, keyfile=text)
    check(
        f"client key {pki.key('good')}: not the key of the certificate in {cert}",
        certfile=cert,
        keyfile=pki.key("good"),
    )


def test_a_key_without_its_certificate_is_refused(pki: Pki) -> None:
    check(
        f"client key {pki.key('client')}: give its certificate too",
        keyfile=pki.key("client"),
    )


def test_an_encrypted_key_is_refused_without_prompting(
    pki: Pki, tmp_path: Path
) -> None:
    """OpenSSL would ask on the terminal and wait; the caller gets an error instead."""
    key = serialization.load_pem_private_key(pki.key("client").read_bytes(), None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    check(
        f"client key {encrypted}: encrypted; give it decrypted",
        certfile=pki.cert("client"),
        keyfile=encrypted,
    )
