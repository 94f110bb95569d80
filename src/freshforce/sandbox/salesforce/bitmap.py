"""Field bitmaps of change event headers: ``changedFields`` and kin, as Salesforce sends them.

Element 0 is ``"0x…"``: bit *i* (least significant bit = 0) names top-level ``schema.fields[i]``.
Further elements ``"<parentIndex>-0x…"`` apply the same rule to the nested record of the compound
field at ``parentIndex`` and name ``Parent.Child``. Hex digits are upper case and always an even
number, because the Java sample parses them in pairs into bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["BitmapLayout", "decode_bitmap", "encode_bitmap"]


@dataclass(frozen=True)
class BitmapLayout:
    """The names a bitmap indexes: top-level fields, and each compound's parts by its index."""

    fields: tuple[str, ...]
    parts: dict[int, tuple[str, ...]]

    def knows(self, path: str) -> bool:
        """Whether ``path`` names a field (or compound part) of this layout."""
        head, _, child = path.partition(".")
        if head not in self.fields:
            return False
        return not child or child in self.parts.get(self.fields.index(head), ())

    def path_bits(self, path: str) -> tuple[int | None, int]:
        """Return ``(parent index or None, bit)`` for ``Name`` or ``Parent.Child``."""
        head, _, child = path.partition(".")
        try:
            index = self.fields.index(head)
        except ValueError:
            raise ValueError(f"bitmap: {path!r} is not a field of this schema") from None
        if not child:
            return None, index
        parts = self.parts.get(index, ())
        if child not in parts:
            raise ValueError(f"bitmap: {path!r}: {head} has no part {child!r}")
        return index, parts.index(child)


def _hex(bits: int) -> str:
    digits = f"{bits:X}"
    if len(digits) % 2:
        digits = "0" + digits
    return "0x" + digits


def encode_bitmap(layout: BitmapLayout, paths: Iterable[str]) -> list[str]:
    """Encode field paths as Salesforce's bitmap strings; no paths give an empty list."""
    top = 0
    nested: dict[int, int] = {}
    seen = False
    for path in paths:
        seen = True
        parent, bit = layout.path_bits(path)
        if parent is None:
            top |= 1 << bit
        else:
            nested[parent] = nested.get(parent, 0) | 1 << bit
    if not seen:
        return []
    return [_hex(top)] + [f"{parent}-{_hex(bits)}" for parent, bits in sorted(nested.items())]


def _parse_hex(text: str, where: str) -> int:
    if not text.startswith("0x"):
        raise ValueError(f"bitmap: {where} {text!r} does not start with '0x'")
    try:
        return int(text, 16)
    except ValueError:
        raise ValueError(f"bitmap: {where} {text!r} is not hexadecimal") from None


def _names(bits: int, names: Sequence[str], prefix: str, where: str) -> list[str]:
    found = []
    index = 0
    while bits:
        if bits & 1:
            if index >= len(names):
                raise ValueError(f"bitmap: {where} sets bit {index}; the record has {len(names)}")
            found.append(prefix + names[index])
        bits >>= 1
        index += 1
    return found


def decode_bitmap(layout: BitmapLayout, bitmap: Sequence[str]) -> list[str]:
    """Decode bitmap strings back into field paths, top-level first, in schema order."""
    if not bitmap:
        return []
    paths = _names(_parse_hex(bitmap[0], "element 0"), layout.fields, "", "element 0")
    for element in bitmap[1:]:
        parent_text, sep, hex_text = element.partition("-")
        if not sep or not parent_text.isdigit():
            raise ValueError(f"bitmap: element {element!r} is not '<parentIndex>-0x…'")
        parent = int(parent_text)
        if parent not in layout.parts:
            raise ValueError(f"bitmap: element {element!r}: field {parent} is not a compound")
        prefix = layout.fields[parent] + "."
        paths += _names(_parse_hex(hex_text, element), layout.parts[parent], prefix, element)
    return paths
