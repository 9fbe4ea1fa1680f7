"""``awaitkit fetch`` through proxies: -x, --noproxy and the environment, end to end.

The proxy is Debian's tinyproxy on loopback (it adds a ``Via`` field, so the
origin can tell), the HTTPS origin ``tests.http._tls.TlsServer`` with
trustme's certificates.  A refused CONNECT ends its item as an ERROR after
one attempt; bad proxy input is a usage error (exit 2) before any download.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from awaitkit.cli import main
from awaitkit.download._options import DownloadOptions
from awaitkit.download._retry import Action, judge
from awaitkit.http import ProxyError
from tests.http._proxies import BIG, MicroSocks, Origin, TinyProxy, free_port
from tests.http._tls import Pki, TlsServer, make_pki

PROXY_VARIABLES = (
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
)


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def origin() -> Iterator[Origin]:
    with Origin() as server:
        yield server


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[TinyProxy]:
    with TinyProxy(tmp_path) as running:
        yield running


def dead_proxy() -> str:
    return f"http://127.0.0.1:{free_port()}"


def fetch(tmp_path: Path, *args: str) -> tuple[int, list[dict[str, object]]]:
    """Run ``awaitkit fetch -v`` into tmp_path/out; its status and report lines."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    report = tmp_path / "report.jsonl"
    status = main(
        ["fetch", "-v", "--dest", str(tmp_path / "out"), "--report", str(report), *args]
    )
    lines = report.read_text().splitlines() if report.exists() else []
    return status, [json.loads(line) for line in lines]


def saved(tmp_path: Path, name: str) -> str:
    return (tmp_path / "out" / name).read_text()


def test_x_sends_http_through_the_proxy(
    tmp_path: Path, origin: Origin, proxy: TinyProxy
) -> None:
    status, [record] = fetch(tmp_path, "-x", proxy.url, f"{origin.url}/a")
    assert status == 0
    assert record["status"] == "ok"
    assert "tinyproxy" in saved(tmp_path, "a")  # the origin saw its Via


def test_the_environment_and_its_precedence(
    tmp_path: Path,
    origin: Origin,
    proxy: TinyProxy,
    no_proxy_environment: pytest.MonkeyPatch,
) -> None:
    env = no_proxy_environment
    env.setenv("http_proxy", proxy.url)
    assert fetch(tmp_path / "1", f"{origin.url}/a")[0] == 0
    assert "tinyproxy" in saved(tmp_path / "1", "a")
    # -x wins over the environment, -x '' means none
    env.setenv("http_proxy", dead_proxy())
    assert fetch(tmp_path / "2", "-x", proxy.url, f"{origin.url}/b")[0] == 0
    assert "tinyproxy" in saved(tmp_path / "2", "b")
    assert fetch(tmp_path / "3", "-x", "", f"{origin.url}/c")[0] == 0
    assert saved(tmp_path / "3", "c") == "/c -"
    # HTTP_PROXY is never read for http:// (httpoxy)
    env.delenv("http_proxy")
    env.setenv("HTTP_PROXY", dead_proxy())
    assert fetch(tmp_path / "4", f"{origin.url}/d")[0] == 0
    assert saved(tmp_path / "4", "d") == "/d -"
    # all_proxy covers http:// too
    env.setenv("ALL_PROXY", proxy.url)
    assert fetch(tmp_path / "5", f"{origin.url}/e")[0] == 0
    assert "tinyproxy" in saved(tmp_path / "5", "e")


def test_no_proxy_and_noproxy(
    tmp_path: Path,
    origin: Origin,
    proxy: TinyProxy,
    no_proxy_environment: pytest.MonkeyPatch,
) -> None:
    env = no_proxy_environment
    env.setenv("http_proxy", dead_proxy())
    env.setenv("no_proxy", "example.org, 127.0.0.0/8")
    assert fetch(tmp_path / "1", f"{origin.url}/a")[0] == 0
    assert saved(tmp_path / "1", "a") == "/a -"
    # --noproxy replaces no_proxy: '' sends everything to the proxy
    env.setenv("http_proxy", proxy.url)
    assert fetch(tmp_path / "2", "--noproxy", "", f"{origin.url}/b")[0] == 0
    assert "tinyproxy" in saved(tmp_path / "2", "b")
    assert (
        fetch(tmp_path / "3", "-x", dead_proxy(), "--noproxy", "*", f"{origin.url}/c")[
            0
        ]
        == 0
    )
    assert saved(tmp_path / "3", "c") == "/c -"


