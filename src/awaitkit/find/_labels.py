"""What to call a code point: its Unicode name, or its code point label.

Its own module because listings of ranges need it without the property data
(fontTools) that :mod:`awaitkit.find._props` loads.
"""

from __future__ import annotations

__all__ = ["code_label"]


def code_label(code: int) -> str:
    """The Unicode name, or the code point label for unnamed code points.

    Labels are the standard's (Unicode chapter 4.8): ``<control-0007>``,
    ``<surrogate-D800>``, ``<private-use-E000>``, ``<noncharacter-FFFE>``,
    ``<reserved-0378>``.
    """
    from awaitkit.find._ucd import ucd

    char = chr(code)
    name = str(ucd.name(char, ""))
    if name:
        return name
    category = ucd.category(char)
    kind = {"Cc": "control", "Cs": "surrogate", "Co": "private-use"}.get(category)
    if kind is None:
        noncharacter = 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE
        kind = "noncharacter" if noncharacter else "reserved"
    return f"<{kind}-{code:04X}>"
