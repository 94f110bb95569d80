"""Server-rendered SVG sparklines: a few numbers per minute drawn as lines, no JavaScript.

``sparkline`` returns inline SVG markup for a template; every series shares one vertical scale
(zero at the bottom, the largest value at the top), and the picture carries a text summary for
screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Line", "sparkline"]

_PAD = 2.0


@dataclass(frozen=True)
class Line:
    """One series: its name (for the summary), its values and its CSS colour."""

    name: str
    values: Sequence[int | float]
    colour: str


def _points(values: Sequence[int | float], width: float, height: float, top: float) -> str:
    step = (width - 2 * _PAD) / max(len(values) - 1, 1)
    scale = (height - 2 * _PAD) / top
    return " ".join(
        f"{_PAD + i * step:.1f},{height - _PAD - v * scale:.1f}" for i, v in enumerate(values)
    )


def sparkline(title: str, lines: Sequence[Line], *, width: int = 240, height: int = 48) -> Markup:
    """Return an inline SVG of ``lines`` with ``title`` and each line's last and largest value."""
    top = max((max(line.values, default=0) for line in lines), default=0) or 1
    summary = "; ".join(
        f"{line.name}: now {line.values[-1] if line.values else 0:g}, "
        f"most {max(line.values, default=0):g}"
        for line in lines
    )
    label = f"{title} ({summary})"
    head = (
        f'<svg class="sparkline" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
    )
    parts = [head]
    parts += [
        f'<polyline fill="none" stroke="{escape(line.colour)}" stroke-width="1.5" '
        f'data-series="{escape(line.name)}" points="{_points(line.values, width, height, top)}"/>'
        for line in lines
        if line.values
    ]
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built above from numbers and escaped text