def test_https_through_a_connect_tunnel(tmp_path: Path, pki: Pki) -> None:
    with (
        TlsServer(pki.server_context(), b"secret") as server,
        TinyProxy(tmp_path, connect_ports=[server.port]) as proxy,
    ):
        status, [record] = fetch(
            tmp_path,
            "--cacert",
            str(pki.ca_pem),
            "-x",
            proxy.url,
            f"{server.named_url}/s.bin",
        )
    assert status == 0, record
    assert (tmp_path / "out" / "s.bin").read_bytes() == b"secret"
    assert server.names == ["localhost"]
    assert any("CONNECT" in line for line in proxy.log)


def refused(
    capsys: pytest.CaptureFixture[str], records: list[dict[str, object]]
) -> str:
    """The one ERROR's reason, after one attempt, on one line of the report and of -v."""
    [record] = records
    assert record["status"] == "error"
    assert record["attempts"] == 1  # final: never retried
    error = str(record["error"])
    assert "\n" not in error
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert any(line.endswith(error) for line in out.splitlines())
    return error


def test_proxy_credentials(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        TlsServer(pki.server_context()) as server,
        TinyProxy(tmp_path, auth=("me", "pw")) as proxy,
    ):
        url = f"{server.named_url}/f"
        good = proxy.url.replace("//", "//me:p%77@")
        status, _ = fetch(tmp_path / "1", "--cacert", str(pki.ca_pem), "-x", good, url)
        assert status == 0
        assert saved(tmp_path / "1", "f") == "hello"
        capsys.readouterr()
        status, records = fetch(
            tmp_path / "2", "--cacert", str(pki.ca_pem), "-x", proxy.url, url
        )
    assert status == 1
    assert refused(capsys, records) == (
        f"proxy refused CONNECT to localhost:{server.port}: "
        "407 Proxy Authentication Required"
    )


def test_a_refused_connect_is_final(
    tmp_path: Path, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        TlsServer(pki.server_context()) as server,
        TinyProxy(tmp_path, connect_ports=[443]) as proxy,
    ):
        status, records = fetch(tmp_path, "-x", proxy.url, f"{server.url}/f")
    assert status == 1
    assert refused(capsys, records) == (
        f"proxy refused CONNECT to 127.0.0.1:{server.port}: 403 Access violation"
    )
    assert server.connections == 0


