"""HttpClient's fixed fields, URL credentials and request hooks, on the wire of a loopback server.

Fixed fields are checked once, when the client is made; credentials (a
URL's ``user:password@``, :class:`BasicAuth`, Authorization and Cookie
among the fixed fields) reach the request's first origin only, never the
other server a redirect points at; :class:`CookieHook` follows its jar's
rules and stores what every response sets, redirects included.
"""

from __future__ import annotations

import base64
from http.cookiejar import CookieJar, MozillaCookieJar
from pathlib import Path
from urllib.parse import quote

import pytest

from awaitkit.core import UsageError
from awaitkit.http import (
    BasicAuth,
    CookieHook,
    HttpClient,
    HttpClientError,
    OriginKey,
    Response,
)
from awaitkit.http._cookies import BoundedCookiePolicy
from tests.recording import RecordingServer

pytestmark = pytest.mark.anyio


def c(text: str) -> str:
    """``text`` as one path segment."""
    return quote(text, safe="")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def get(client: HttpClient, url: str) -> Response:
    async with client.get(url) as resp:
        await resp.read()
        return resp


# -- fixed fields ----------------------------------------------------------------


async def test_fixed_fields_go_on_every_request_and_replace_our_own() -> None:
    headers = [
        ("X-One", "1"),
        ("X-One", "2"),  # repeated, as curl sends two -H of one name
        ("User-Agent", "mine/1"),
        ("Accept-Encoding", None),  # removed
        ("X-Empty", ""),
    ]
    async with RecordingServer() as server, HttpClient(headers=headers) as client:
        await get(client, f"{server.url}/a")
        await get(client, f"{server.url}/b")
    for fields in (server.fields("/a")[0], server.fields("/b")[0]):
        assert fields["x-one"] == ["1", "2"]
        assert fields["user-agent"] == ["mine/1"]
        assert "accept-encoding" not in fields
        assert fields["x-empty"] == [""]
        assert fields["host"] == [server.url.removeprefix("http://")]


