"""The overview's SVG sparklines: shared scale, escaped text, a summary for screen readers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from freshforce.web.sparkline import Line, sparkline

SVG = "{http://www.w3.org/2000/svg}"


def _points(svg: str, series: str) -> list[tuple[float, float]]:
    root = ET.fromstring(svg)  # noqa: S314 - parsing our own output
    [line] = [p for p in root.iter(f"{SVG}polyline") if p.get("data-series") == series]
    return [tuple(map(float, pair.split(","))) for pair in line.get("points", "").split()]  # type: ignore[misc]


def test_lines_share_one_scale_with_zero_at_the_bottom() -> None:
    svg = sparkline("Jobs", [Line("done", [0, 5, 10], "green"), Line("failed", [5, 0, 0], "red")])
    done, failed = _points(svg, "done"), _points(svg, "failed")
    assert [x for x, _ in done] == [2.0, 120.0, 238.0]
    assert [y for _, y in done] == [46.0, 24.0, 2.0]  # 0 at the bottom, the largest at the top
    assert failed[0][1] == done[1][1]  # 5 is drawn at one height on both lines


def test_summary_and_escaping() -> None:
    svg = sparkline("<Queue> & co", [Line("waiting", [3, 7, 2], "#123")])
    assert 'aria-label="&lt;Queue&gt; &amp; co (waiting: now 2, most 7)"' in svg
    assert "<Queue>" not in svg


def test_all_zero_and_empty_series_draw_without_dividing_by_zero() -> None:
    flat = sparkline("Flat", [Line("done", [0] * 60, "green")])
    assert {y for _, y in _points(flat, "done")} == {46.0}
    empty = sparkline("Empty", [Line("done", [], "green")])
    assert "polyline" not in empty
    assert re.search(r"now 0, most 0", empty)
