"""One self-contained HTML page: inline CSS, figures embedded as base64 SVG data URIs, no scripts,
no fonts or anything else fetched from a network; it opens offline in any browser.

The page lays out the analyses of Yue et al. 2025 (arXiv 2504.13837) that ``build.py`` computed:
the findings table (each verdict with its 95% interval), a summary, one section per analysis, then
the configuration of every run. Every value is escaped.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from typing import Any

from rlbound.report.analyses.records import Table


@dataclass(frozen=True)
class FigureBlock:
    """A figure: ``name`` is the file stem under figures/, ``svg`` the SVG bytes embedded."""

    name: str
    svg: bytes
    caption: str
    alt: str


@dataclass(frozen=True)
class NoteBlock:
    """A one-line note (an analysis a run lacks data for, a caveat)."""

    text: str


@dataclass(frozen=True)
class TableBlock:
    table: Table


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    intro: str
    blocks: tuple[FigureBlock | NoteBlock | TableBlock, ...]


@dataclass(frozen=True)
class Page:
    title: str
    subtitle: str
    summary: tuple[str, ...]
    config: Table
    sections: tuple[Section, ...]
    colors: dict[str, str] = field(default_factory=dict)
    footer: str = ""
    findings: Table | None = None


_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1b1b1b;
 background:#fff;margin:0;line-height:1.45}
main{max-width:1120px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:1.6em;margin:.2em 0}
h2{font-size:1.25em;margin-top:2em;padding-bottom:.2em;border-bottom:2px solid #e3e3e3}
.subtitle{color:#555;margin-top:0}
figure{margin:1em 0;text-align:center}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.88em;color:#444;margin-top:.3em}
table{border-collapse:collapse;margin:.4em 0 .8em;font-size:.9em}
.tcap{font-weight:600;margin-top:1em;color:#333;font-size:.92em}
.twrap{overflow-x:auto}
th,td{border:1px solid #d6d6d6;padding:.28em .6em;text-align:right;vertical-align:top}
th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
td.text{text-align:left;max-width:28em;overflow-wrap:anywhere}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.35em .8em;margin:.5em 0;font-size:.92em}
.summary li{margin:.2em 0}
.swatch{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:.35em;vertical-align:-.1em}
details{margin:.3em 0;font-size:.88em}
details code{overflow-wrap:anywhere}
.ids{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em;color:#333}
pre{white-space:pre-wrap;font-size:.85em;background:#f7f7f7;padding:.5em;max-width:60em}
footer{color:#777;font-size:.82em;margin-top:3em}
"""


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def format_cell(value: Any, percent: bool) -> str:
    """Text of a table cell: fractions x100 with one decimal in percent columns, intervals as
    [low, high], floats to 4 significant digits, None as an en dash."""
    if value is None:
        return "\u2013"
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return f"[{format_cell(value[0], percent)}, {format_cell(value[1], percent)}]"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{100.0 * value:.1f}" if percent else f"{value:.4g}"
    return str(value)


def render_table(table: Table, colors: dict[str, str] | None = None) -> str:
    """A <table> (with caption) and one <details> per id list."""
    colors = colors or {}
    out = [f'<div class="tcap">{_esc(table.caption)}</div><div class="twrap"><table id="table-{_esc(table.key)}">'
           "<thead><tr>"]
    out += [f"<th>{_esc(h)}</th>" for h in table.headers]
    out.append("</tr></thead><tbody>")
    for row in table.rows:
        out.append("<tr>")
        for j, cell in enumerate(row):
            text = _esc(format_cell(cell, j in table.percent_columns))
            if j == 0 and isinstance(cell, str) and cell in colors:
                text = f'<span class="swatch" style="background:{_esc(colors[cell])}"></span>{text}'
            cls = ' class="text"' if isinstance(cell, str) and j > 0 else ""
            out.append(f"<td{cls}>{text}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    for title, ids in table.details:
        out.append(f'<details><summary>{_esc(title)}</summary><p class="ids">{_esc(", ".join(ids))}</p></details>')
    return "".join(out)


def render_figure(fig: FigureBlock) -> str:
    data = base64.b64encode(fig.svg).decode("ascii")
    return (f'<figure id="fig-{_esc(fig.name)}"><img src="data:image/svg+xml;base64,{data}" alt="{_esc(fig.alt)}">'
            f"<figcaption>{_esc(fig.caption)} <span class=\"ids\">(figures/{_esc(fig.name)}.svg, .png)</span>"
            "</figcaption></figure>")


def render_section(sec: Section, colors: dict[str, str]) -> str:
    out = [f'<section id="{_esc(sec.id)}"><h2>{_esc(sec.title)}</h2>']
    if sec.intro:
        out.append(f"<p>{_esc(sec.intro)}</p>")
    for b in sec.blocks:
        if isinstance(b, FigureBlock):
            out.append(render_figure(b))
        elif isinstance(b, TableBlock):
            out.append(render_table(b.table, colors))
        elif isinstance(b, NoteBlock):
            out.append(f'<p class="note">{_esc(b.text)}</p>')
        else:
            raise TypeError(f"unknown block {type(b).__name__}")
    out.append("</section>")
    return "".join(out)


def render_page(page: Page) -> str:
    """The whole report as one HTML string (UTF-8, no external references)."""
    legend = " ".join(f'<span><span class="swatch" style="background:{_esc(c)}"></span>{_esc(lab)}</span>'
                      for lab, c in page.colors.items())
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(page.title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_esc(page.title)}</h1><p class=\"subtitle\">{_esc(page.subtitle)}</p>",
        f"<p>Runs: {legend}</p>" if legend else "",
        ('<section id="findings"><h2>Findings</h2>' + render_table(page.findings) + "</section>"
         if page.findings is not None and page.findings.rows else ""),
        '<section id="summary"><h2>Summary</h2><ul class="summary">',
        "".join(f"<li>{_esc(s)}</li>" for s in page.summary),
        "</ul></section>",
        "".join(render_section(s, page.colors) for s in page.sections),
        '<section id="config"><h2>Runs and their configuration</h2>',
        render_table(page.config, page.colors),
        "</section>",
        f"<footer>{_esc(page.footer)}</footer>" if page.footer else "",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p)