async def test_a_fixed_host_replaces_ours() -> None:
    async with (
        RecordingServer() as server,
        HttpClient(headers={"Host": "example.test"}) as client,
    ):
        await get(client, f"{server.url}/")
    assert server.fields("/")[0]["host"] == ["example.test"]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Content-Length": "5"}, "the client sets it itself"),
        ({"transfer-encoding": "chunked"}, "the client sets it itself"),
        ({"Connection": "close"}, "the client sets it itself"),
        ({"Host": None}, "Host cannot be removed"),
        ({"X A": "1"}, "bad header name"),
        ({"": "1"}, "bad header name"),
        ({"X-A": "ok\r\nX-Injected: 1"}, "control character"),
        ({"X-A": "nul\x00"}, "control character"),
        ({"X-A": "snow \u2603"}, "not Latin-1"),
        ({"X-A": "\udcff"}, "not Latin-1"),  # an undecodable argv byte
        ({"X-A": "x" * 40_000}, "headers over"),
    ],
)
def test_bad_fixed_fields_are_refused_when_the_client_is_made(
    headers: dict[str, str | None], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        HttpClient(headers=headers)


# -- credentials -----------------------------------------------------------------


async def test_url_credentials_go_to_their_origin_and_not_past_a_redirect() -> None:
    async with (
        RecordingServer() as a,
        RecordingServer("127.0.0.2") as b,
        HttpClient() as client,
    ):
        authority = a.url.removeprefix("http://")
        user = quote("us er")
        start = f"http://{user}:p%40ss:w@{authority}"
        back = quote(f"{a.url}/back", safe="")
        resp = await get(client, f"{start}/to/{quote(f'{b.url}/to/{back}', safe='')}")
    assert resp.status == 200
    assert resp.url == f"{a.url}/back"  # no credentials in what is reported
    [first] = [f for path, f in a.requests if path.startswith("/to/")]
    assert first["authorization"] == [basic("us er", "p@ss:w")]
    assert [f.get("authorization") for f in b.fields(b.requests[0][0])] == [None]
    # Back at the first origin, a redirect's hop carries them again.
    assert a.fields("/back")[0]["authorization"] == [basic("us er", "p@ss:w")]


async def test_basic_auth_hook_scopes_each_kind_of_credentials() -> None:
    async with RecordingServer() as a, RecordingServer("127.0.0.2") as b:
        auth = BasicAuth(
            ("given", "pw"), hosts={"127.0.0.2": ("bee", "pb")}, fallback=("d", "f")
        )
        async with HttpClient(hooks=[auth]) as client:
            await get(client, f"{a.url}/to/{quote(b.url + '/x', safe='')}")
            await get(client, f"{b.url}/y")
        async with HttpClient(hooks=[BasicAuth(fallback=("d", "f"))]) as client:
            await get(client, f"{a.url}/to/{quote(a.url + '/z', safe='')}")
    [to_a] = [f for path, f in a.requests if path.startswith("/to/")][:1]
    assert to_a["authorization"] == [basic("given", "pw")]
    # After the redirect: not -u's (another origin), but B's own netrc entry.
    assert b.fields("/x")[0]["authorization"] == [basic("bee", "pb")]
    assert b.fields("/y")[0]["authorization"] == [basic("given", "pw")]  # -u wins
    assert a.fields("/z")[0]["authorization"] == [basic("d", "f")]  # same origin


async def test_a_fixed_authorization_wins_and_stays_at_the_first_origin() -> None:
    async with RecordingServer() as a, RecordingServer() as b:
        headers = {"Authorization": "Bearer t", "Cookie": "c=1", "X-Kept": "k"}
        hooks = [BasicAuth(("u", "p"))]
        async with HttpClient(headers=headers, hooks=hooks) as client:
            await get(client, f"{a.url}/to/{quote(b.url + '/x', safe='')}")
    [to_a] = [f for path, f in a.requests if path.startswith("/to/")]
    assert to_a["authorization"] == ["Bearer t"]
    assert to_a["cookie"] == ["c=1"]
    after = b.fields("/x")[0]
    assert "authorization" not in after
    assert "cookie" not in after
    assert after["x-kept"] == ["k"]


@pytest.mark.parametrize("hooks", [False, True])
async def test_a_calls_own_credentials_stay_at_its_first_origin(hooks: bool) -> None:
    """A per-request Authorization or Cookie (a JSON Lines item's) is not sent on."""
    async with RecordingServer() as a, RecordingServer() as b:
        headers = {"Authorization": "Bearer t", "Cookie": "c=1", "X-Kept": "k"}
        async with HttpClient(hooks=[BasicAuth(None)] if hooks else []) as client:
            url = f"{a.url}/to/{quote(b.url + '/x', safe='')}"
            async with client.get(url, headers=headers) as resp:
                await resp.read()
    [to_a] = [f for path, f in a.requests if path.startswith("/to/")]
    assert to_a["authorization"] == ["Bearer t"]
    assert to_a["cookie"] == ["c=1"]
    after = b.fields("/x")[0]
    assert "authorization" not in after
    assert "cookie" not in after
    assert after["x-kept"] == ["k"]


@pytest.mark.parametrize(
    "url",
    ["http://a:b:c@127.0.0.1:1/".replace("a:b:c", "u%FF:p"), "http://u%0d%0a:p@h/"],
)
async def test_bad_url_credentials_are_an_invalid_url(url: str) -> None:
    async with HttpClient() as client:
        with pytest.raises(HttpClientError, match="credentials"):
            await get(client, url)


@pytest.mark.parametrize(
    ("credentials", "message"),
    [(("a:b", "c"), "cannot hold ':'"), (("a", "b\nc"), "control character")],
)
def test_bad_basic_credentials_are_refused(
    credentials: tuple[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        BasicAuth(credentials)


def test_basic_auth_repr_hides_the_credentials() -> None:
    assert "secret" not in repr(BasicAuth(("u", "secret")))


# -- cookies ---------------------------------------------------------------------


async def test_cookies_set_then_sent_back_to_that_host_only() -> None:
    jar = CookieJar()
    async with (
        RecordingServer() as a,
        RecordingServer("127.0.0.2") as b,
        HttpClient(hooks=[CookieHook(jar)]) as client,
    ):
        # Set by a redirect response, on the way to B: stored all the same.
        await get(client, f"{a.url}/set/{c('s=1; Path=/')}/to/{c(b.url + '/b1')}")
        await get(client, f"{a.url}/a2")
        await get(client, f"{a.url}/set/{c('only=1; Path=/deep')}")
        await get(client, f"{a.url}/deep/x")
        await get(client, f"{a.url}/set/{c('safe=1; Secure')}")
        await get(client, f"{a.url}/a3")
    assert a.fields("/a2")[0]["cookie"] == ["s=1"]
    assert "cookie" not in b.fields("/b1")[0]  # another host
    assert a.fields("/deep/x")[0]["cookie"] == ["only=1; s=1"]  # path rule
    assert a.fields("/a3")[0]["cookie"] == ["s=1"]  # Secure: never over http
    assert {c.name for c in jar} == {"s", "only", "safe"}


async def test_expired_cookies_are_not_sent() -> None:
    jar = CookieJar()
    async with RecordingServer() as a, HttpClient(hooks=[CookieHook(jar)]) as client:
        await get(client, f"{a.url}/set/{c('gone=1; Max-Age=0')}")
        await get(
            client, f"{a.url}/set/{c('old=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT')}"
        )
        await get(client, f"{a.url}/after")
    assert "cookie" not in a.fields("/after")[0]


async def test_a_hostile_server_cannot_grow_the_jar_without_bound() -> None:
    jar = CookieJar()
    hook = CookieHook(jar, max_cookies=5, max_size=100)
    async with RecordingServer() as a, HttpClient(hooks=[hook]) as client:
        for i in range(12):
            await get(client, f"{a.url}/set/{c(f'n{i}=v; Path=/')}")
        await get(
            client, f"{a.url}/set/{c('n0=replaced; Path=/')}"
        )  # a replacement fits
    assert len(jar) == 5
    assert {c.name: c.value for c in jar}["n0"] == "replaced"
    assert isinstance(jar._policy, BoundedCookiePolicy)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "cookie",
    [
        "big=" + "x" * 200,  # over max_size
        "tab=a\tb",  # would split a line of a cookie file
    ],
)
async def test_a_cookie_too_big_or_malformed_is_not_kept(cookie: str) -> None:
    jar = CookieJar()
    hook = CookieHook(jar, max_size=100)
    async with RecordingServer() as a, HttpClient(hooks=[hook]) as client:
        await get(client, f"{a.url}/set/{c('ok=1')}")
        await get(client, f"{a.url}/set/{c(cookie)}")
    assert [k.name for k in jar] == ["ok"]


async def test_a_hook_field_with_a_control_character_fails_the_request() -> None:
    class Bad:
        def request_fields(
            self, url: str, origin: OriginKey, first: OriginKey
        ) -> list[tuple[str, str]]:
            return [("X-Bad", "a\r\nX-Injected: 1")]

        def response_received(self, url: str, response: Response) -> None:
            pass

    async with RecordingServer() as a, HttpClient(hooks=[Bad()]) as client:
        with pytest.raises(HttpClientError, match="request hook"):
            await get(client, f"{a.url}/")
    assert a.requests == []


async def test_a_redirect_response_sets_cookies_for_the_next_hop() -> None:
    jar = CookieJar()
    async with RecordingServer() as a, HttpClient(hooks=[CookieHook(jar)]) as client:
        await get(client, f"{a.url}/set/{c('r=1; Path=/')}/to/{c(a.url + '/next')}")
    assert a.fields("/next")[0]["cookie"] == ["r=1"]


def test_cookies_of_a_file_that_cannot_go_on_the_wire_are_dropped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cookies.txt"
    lines = ["# Netscape HTTP Cookie File"]
    for name, value in [
        ("ok", "1"),
        ("ctl", "a\x01b"),
        ("high", "\u2603"),
        ("big", "x" * 5000),
    ]:
        lines.append(f"h.example\tFALSE\t/\tFALSE\t\t{name}\t{value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    jar = MozillaCookieJar()
    jar.load(str(path), ignore_discard=True)
    assert len(jar) == 4
    CookieHook(jar)
    assert [k.name for k in jar] == ["ok"]
