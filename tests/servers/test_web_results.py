"""The web API and page with the whole Match: sequences, keyword marks, types, lang."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from awaitkit.find import CharIndex, Match, QueryResult
from awaitkit.find._results import KINDS
from awaitkit.servers import create_app
from awaitkit.servers._encode import BodyMemo, FragmentCache
from awaitkit.servers._options import _KINDS, SearchOptions
from awaitkit.servers._page import render_page
from tests.servers._contract_index import (
    CRYING,
    FAMILY,
    FLAG,
    ContractIndex,
    PlainIndex,
)

pytestmark = pytest.mark.anyio

EMOJI_FONTS = '"Noto Color Emoji", "Apple Color Emoji", "Segoe UI Emoji"'


@pytest.fixture(scope="module")
def contract_index(index: CharIndex) -> ContractIndex:
    return ContractIndex(index)


async def _client(
    index: CharIndex, fast_path: bool
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(index, fast_path=fast_path)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


@pytest.fixture(params=[True, False], ids=["fast-path", "fastapi-path"])
async def client(
    contract_index: ContractIndex, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    contract_index.calls.clear()
    async for c in _client(contract_index, request.param):
        yield c


@pytest.fixture(params=[True, False], ids=["fast-path", "fastapi-path"])
async def plain_client(
    index: CharIndex, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(PlainIndex(index), request.param):
        yield c


def test_kinds_match_the_find_package() -> None:
    assert _KINDS == KINDS


def test_options_come_from_the_query_signature(
    index: CharIndex, contract_index: ContractIndex
) -> None:
    real = SearchOptions.of(index)
    assert (real.has_types, real.has_lang) == (True, True)
    assert real.languages == frozenset(index.languages) >= {"en", "fr", "ja"}
    plain = SearchOptions.of(PlainIndex(index))
    assert (plain.has_types, plain.has_lang, plain.languages) == (
        False,
        False,
        frozenset(),
    )
    full = SearchOptions.of(contract_index)
    assert full.has_types
    assert full.has_lang
    assert full.languages == {"en", "fr", "de"}
    assert full.parse_types("sequence, char,sequence") == ("sequence", "char")
    assert full.parse_lang(" FR ") == "fr"


def test_an_index_taking_lang_without_naming_languages_gets_emojis() -> None:
    import emoji

    class Loose:
        def query(self, text: str, **options: object) -> None: ...

    options = SearchOptions.of(Loose())  # type: ignore[arg-type]
    assert options.languages == set(emoji.LANGUAGES)


async def test_sequence_result_lists_every_code_point(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/search", params={"q": "flag brazil"})
    assert response.status_code == 200
    first = response.json()[0]
    assert first == {
        "char": "\U0001f1e7\U0001f1f7",
        "code": "U+1F1E7 U+1F1F7",
        "name": "flag: Brazil",
        "kind": "sequence",
        "via": "name",
    }
    family = (await client.get("/search", params={"q": "family man"})).json()[0]
    assert family["char"] == FAMILY.char
    assert len(family["code"].split()) == 5


async def test_types_filter_reaches_the_index(
    client: httpx.AsyncClient, contract_index: ContractIndex
) -> None:
    response = await client.get("/search?q=flag%20brazil&types=sequence")
    assert response.status_code == 200
    assert [m["kind"] for m in response.json()] == ["sequence"]
    assert response.headers["x-total-count"] == "1"
    assert (await client.get("/search?q=flag%20brazil&types=char")).json() == []
    chars = (await client.get("/search?q=flag&types=char,sequence")).json()
    assert len(chars) > 10
    assert {m["kind"] for m in chars} == {"char", "sequence"}  # flags are both
    assert {"text": "flag brazil", "types": ("sequence",)} in contract_index.calls


async def test_lang_reaches_the_index_only_when_given(
    client: httpx.AsyncClient, contract_index: ContractIndex
) -> None:
    english = (await client.get("/search?q=cat%20face&limit=1")).json()
    french = (await client.get("/search?q=cat%20face&limit=1&lang=FR")).json()
    assert english[0]["name"] == "CAT FACE"
    assert french[0]["name"] == "tête de chat"  # not the cached English fragment
    assert contract_index.calls == [
        {"text": "cat face"},
        {"text": "cat face", "lang": "fr"},
    ]


async def test_keyword_match_is_marked(client: httpx.AsyncClient) -> None:
    sad = (await client.get("/search?q=sad")).json()
    assert sad[0] == {
        "char": CRYING.char,
        "code": "U+1F622",
        "name": "CRYING FACE",
        "kind": "char",
        "via": "keyword",
    }
    page = (await client.get("/", params={"q": "sad"})).text
    assert (
        '<tr class="kind-char via-keyword"><td class="code">U+1F622</td>'
        '<td class="char" title="click to copy">\U0001f622</td>'
        '<td class="name">CRYING FACE <span class="via">keyword</span></td></tr>'
    ) in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("types=emoji", "types: unknown type 'emoji'; known: char, sequence"),
        ("types=char,", "types: unknown type ''"),
        ("types=" + "char," * 9 + "char", "at most 8"),
        ("lang=xx", "lang: unknown language 'xx'; known: de, en, fr"),
        ("lang=", "lang: unknown language ''"),
        ("lang=%ff%fe", "lang: unknown language"),
    ],
)
async def test_unknown_type_or_language_is_400(
    client: httpx.AsyncClient, query: str, message: str
) -> None:
    response = await client.get(f"/search?q=cat&{query}")
    assert response.status_code == 400
    assert message in response.json()["detail"]


async def test_oversized_types_or_lang_is_422(client: httpx.AsyncClient) -> None:
    for param in ("types=" + "x" * 101, "lang=" + "x" * 21):
        response = await client.get(f"/search?q=cat&{param}")
        assert response.status_code in (400, 422), param
        assert "detail" in response.json()


async def test_index_without_types_or_lang_refuses_them(
    plain_client: httpx.AsyncClient,
) -> None:
    for param, name in (("types=char", "types"), ("lang=en", "lang")):
        response = await plain_client.get(f"/search?q=cat&{param}")
        assert response.status_code == 400
        assert response.json() == {
            "detail": f"{name}: this server's index does not support {name}"
        }
    assert (await plain_client.get("/search?q=cat")).status_code == 200


async def test_page_names_languages_only_when_supported(
    client: httpx.AsyncClient, plain_client: httpx.AsyncClient
) -> None:
    assert '<body data-langs="de en fr">' in (await client.get("/")).text
    page = (await plain_client.get("/")).text
    assert '<body data-langs="">' in page
    assert f"font-family: {EMOJI_FONTS}" in page


def test_page_renders_sequences_escaped() -> None:
    hostile = Match("<b>", "U+003C U+0062", '"x" <i>', "sequence", "alias")
    page = render_page("", QueryResult(2, (FLAG, hostile)), languages=['"><x'])
    assert '<td class="code">U+1F1E7 U+1F1F7</td>' in page
    assert '<td class="char" title="click to copy">\U0001f1e7\U0001f1f7</td>' in page
    assert "&lt;b&gt;" in page
    assert '&quot;x&quot; &lt;i&gt; <span class="via">alias</span>' in page
    assert 'data-langs="&quot;&gt;&lt;x"' in page
    assert "<i>" not in page


def test_fragments_are_keyed_on_name_and_via() -> None:
    cache = FragmentCache()
    by_name = Match.of("\U0001f622", "CRYING FACE")
    french = Match.of("\U0001f622", "visage qui pleure")
    cache.encode([by_name])
    assert json.loads(cache.encode([CRYING]))[0]["via"] == "keyword"
    assert json.loads(cache.encode([french]))[0]["name"] == "visage qui pleure"
    assert json.loads(cache.encode([by_name]))[0] == {
        "char": "\U0001f622",
        "code": "U+1F622",
        "name": "CRYING FACE",
        "kind": "char",
        "via": "name",
    }
    assert len(cache) == 3


def test_body_memo_is_by_identity_and_bounded() -> None:
    memo = BodyMemo(max_entries=2, max_bytes=800)
    first, twin = QueryResult(1, (FLAG,)), QueryResult(1, (FLAG,))
    assert memo.put(first, b"[1]") == b"[1]"
    assert memo.get(first) == b"[1]"
    assert memo.get(twin) is None  # equal, but another object: never trusted
    big = QueryResult(0, ())
    memo.put(big, b"x" * 101)  # over an eighth of max_bytes: not kept
    assert memo.get(big) is None
    others = [QueryResult(i, ()) for i in range(3)]
    for other in others:
        memo.put(other, b"[]")
    assert len(memo) == 2
    assert memo.get(first) is None
    assert memo.get(others[-1]) == b"[]"


async def test_repeated_query_body_equals_a_fresh_encoding(
    client: httpx.AsyncClient, index: CharIndex
) -> None:
    """The memo serves the same bytes the fragments would join anew."""
    first = await client.get("/search?q=sign&limit=all")
    again = await client.get("/search?q=sign&limit=all")
    assert first.content == again.content
    matches = index.query("sign", limit=None).matches
    assert first.content == FragmentCache().encode(matches)


@pytest.fixture(params=[True, False], ids=["fast-path", "fastapi-path"])
async def real_client(
    index: CharIndex, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(index, request.param):
        yield c


async def test_real_index_answers_sequences_keywords_and_languages(
    real_client: httpx.AsyncClient,
) -> None:
    """The engine itself, not a double: what the page and API show for each option."""
    flag = (await real_client.get("/search?q=flag%20brazil")).json()[0]
    assert flag == {
        "char": "\U0001f1e7\U0001f1f7",
        "code": "U+1F1E7 U+1F1F7",
        "name": "FLAG BRAZIL",
        "kind": "sequence",
        "via": "name",
    }
    sad = (await real_client.get("/search?q=sad&limit=all")).json()
    assert any(m["char"] == "\U0001f622" and m["via"] == "keyword" for m in sad)
    french = (await real_client.get("/search?q=chat&lang=fr")).json()
    assert french[0]["name"] == "chat"
    only = (await real_client.get("/search?q=flag&types=sequence&limit=all")).json()
    assert only
    assert {m["kind"] for m in only} == {"sequence"}
    unknown = await real_client.get("/search?q=chat&lang=xx")
    assert unknown.status_code == 400
    assert "ja" in unknown.json()["detail"]
    page = (await real_client.get("/")).text
    assert 'data-langs="ar de en es fa fr id it ja ko pt ru tr zh"' in page
