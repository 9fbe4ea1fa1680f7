"""The data set: every ISO 3166-1 country, its metadata, and its export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from awaitkit.flags import (
    build_dataset,
    country_codes,
    country_name,
    export_dataset,
    metadata,
)


def test_country_codes_are_sorted_upper_case_and_many() -> None:
    """At least 190 sorted, unique upper-case alpha-2 codes (the book has 194)."""
    codes = country_codes()
    assert len(codes) >= 190
    assert codes == sorted(set(codes))
    assert all(len(cc) == 2 and cc.isascii() and cc.isupper() for cc in codes)
    assert {"BR", "CN", "IN", "US", "GB", "NG"} <= set(codes)


def test_country_name_any_case() -> None:
    """Names come from pycountry, common names preferred; unknown codes raise."""
    assert country_name("br") == "Brazil"
    assert country_name("TW") == "Taiwan"
    with pytest.raises(KeyError):
        country_name("XX")


def test_metadata_fields_and_tld_exception() -> None:
    """metadata.json has tld_cc, iso_cc and country; Britain's TLD is .uk."""
    assert metadata("br") == {"tld_cc": ".br", "iso_cc": "BR", "country": "Brazil"}
    assert metadata("GB")["tld_cc"] == ".uk"


def test_dataset_has_a_gif_and_metadata_per_country() -> None:
    """Two files per country, with the right types and parseable JSON."""
    files = build_dataset()
    assert len(files) == 2 * len(country_codes())
    gif = files["flags/br/br.gif"]
    assert gif.body.startswith(b"GIF89a")
    assert gif.content_type == "image/gif"
    meta = files["flags/gb/metadata.json"]
    assert json.loads(meta.body)["country"] == "United Kingdom"
    assert meta.content_type == "application/json"
    assert build_dataset() is files  # built once per process


def test_export_writes_the_same_bytes(tmp_path: Path) -> None:
    """export_dataset writes the bytes the server sends."""
    root = export_dataset(tmp_path / "out")
    files = build_dataset()
    written = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
    )
    assert written == sorted(files)
    assert (root / "flags/br/br.gif").read_bytes() == files["flags/br/br.gif"].body
