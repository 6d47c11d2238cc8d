"""The board page's progress chart (pure): the weekly series as stacked bars in inline SVG.

Built with ElementTree, so it is well-formed XML with every text escaped. Colours are SVG
presentation attributes (the page's Content-Security-Policy allows no inline style), and
each category has a pattern as well as a colour and every bar part is labelled with its
count, so the chart reads in greyscale print and to a colour-blind reader; the page gives
the same numbers as a table.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from worker.rules.progress import CATEGORIES, LABELS, Category, Week

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH = 720  # the wide chart's drawing units; a phone's chart is drawn narrower (PHONE)
PHONE = 400
LEFT, RIGHT, TOP = 56, 16, 16  # plot margins: the y axis's labels on the left
PLOT_H = 248  # the bars' height; below them the weeks' labels, the axis title, the legend
ROW = 24  # a legend row
INK = "#0b0c0c"
# Fill colour, pattern stroke, and the count's text colour on it.
STYLE: dict[Category, tuple[str, str, str]] = {
    "completed": ("#1d70b8", "#ffffff", "#ffffff"),
    "green": ("#00703c", "#00703c", "#ffffff"),
    "amber": ("#ffbf47", "#8a4b00", INK),
    "red": ("#d4351c", "#7a1a0c", "#ffffff"),
    "none": ("#dee0e2", "#505a5f", INK),
}


def _el(parent: ET.Element, tag: str, text: str = "", **attrs: object) -> ET.Element:
    # Attribute names with "_" are SVG's "-" (font_size -> font-size).
    element = ET.SubElement(parent, tag, {k.replace("_", "-"): str(v) for k, v in attrs.items()})
    element.text = text or None
    return element


def _patterns(defs: ET.Element, ids: str) -> None:
    """One pattern per category: solid, dots, diagonal lines, cross-hatch, none (blank)."""
    for name in CATEGORIES:
        fill, stroke, _ = STYLE[name]
        pattern = _el(
            defs, "pattern", id=f"{ids}-{name}", width=8, height=8, patternUnits="userSpaceOnUse"
        )
        _el(pattern, "rect", width=8, height=8, fill=fill)
        if name == "completed":
            _el(pattern, "circle", cx=4, cy=4, r=1.5, fill=stroke)
        elif name == "amber":
            _el(pattern, "path", d="M0,8 L8,0 M-2,2 L2,-2 M6,10 L10,6", stroke=stroke)
        elif name == "red":
            _el(pattern, "path", d="M0,0 L8,8 M8,0 L0,8", stroke=stroke, stroke_width=1.5)


def nice_step(top: int) -> int:
    """A round gridline step giving at most about 6 lines up to `top`."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if top / step <= 6:
            return step
    return max(1, top // 5)


def _axes(svg: ET.Element, width: int, top: int, step: int, plot_h: float) -> None:
    right = width - RIGHT
    for value in range(0, top + 1, step):
        y = TOP + plot_h - value / top * plot_h
        _el(svg, "line", x1=LEFT, x2=right, y1=f"{y:.1f}", y2=f"{y:.1f}", stroke="#b1b4b6")
        _el(svg, "text", str(value), x=LEFT - 6, y=f"{y + 4:.1f}", text_anchor="end", font_size=12)
    _el(svg, "line", x1=LEFT, x2=LEFT, y1=TOP, y2=TOP + plot_h, stroke=INK)
    _el(svg, "line", x1=LEFT, x2=right, y1=TOP + plot_h, y2=TOP + plot_h, stroke=INK)
    middle = TOP + plot_h / 2
    _el(
        svg,
        "text",
        "Actions",
        x=14,
        y=f"{middle:.1f}",
        text_anchor="middle",
        font_size=12,
        transform=f"rotate(-90 14 {middle:.1f})",
    )


def _bars(
    svg: ET.Element, width: int, ids: str, weeks: Sequence[Week], top: int, plot_h: float
) -> None:
    slot = (width - LEFT - RIGHT) / len(weeks)
    bar_w = min(slot * 0.7, 48)
    for i, week in enumerate(weeks):
        x = LEFT + slot * i + (slot - bar_w) / 2
        base = TOP + plot_h
        group = _el(svg, "g")
        _el(group, "title", f"Week ending {week.end:%-d %B %Y}")
        for name in CATEGORIES:
            count = week.counts.get(name, 0)
            if not count:
                continue
            h = count / top * plot_h
            base -= h
            part = _el(
                group,
                "rect",
                x=f"{x:.1f}",
                y=f"{base:.1f}",
                width=f"{bar_w:.1f}",
                height=f"{h:.1f}",
                fill=f"url(#{ids}-{name})",
                stroke=INK,
                stroke_width=0.5,
            )
            _el(part, "title", f"{LABELS[name]}: {count}")
            if h >= 14:  # room for the count inside the part
                _el(
                    group,
                    "text",
                    str(count),
                    x=f"{x + bar_w / 2:.1f}",
                    y=f"{base + h / 2 + 4:.1f}",
                    text_anchor="middle",
                    font_size=11,
                    font_weight="bold",
                    fill=STYLE[name][2],
                )
        label_y = TOP + plot_h + 16
        _el(
            group,
            "text",
            f"{week.end:%-d %b}",
            x=f"{x + bar_w / 2:.1f}",
            y=label_y,
            text_anchor="middle",
            font_size=12,
        )


def legend_rows(width: int) -> list[list[tuple[float, Category]]]:
    """The legend's keys (x, category) by row: as many on a row as the width holds."""
    rows: list[list[tuple[float, Category]]] = [[]]
    x = float(LEFT)
    for name in CATEGORIES:
        size = 22 + 8 * len(LABELS[name]) + 20  # the key, its label (about 8 units a letter)
        if rows[-1] and x + size > width:
            rows.append([])
            x = float(LEFT)
        rows[-1].append((x, name))
        x += size
    return rows


def _legend(svg: ET.Element, width: int, ids: str, plot_h: float) -> None:
    y = TOP + plot_h + 36
    middle = LEFT + (width - LEFT - RIGHT) / 2
    _el(svg, "text", "Week ending", x=middle, y=y, text_anchor="middle", font_size=12)
    for row in legend_rows(width):
        y += ROW
        for x, name in row:
            _el(
                svg,
                "rect",
                x=f"{x:.1f}",
                y=y - 6,
                width=16,
                height=16,
                fill=f"url(#{ids}-{name})",
                stroke=INK,
                stroke_width=0.5,
            )
            _el(svg, "text", LABELS[name], x=f"{x + 22:.1f}", y=y + 7, font_size=13)


def progress_svg(weeks: Sequence[Week], width: int = WIDTH, ids: str = "fill") -> str:
    """The series as an <svg> element for an HTML page (no XML declaration), `width` units
    wide (the height follows); `ids` prefixes its patterns' ids, unique on the page."""
    height = TOP + PLOT_H + 36 + ROW * len(legend_rows(width)) + 16
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "viewBox": f"0 0 {width} {height}",
            "width": "100%",
            "role": "img",
            "aria-labelledby": f"{ids}-title",
            "font-family": "system-ui, Arial, sans-serif",
            "fill": INK,
        },
    )
    first, last = (weeks[0].end, weeks[-1].end) if weeks else (None, None)
    span = f" from {first:%-d %B %Y} to {last:%-d %B %Y}" if first and last else ""
    _el(
        svg,
        "title",
        f"Actions completed, Green, Amber, Red and with no return at the end of each week{span}",
        id=f"{ids}-title",
    )
    _patterns(_el(svg, "defs"), ids)
    top = max((w.total for w in weeks), default=0) or 1
    step = nice_step(top)
    top = -(-top // step) * step  # the axis ends on a gridline
    _axes(svg, width, top, step, PLOT_H)
    if weeks:
        _bars(svg, width, ids, weeks, top, PLOT_H)
    _legend(svg, width, ids, PLOT_H)
    return ET.tostring(svg, encoding="unicode")
