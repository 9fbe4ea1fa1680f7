"""The Mojifinder web page: server-rendered HTML plus a small script.

The page works in two ways:

* without JavaScript it is a plain ``GET /?q=...`` form and the server
  renders the results into the table (every text escaped with
  :func:`html.escape`);
* with JavaScript (``/mojifinder.js``, served separately so the page's
  Content-Security-Policy can forbid inline scripts) it searches as you type,
  debounced, through ``/search``, and builds rows with ``textContent`` only,
  so a result can never be read as markup.

Clicking a character copies it to the clipboard; so does Enter, after the
arrow keys (or Page Up/Down, Home/End) moved the selection through the
results, and a "copied" note shows what was copied.  A result may be an emoji
sequence: its code column lists every code point, and a result found by a
CLDR keyword or a name alias rather than by its name carries a small mark.
The character column declares the platforms' colour-emoji fonts first.  The
page follows the browser's language: when the server's index supports
``lang`` it names the languages in ``<body data-langs>``, and the script
sends ``navigator.language``'s primary subtag when it is one of them.
"""

from __future__ import annotations

from collections.abc import Iterable
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
  td.char { font-size: 1.8rem; cursor: copy; text-align: center;
            font-family: "Noto Color Emoji", "Apple Color Emoji", "Segoe UI Emoji",
                         system-ui, sans-serif; }
  td.char:hover { background: #f3f3ff; }
  tr.selected td { background: #e4e4ff; }
  tr.kind-sequence td.code { white-space: normal; }
  .via { font-size: .75rem; color: #555; border: 1px solid #bbb; border-radius: .3rem;
         padding: 0 .3rem; margin-left: .5rem; }
  #keys { color: #777; font-size: .85rem; }
  #copied { position: fixed; bottom: 1rem; right: 1rem; background: #222; color: #fff;
            padding: .4rem .8rem; border-radius: .3rem; visibility: hidden; }
  #copied.shown { visibility: visible; }
</style>
</head>
<body data-langs="{langs}">
<h1>Mojifinder</h1>
<form id="search" action="/" method="get" role="search">
  <input id="q" name="q" type="search" maxlength="200" autofocus autocomplete="off"
         placeholder="words of a character name: cat face, arrow, sign..." aria-label="query"
         value="{value}">
  <button type="submit">Search</button>
</form>
<p id="caption" aria-live="polite">{caption}</p>
<p id="keys">Arrow keys choose a result, Enter copies it.</p>
<table>
<thead><tr><th>code points</th><th>char</th><th>name</th></tr></thead>
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

_HEAD_0, _, _rest = _HEAD.partition("{langs}")
_HEAD_1, _, _rest = _rest.partition("{value}")
_HEAD_2, _, _HEAD_3 = _rest.partition("{caption}")
# A result found by one of these carries a mark (how it matched is not obvious).
_MARKED = ("keyword", "alias")

SCRIPT = """\
"use strict";
(() => {
  const form = document.getElementById("search");
  const input = document.getElementById("q");
  const caption = document.getElementById("caption");
  const tbody = document.getElementById("results");
  const toast = document.getElementById("copied");
  const LIMIT = __LIMIT__;
  const MARKED = ["keyword", "alias"];
  // The browser's language, sent when the server's index searches in it.
  const langs = (document.body.dataset.langs || "").split(" ").filter(Boolean);
  const primary = (navigator.language || "").toLowerCase().split("-")[0];
  const lang = langs.includes(primary) ? primary : "";
  let timer = 0;
  let latest = 0;
  let selected = -1;

  function row(item) {
    const tr = document.createElement("tr");
    tr.className = `kind-${item.kind} via-${item.via}`;
    for (const [cls, text] of [["code", item.code], ["char", item.char], ["name", item.name]]) {
      const td = document.createElement("td");
      td.className = cls;
      td.textContent = text;            // never innerHTML: results are data
      if (cls === "char") td.title = "click to copy";
      if (cls === "name" && MARKED.includes(item.via)) {
        const mark = document.createElement("span");
        mark.className = "via";
        mark.textContent = item.via;
        td.append(" ", mark);
      }
      tr.appendChild(td);
    }
    return tr;
  }

  function rows() {
    return tbody.querySelectorAll("tr");
  }

  function select(index) {
    const old = tbody.querySelector("tr.selected");
    if (old) {
      old.classList.remove("selected");
      old.removeAttribute("aria-selected");
      old.removeAttribute("id");
    }
    const all = rows();
    selected = index >= 0 && index < all.length ? index : -1;
    if (selected < 0) {
      input.removeAttribute("aria-activedescendant");
      return;
    }
    const tr = all[selected];
    tr.id = "selected-result";
    tr.classList.add("selected");
    tr.setAttribute("aria-selected", "true");
    input.setAttribute("aria-activedescendant", tr.id);
    tr.scrollIntoView({ block: "nearest" });
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
    if (lang) url.searchParams.set("lang", lang);
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
    select(-1);
    tbody.replaceChildren(...items.map(row));
    caption.textContent = message || describe(total, items.length);
    history.replaceState(null, "", query ? `/?q=${encodeURIComponent(query)}` : "/");
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    select(-1);                         // Enter must not copy a stale result
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
    const all = rows();
    if (selected >= 0 && selected < all.length) {
      copy(all[selected].querySelector("td.char").textContent);
      return;
    }
    const query = input.value.trim();
    if (query) search(query);
  });

  const STEPS = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 };
  input.addEventListener("keydown", (event) => {
    if (event.isComposing) return;      // an input method is still composing
    const count = rows().length;
    if (event.key in STEPS && count) {
      event.preventDefault();
      const step = STEPS[event.key];
      const target = selected < 0 ? (step > 0 ? 0 : count - 1) : selected + step;
      select(Math.max(0, Math.min(count - 1, target)));
    } else if (event.key === "Home" && selected >= 0 && count) {
      event.preventDefault();
      select(0);
    } else if (event.key === "End" && selected >= 0 && count) {
      event.preventDefault();
      select(count - 1);
    } else if (event.key === "Escape" && selected >= 0) {
      event.preventDefault();               // the first Escape only unselects
      select(-1);
    }
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
    if (!cell) return;
    select([...rows()].indexOf(cell.parentElement));
    copy(cell.textContent);
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
    query: str = "",
    result: QueryResult | None = None,
    error: str = "",
    *,
    languages: Iterable[str] = (),
) -> str:
    """The whole page; with ``result``, its rows rendered server-side (escaped).

    ``languages``: what the server's ``lang`` parameter accepts (none when
    its index does not take one); the script picks the browser's among them.
    """
    caption = error or (caption_for(result) if result is not None else "")
    # One pass over fixed pieces: a query containing "{caption}" stays text.
    head = (
        _HEAD_0
        + escape(" ".join(sorted(languages)), quote=True)
        + _HEAD_1
        + escape(query, quote=True)
        + _HEAD_2
        + escape(caption)
        + _HEAD_3
    )
    rows: list[str] = []
    if result is not None:
        for m in result.matches:
            mark = (
                f' <span class="via">{escape(m.via)}</span>' if m.via in _MARKED else ""
            )
            rows.append(
                f'<tr class="kind-{escape(m.kind, quote=True)} '
                f'via-{escape(m.via, quote=True)}">'
                f'<td class="code">{escape(m.code)}</td>'
                f'<td class="char" title="click to copy">{escape(m.char)}</td>'
                f'<td class="name">{escape(m.name)}{mark}</td></tr>\n'
            )
    return head + "".join(rows) + _TAIL