def test_a_proxy_that_dies_mid_transfer(tmp_path: Path, origin: Origin) -> None:
    with TinyProxy(tmp_path) as proxy:
        origin.on_streaming = proxy.kill
        status, [record] = fetch(
            tmp_path, "-x", proxy.url, "--retries", "1", f"{origin.url}/big"
        )
    assert status == 1
    assert record["status"] == "error"
    assert record["attempts"] == 2  # retried, then the proxy was gone
    assert "cannot connect" in str(record["error"])
    out = tmp_path / "out"
    assert not (out / "big").exists()  # never a half-written final file
    for part in out.glob("*.part"):  # what came stays to be resumed, as always
        assert part.stat().st_size < BIG


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["-x", "socks4://127.0.0.1:1080"], {}, "-x/--proxy: SOCKS4 proxies are not"),
        (["-x", "socks5h://:pw@p"], {}, "user name cannot be empty"),
        (["-x", "https://p:3128"], {}, "https:// proxies (TLS to the proxy)"),
        (["-x", "gopher://p"], {}, "unsupported proxy scheme gopher://"),
        (["-x", "http://p:70000"], {}, "bad port"),
        (["-x", "http://p:3128/x"], {}, "no path"),
        (["-x", "http://p\x01:1"], {}, "control character"),
        (["-x", "http://%C3%28:x@p"], {}, "not UTF-8"),
        (
            ["-x", "p:1", "--noproxy", "a/b"],
            {},
            "--noproxy: not a host name or IP address: 'a/b'",
        ),
        ([], {"https_proxy": "socks4a://p"}, "https_proxy: SOCKS4"),
        ([], {"http_proxy": "p:1", "NO_PROXY": "x\udcffy"}, "NO_PROXY: not a host"),
    ],
)
def test_bad_proxy_input_is_a_usage_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_proxy_environment: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    words: str,
) -> None:
    for name, value in env.items():
        no_proxy_environment.setenv(name, value)
    status, records = fetch(tmp_path, *args, "http://127.0.0.1:9/")
    assert status == 2
    assert records == []
    err = capsys.readouterr().err
    assert words in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (403, Action.FINAL),
        (407, Action.FINAL),
        (401, Action.FINAL),
        (None, Action.FINAL),
        (502, Action.RETRY),
        (503, Action.RETRY),
        (504, Action.RETRY),
    ],
)
def test_which_connect_refusals_are_retried(status: int | None, action: Action) -> None:
    failure = ProxyError("proxy refused CONNECT to h:443: ...", status)
    verdict = judge(failure, 1, DownloadOptions(retries=2), random.Random(1))
    assert verdict.action is action
    assert verdict.why == str(failure)
    assert judge(failure, 3, DownloadOptions(retries=2)).action is Action.FINAL


def test_socks5_proxies(
    tmp_path: Path,
    pki: Pki,
    origin: Origin,
    capsys: pytest.CaptureFixture[str],
    no_proxy_environment: pytest.MonkeyPatch,
) -> None:
    with (
        TlsServer(pki.server_context()) as server,
        MicroSocks(auth=("me", "pw")) as socks,
    ):
        ca = ("--cacert", str(pki.ca_pem))
        tls_url = f"{server.named_url}/f"
        good = socks.url("socks5h", "me:p%77@")
        status, _ = fetch(tmp_path / "1", *ca, "-x", good, f"{origin.url}/a", tls_url)
        assert status == 0
        assert saved(tmp_path / "1", "a") == "/a -"
        assert saved(tmp_path / "1", "f") == "hello"
        no_proxy_environment.setenv("all_proxy", socks.url("socks5", "me:pw@"))
        status, _ = fetch(tmp_path / "2", *ca, tls_url)
        assert status == 0
        # --noproxy: straight to the origin, past a proxy that would refuse
        no_proxy_environment.setenv("all_proxy", socks.url("socks5", "me:no@"))
        status, _ = fetch(tmp_path / "3", "--noproxy", "localhost", *ca, tls_url)
        assert status == 0
        capsys.readouterr()
        status, records = fetch(tmp_path / "4", *ca, tls_url)
    assert status == 1
    assert refused(capsys, records) == (
        f"SOCKS5 proxy socks5://127.0.0.1:{socks.port} refused the user name "
        "and password (status 2)"
    )
    assert server.connections == 3


@pytest.mark.parametrize(
    ("proxy", "words"),
    [
        ("socks4://127.0.0.1:1", "SOCKS4 proxies are not supported"),
        ("socks5h://" + "u" * 256 + "@127.0.0.1:1", "at most 255 bytes"),
    ],
)
def test_bad_socks_proxies_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], proxy: str, words: str
) -> None:
    assert (
        main(["fetch", "--dest", str(tmp_path), "-x", proxy, "http://a.example/"]) == 2
    )
    assert words in capsys.readouterr().err


@pytest.mark.parametrize(
    ("reply", "action"),
    [(2, Action.FINAL), (5, Action.FINAL), (7, Action.FINAL), (8, Action.FINAL)]
    + [(code, Action.RETRY) for code in (1, 3, 4, 6)],
)
def test_which_socks_refusals_are_retried(reply: int, action: Action) -> None:
    failure = ProxyError("SOCKS5 proxy socks5://p:1080 could not connect", reply=reply)
    assert judge(failure, 1, DownloadOptions(retries=2)).action is action
