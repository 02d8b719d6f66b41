"""Charts for the bureau pages: SVG drawn on the server by `leather` (no script, no
style sheet inside, only presentation attributes, so the pages' CSP holds), made to
scale with the page and labelled for screen readers. Every chart sits beside a table
of the same figures, each a link to the cases behind it."""

from __future__ import annotations

import html
import re

import leather
from markupsafe import Markup

FONT = "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, sans-serif"
BLUE = "#0b5394"
_SIZE = re.compile(r'^<svg width="([\d.]+)" height="([\d.]+)"')


def _theme() -> None:
    # leather keeps its theme in module globals; the same values every time
    for name in ("tick_font_family", "title_font_family", "legend_font_family", "axis_title_font_family"):
        setattr(leather.theme, name, FONT)
    leather.theme.background_color = "#ffffff"
    leather.theme.tick_font_char_width = 14  # CJK labels are about one em wide
    leather.theme.default_series_colors = [BLUE]


def bar_chart(label: str, bars: list[tuple[str, float]], *, width: int = 640) -> Markup:
    """Horizontal bars, one per (name, value), in the order given."""
    _theme()
    if not bars:
        return Markup("")
    chart = leather.Chart()
    chart.add_bars([(value, name) for name, value in bars])
    svg = chart.to_svg(width=width, height=40 + 28 * len(bars))
    svg = _SIZE.sub(lambda m: (f'<svg viewBox="0 0 {m.group(1)} {m.group(2)}" class="chart" role="img" '
                               f'aria-label="{html.escape(label)}" preserveAspectRatio="xMinYMin meet"'), svg, count=1)
    return Markup(svg)  # noqa: S704  (leather's own markup; the labels it draws are escaped by it)
