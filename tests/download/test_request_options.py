"""``awaitkit fetch``'s request options end to end: -H, -A, --referer, -u, --netrc, -b, -c.

Each run goes through the CLI's entry point in this process against
loopback servers that record the request heads they get
(:mod:`tests.recording`); a second host is 127.0.0.2, another loopback
address, so that host-scoped rules (netrc machines, cookie domains) see
two hosts.  Every bad value is exit status 2 with a one-line reason,
before anything is downloaded.
"""

from __future__ import annotations

import base64
import importlib.metadata
import logging
import os
from collections.abc import Iterator
from http.cookiejar import MozillaCookieJar
from pathlib import Path
from urllib.parse import quote

import pytest

from awaitkit import __version__
from awaitkit.cli import main
from awaitkit.core import UsageError
from awaitkit.download import DownloadOptions
from awaitkit.download._request import parse_cookie_string, parse_header
from tests.recording import RecordingServer, recording_in_thread


def c(text: str) -> str:
    """``text`` as one path segment."""
    return quote(text, safe="")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def servers() -> Iterator[list[RecordingServer]]:
    """Server A on 127.0.0.1 and server B on 127.0.0.2."""
    with recording_in_thread("127.0.0.1", "127.0.0.2") as pair:
        yield pair


def fetch(tmp_path: Path, *args: str) -> int:
    return main(["fetch", "-q", "-j", "1", "--dest", str(tmp_path / "out"), *args])


# -- fields ----------------------------------------------------------------------


def test_the_default_user_agent_names_the_installed_version(
    servers: list[RecordingServer], tmp_path: Path
) -> None:
    a, _ = servers
    assert fetch(tmp_path, f"{a.url}/x") == 0
    assert a.fields("/x")[0]["user-agent"] == [f"awaitkit/{__version__}"]
    assert DownloadOptions().user_agent == f"awaitkit/{__version__}"


def test_the_version_is_the_distributions() -> None:
    """The cheap ``__version__`` the User-Agent uses is what importlib.metadata says."""
    assert __version__ == importlib.metadata.version("awaitkit")


def test_headers_user_agent_and_referer_go_on_every_request(
    servers: list[RecordingServer], tmp_path: Path
) -> None:
    a, b = servers
    args = ["-H", "X-One: 1", "-H", "X-One: 2", "-H", "X-Empty;", "-A", "agent/2"]
    args += ["--referer", "http://from.example/page"]
    assert fetch(tmp_path, *args, f"{a.url}/to/{c(b.url + '/x')}", f"{a.url}/y") == 0
    for fields in (b.fields("/x")[0], a.fields("/y")[0]):
        assert fields["x-one"] == ["1", "2"]
        assert fields["x-empty"] == [""]
        assert fields["user-agent"] == ["agent/2"]
        assert fields["referer"] == ["http://from.example/page"]


def test_a_user_agent_header_wins_over_a(
    servers: list[RecordingServer], tmp_path: Path
) -> None:
    a, _ = servers
    assert fetch(tmp_path, "-A", "agent/2", "-H", "user-agent: mine", f"{a.url}/x") == 0
    assert a.fields("/x")[0]["user-agent"] == ["mine"]


def test_an_empty_header_removes_ours(
    servers: list[RecordingServer], tmp_path: Path
) -> None:
    a, _ = servers
    assert (
        fetch(tmp_path, "-H", "User-Agent:", "-H", "Accept-Encoding:", f"{a.url}/x")
        == 0
    )
    assert "user-agent" not in a.fields("/x")[0]
    assert "accept-encoding" not in a.fields("/x")[0]
    assert fetch(tmp_path, "-A", "", f"{a.url}/z") == 0
    assert "user-agent" not in a.fields("/z")[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-H", "NoColon"], "-H: use 'Name: value'"),
        (["-H", "X;Y;"], "-H: use 'Name: value'"),
        (["-H", "Bad Name: x"], "bad header name"),
        (["-H", ": x"], "bad header name"),
        (["-H", "X-A: a\x01b"], "control character"),
        (["-H", "X-A: \udcff"], "not Latin-1"),  # a non-UTF-8 argv byte
        (["-H", "X-A: " + "x" * 9000], "-H: a header over 8192 characters"),
        (["-H", "Content-Length: 1"], "the client sets it itself"),
        (["-H", "Transfer-Encoding: chunked"], "the client sets it itself"),
        (["-H", "Connection: close"], "the client sets it itself"),
        (["-H", "Host:"], "Host cannot be removed"),
        (["-A", "a\r\nX-Injected: 1"], "control character"),
        (["--referer", "http://x/\nX: 1"], "control character"),
        (["-u", "nopassword"], "-u: use USER:PASS"),
        (["-u", ":pw"], "-u: use USER:PASS"),
        (["-u", "u:p\x00"], "-u: control character"),
        (["-u", "\udcff:p"], "-u: credentials are not valid UTF-8"),
    ],
)
def test_bad_request_options_are_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert fetch(tmp_path, *args, "http://127.0.0.1:1/x") == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_parse_header_reads_curls_forms() -> None:
    assert parse_header("X: a: b ") == ("X", "a: b")
    assert parse_header("X:") == ("X", None)
    assert parse_header("X;") == ("X", "")


