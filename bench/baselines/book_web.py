"""The book's web Mojifinder (Fluent Python 2e, ch. 21 ``web_mojifinder.py``), as a baseline.

As the book wrote it: a module-level app whose index is built at import,
``/search`` returning a generator that FastAPI validates against
``list[CharName]`` item by item.  The page is the book's idea in one line.

    uvicorn --app-dir bench/baselines book_web:app --port 8000
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from awaitkit.find import InvertedIndex

# The book imports unicodedata.name; the index here is built from the same
# (possibly newer) Unicode database as awaitkit's, so names come from there too.
from awaitkit.find._ucd import ucd

name = ucd.name

app = FastAPI(
    title="Mojifinder Web",
    description="Search for Unicode characters by name.",
)


class CharName(BaseModel):
    """The book's response model."""

    char: str
    name: str


def init(app: FastAPI) -> None:
    """Build the index at import time, as the book does."""
    app.state.index = InvertedIndex()
    app.state.form = "<html><body><form><input name=q></form></body></html>"


init(app)


@app.get("/search", response_model=list[CharName])
async def search(q: str):  # type: ignore[no-untyped-def]  # the book's signature
    """The book's handler: sorted chars, a generator of dicts."""
    chars = sorted(app.state.index.search(q))
    return ({"char": c, "name": name(c)} for c in chars)


@app.get("/", response_class=HTMLResponse, include_in_schema=False)
def form() -> str:
    """The page."""
    return app.state.form  # type: ignore[no-any-return]
