"""The Mojifinder web page: server-rendered HTML plus a small script.

The page works in two ways:

* without JavaScript it is a plain ``GET /?q=...`` form and the server
  renders the results into the table (every text escaped with
  :func:`html.escape`);
* with JavaScript (``/mojifinder.js``, served separately so the page's
  Content-Security-Policy can forbid inline scripts) it searches as you type,
  debounced, through ``/search``, and builds rows with ``textContent`` only,
  so a result can never be read as markup.

Clicking a character copies it to the clipboard.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from awaitkit.find import QueryResult

__all__ = ["CSP", "PAGE_LIMIT", "SCRIPT", "render_page"]

PAGE_LIMIT = 200  # rows shown on the page; the caption says how many matched
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

_HEAD = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mojifinder</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 48rem; padding: 0 1rem; }
  h1 { font-weight: 600; }
  form { display: flex; gap: .5rem; }
  input[type=search] { flex: 1; font-size: 1.2rem; padding: .4rem .6rem; }
  button { font-size: 1rem; padding: .4rem .9rem; }
  #caption { color: #555; margin: .8rem 0; min-height: 1.2em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .25rem .6rem; border-bottom: 1px solid #eee; }
  td.code { font-family: ui-monospace, monospace; color: #666; white-space: nowrap; }
  td.char { font-size: 1.8rem; cursor: copy; text-align: center; }
  td.char:hover { background: #f3f3ff; }
  #copied { position: fixed; bottom: 1rem; right: 1rem; background: #222; color: #fff;
            padding: .4rem .8rem; border-radius: .3rem; visibility: hidden; }
  #copied.shown { visibility: visible; }
</style>
</head>
<body>
<h1>Mojifinder</h1>
<form id="search" action="/" method="get" role="search">
  <input id="q" name="q" type="search" maxlength="200" autofocus autocomplete="off"
         placeholder="words of a character name: cat face, arrow, sign..." aria-label="query"
         value="{value}">
  <button type="submit">Search</button>
</form>
<p id="caption" aria-live="polite">{caption}</p>
<table>
<thead><tr><th>code point</th><th>char</th><th>name</th></tr></thead>
<tbody id="results">
"""

_TAIL = """\
</tbody>
</table>
<div id="copied" role="status"></div>
<script src="/mojifinder.js" defer></script>
</body>
</html>
"""

_HEAD_1, _, _rest = _HEAD.partition("{value}")
_HEAD_2, _, _HEAD_3 = _rest.partition("{caption}")

SCRIPT = """\
"use strict";
(() => {
  const form = document.getElementById("search");
  const input = document.getElementById("q");
  const caption = document.getElementById("caption");
  const tbody = document.getElementById("results");
  const toast = document.getElementById("copied");
  const LIMIT = __LIMIT__;
  let timer = 0;
  let latest = 0;

  function row(item) {
    const tr = document.createElement("tr");
    for (const [cls, text] of [["code", item.code], ["char", item.char], ["name", item.name]]) {
      const td = document.createElement("td");
      td.className = cls;
      td.textContent = text;            // never innerHTML: results are data
      if (cls === "char") td.title = "click to copy";
      tr.appendChild(td);
    }
    return tr;
  }

  function describe(total, shown) {
    if (total === 0) return "no match";
    if (shown < total) return `first ${shown} of ${total} found`;
    return total === 1 ? "1 found" : `${total} found`;
  }

  async function search(query) {
    const ticket = ++latest;
    const url = new URL("/search", location.href);
    url.searchParams.set("q", query);
    url.searchParams.set("limit", String(LIMIT));
    let items = [], total = 0, message = "";
    try {
      const response = await fetch(url);
      const body = await response.json();
      if (response.ok) {
        items = body;
        total = Number(response.headers.get("x-total-count") ?? items.length);
      } else {
        message = typeof body.detail === "string" ? body.detail : "invalid query";
      }
    } catch (err) {
      message = "search failed";
    }
    if (ticket !== latest) return;      // a newer query already answered
    tbody.replaceChildren(...items.map(row));
    caption.textContent = message || describe(total, items.length);
    history.replaceState(null, "", query ? `/?q=${encodeURIComponent(query)}` : "/");
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    const query = input.value.trim();
    if (!query) {
      latest++;
      tbody.replaceChildren();
      caption.textContent = "";
      return;
    }
    timer = setTimeout(() => search(query), 150);
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    const query = input.value.trim();
    if (query) search(query);
  });

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (err) {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    toast.textContent = `copied ${text}`;
    toast.classList.add("shown");
    setTimeout(() => toast.classList.remove("shown"), 1200);
  }

  tbody.addEventListener("click", (event) => {
    const cell = event.target.closest("td.char");
    if (cell) copy(cell.textContent);
  });
})();
""".replace("__LIMIT__", str(PAGE_LIMIT))


def caption_for(result: QueryResult) -> str:
    """The count caption: ``3 found``, ``first 200 of 3358 found`` or ``no match``."""
    shown = len(result.matches)
    if result.total == 0:
        return "no match"
    if shown < result.total:
        return f"first {shown} of {result.total} found"
    return f"{result.total} found"


def render_page(
    query: str = "", result: QueryResult | None = None, error: str = ""
) -> str:
    """The whole page; with ``result``, its rows rendered server-side (escaped)."""
    caption = error or (caption_for(result) if result is not None else "")
    # One pass over fixed pieces: a query containing "{caption}" stays text.
    head = _HEAD_1 + escape(query, quote=True) + _HEAD_2 + escape(caption) + _HEAD_3
    rows: list[str] = []
    if result is not None:
        rows.extend(
            f'<tr><td class="code">{escape(m.code)}</td>'
            f'<td class="char" title="click to copy">{escape(m.char)}</td>'
            f'<td class="name">{escape(m.name)}</td></tr>\n'
            for m in result.matches
        )
    return head + "".join(rows) + _TAIL