# -- credentials -----------------------------------------------------------------


def test_user_goes_to_the_urls_host_and_not_past_a_redirect(
    servers: list[RecordingServer], tmp_path: Path
) -> None:
    a, b = servers
    start = f"{a.url}/to/{c(b.url + '/x')}"
    assert fetch(tmp_path, "-u", "me:p:w", start, f"{b.url}/own") == 0
    assert a.fields(start.removeprefix(a.url))[0]["authorization"] == [
        basic("me", "p:w")
    ]
    assert "authorization" not in b.fields("/x")[0]  # B only by the redirect
    # B's own URL, given: its host gets them, as curl does for each URL.
    assert b.fields("/own")[0]["authorization"] == [basic("me", "p:w")]


def test_credentials_in_the_url(servers: list[RecordingServer], tmp_path: Path) -> None:
    a, b = servers
    url = a.url.replace("http://", "http://u%40x:s%3Acret@") + f"/to/{c(b.url + '/x')}"
    assert fetch(tmp_path, url) == 0
    [first] = [f for path, f in a.requests if path.startswith("/to/")]
    assert first["authorization"] == [basic("u@x", "s:cret")]
    assert "authorization" not in b.fields("/x")[0]


def test_a_netrc_for_one_host_only(
    servers: list[RecordingServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = servers
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n")
    urls = [f"{a.url}/to/{c(b.url + '/x')}", f"{b.url}/y", f"{a.url}/z"]
    assert fetch(tmp_path, "--netrc-file", str(netrc), *urls) == 0
    assert a.fields("/z")[0]["authorization"] == [basic("alice", "s3cret")]
    assert "authorization" not in b.fields("/x")[0]
    assert "authorization" not in b.fields("/y")[0]
    # --netrc reads $NETRC; -u wins over it.
    monkeypatch.setenv("NETRC", str(netrc))
    assert fetch(tmp_path, "--netrc", f"{a.url}/n") == 0
    assert a.fields("/n")[0]["authorization"] == [basic("alice", "s3cret")]
    assert fetch(tmp_path, "--netrc", "-u", "bob:pw", f"{a.url}/u") == 0
    assert a.fields("/u")[0]["authorization"] == [basic("bob", "pw")]


def test_a_missing_default_netrc_is_no_credentials(
    servers: list[RecordingServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = servers
    monkeypatch.setenv("NETRC", str(tmp_path / "absent"))
    assert fetch(tmp_path, "--netrc", f"{a.url}/x") == 0
    assert "authorization" not in a.fields("/x")[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello world\n", "bad netrc file"),
        (b"machine\n", "bad netrc file"),
        (b"machine h login u password p macdef\n", "bad netrc file"),
        (b"machine h login u\xff password p\n", "netrc file"),
        (b"machine h login a:b password p\n", "cannot hold ':'"),
    ],
)
def test_a_bad_netrc_is_a_usage_error(
    content: bytes, message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_bytes(content)
    assert fetch(tmp_path, "--netrc-file", str(netrc), "http://127.0.0.1:1/x") == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_a_missing_netrc_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert fetch(tmp_path, "--netrc-file", str(tmp_path / "no"), "http://h/x") == 2
    assert "--netrc-file: no such file" in capsys.readouterr().err


# -- cookies ---------------------------------------------------------------------

COOKIE_FILE = """# Netscape HTTP Cookie File
127.0.0.1\tFALSE\t/\tFALSE\t0\tfromfile\t1
127.0.0.1\tFALSE\t/deep\tFALSE\t4102444800\tdeep\t1
127.0.0.1\tFALSE\t/\tTRUE\t0\tsecure\t1
127.0.0.1\tFALSE\t/\tFALSE\t1\texpired\t1
"""


def test_cookies_from_a_file_follow_the_jars_rules(
    servers: list[RecordingServer], tmp_path: Path
) -> None:
    a, b = servers
    jar = tmp_path / "cookies.txt"
    jar.write_text(COOKIE_FILE)
    urls = [f"{a.url}/x", f"{a.url}/deep/y", f"{b.url}/z"]
    assert fetch(tmp_path, "-b", str(jar), *urls) == 0
    # Not the Secure one over http, nor the expired one; 0 is curl's session mark.
    assert a.fields("/x")[0]["cookie"] == ["fromfile=1"]
    assert a.fields("/deep/y")[0]["cookie"] == ["deep=1; fromfile=1"]
    assert "cookie" not in b.fields("/z")[0]  # another host


def test_cookies_set_come_back_to_that_host_and_are_written(
    servers: list[RecordingServer],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = servers
    jar = tmp_path / "jar.txt"
    urls = [
        f"{a.url}/set/{c('sid=abc; Path=/')}/to/{c(a.url + '/next')}",  # by a 302
        f"{a.url}/set/{c('kept=1; Path=/; Max-Age=3600')}",
    ]

    def no_fork(*args: object) -> None:
        raise AssertionError("forked with a cookie jar")

    # Two processes asked for, and room for them (-j 2): cookies make it one.
    monkeypatch.setattr("awaitkit.download._commands.fork_downloaders", no_fork)
    with caplog.at_level(logging.INFO, "awaitkit.download"):
        # -b names the jar not written yet: the first run of -b jar -c jar.
        args = ["--processes", "2", "-j", "2", "-b", str(jar), "-c", str(jar)]
        assert fetch(tmp_path, *args, *urls) == 0
    assert "cookies (-b/-c): downloading in one process, not 2" in caplog.text
    assert a.fields("/next")[0]["cookie"] == ["sid=abc"]
    loaded = MozillaCookieJar()
    loaded.load(str(jar), ignore_discard=True)
    assert {(k.domain, k.name, k.value) for k in loaded} == {
        ("127.0.0.1", "sid", "abc"),
        ("127.0.0.1", "kept", "1"),
    }
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".cookies")] == []
    # The next run sends them from the file, to that host only.
    assert fetch(tmp_path, "-b", str(jar), f"{a.url}/later", f"{b.url}/other") == 0
    assert sorted(a.fields("/later")[0]["cookie"][0].split("; ")) == [
        "kept=1",
        "sid=abc",
    ]
    assert "cookie" not in b.fields("/other")[0]


def test_a_cookie_set_is_sent_on_the_next_request_of_the_run(
    servers: list[RecordingServer], tmp_path: Path
) -> None:
    a, b = servers
    urls = [f"{a.url}/set/{c('n=1; Path=/')}", f"{a.url}/again", f"{b.url}/other"]
    assert fetch(tmp_path, "-c", str(tmp_path / "jar"), *urls) == 0
    assert a.fields("/again")[0]["cookie"] == ["n=1"]
    assert "cookie" not in b.fields("/other")[0]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (None, "-b: no such cookie file"),
        (b"not a cookie file\n", "is not a Netscape cookie file"),
        (
            b"# Netscape HTTP Cookie File\nh\tFALSE\t/\n",
            "is not a Netscape cookie file",
        ),
        (b"# Netscape HTTP Cookie File\n\xff\xfe\n", "is not a Netscape cookie file"),
    ],
)
def test_a_bad_cookie_file_is_a_usage_error(
    make: bytes | None,
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    path = tmp_path / "cookies.txt"
    if make is not None:
        path.write_bytes(make)
    assert fetch(tmp_path, "-b", str(path), "http://127.0.0.1:1/x") == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_a_cookie_jar_in_a_missing_folder_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "nowhere" / "jar.txt"
    assert fetch(tmp_path, "-c", str(target), "http://127.0.0.1:1/x") == 2
    assert "-c: no folder" in capsys.readouterr().err
    assert not os.path.exists(target)


# -- cookie data (-b 'name=value') ------------------------------------------------


def test_cookie_data_goes_to_each_urls_host_and_not_past_a_redirect(
    servers: list[RecordingServer], tmp_path: Path
) -> None:
    a, b = servers
    start = f"{a.url}/to/{c(b.url + '/x')}"
    assert fetch(tmp_path, "-b", "sid=abc ;theme=dark", start, f"{b.url}/own") == 0
    assert a.fields(start.removeprefix(a.url))[0]["cookie"] == ["sid=abc; theme=dark"]
    assert "cookie" not in b.fields("/x")[0]  # B only by the redirect
    assert b.fields("/own")[0]["cookie"] == ["sid=abc; theme=dark"]


def test_cookie_data_and_cookies_set_share_one_field(
    servers: list[RecordingServer], tmp_path: Path
) -> None:
    a, _ = servers
    jar = tmp_path / "jar.txt"
    urls = [f"{a.url}/set/{c('n=1; Path=/')}", f"{a.url}/again"]
    assert fetch(tmp_path, "-b", "fixed=1", "-c", str(jar), *urls) == 0
    assert a.fields("/again")[0]["cookie"] == ["fixed=1; n=1"]
    # The jar holds what servers set, never the data given on the command line.
    written = MozillaCookieJar()
    written.load(str(jar), ignore_discard=True)
    assert [cookie.name for cookie in written] == ["n"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("=1", "not a cookie (name=value): '=1'"),
        ("a b=1", "not a cookie (name=value)"),
        ("ok=1; bad", "not a cookie (name=value): 'bad'"),
        ("a=1\r\nX-Evil: 1", "a character a Cookie field cannot carry"),
        ("a=\udcff", "a character a Cookie field cannot carry"),  # non-UTF-8 argv
        (";=;", "not a cookie"),
        ("a=" + "x" * 5000, "cookie data over 4096 characters"),
    ],
)
def test_bad_cookie_data_is_a_usage_error(
    data: str, message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert fetch(tmp_path, "-b", data, "http://127.0.0.1:1/x") == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_cookie_data_normalized() -> None:
    assert parse_cookie_string(" a=1;b=2 ; ") == "a=1; b=2"
    assert parse_cookie_string("empty=") == "empty="
    with pytest.raises(UsageError, match="no cookie"):
        parse_cookie_string(" ; ")
