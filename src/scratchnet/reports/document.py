"""A small report writer: one Document rendered as Markdown and as a self-contained HTML page.

The HTML embeds every figure as a base64 PNG and carries its own few lines of CSS: no external
script, stylesheet or font, so the page opens offline and can be attached or archived as one
file. The Markdown links the same PNGs by their path relative to the report folder.
Inline markup understood in text: `code` and **bold**.
"""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from scratchnet.files import write_text

CSS = """body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #bbb;padding:.25rem .5rem}
th{background:#eee}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1rem 0}img{max-width:100%}figcaption{color:#555;font-size:.9rem}
code{background:#f3f3f3;padding:0 .2rem}"""


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool] | None = None  # right-align these columns


@dataclass
class Figure:
    path: Path  # PNG file
    caption: str


@dataclass
class Document:
    """Headings, paragraphs, tables and figures, in order; render with to_markdown / to_html."""

    title: str
    blocks: list[tuple[str, object]] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("heading", (level, text)))

    def paragraph(self, text: str) -> None:
        self.blocks.append(("paragraph", text))

    def bullets(self, items: list[str]) -> None:
        self.blocks.append(("bullets", list(items)))

    def table(self, header: list[str], rows: list[list[object]], numeric: list[bool] | None = None) -> None:
        cells = [[_cell(v) for v in row] for row in rows]
        if numeric is None:  # numeric: every cell but the "-" (missing) ones parses as a number
            numeric = [_numeric_column([r[i] for r in cells]) for i in range(len(header))]
        self.blocks.append(("table", Table(list(header), cells, numeric)))

    def figure(self, path: str | os.PathLike, caption: str) -> None:
        self.blocks.append(("figure", Figure(Path(path), caption)))

    def to_markdown(self, relative_to: Path) -> str:
        out = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "heading":
                level, text = value
                out += ["#" * level + " " + text, ""]
            elif kind == "paragraph":
                out += [value, ""]
            elif kind == "bullets":
                out += [f"- {item}" for item in value] + [""]
            elif kind == "table":
                out += _markdown_table(value) + [""]
            elif kind == "figure":
                rel = os.path.relpath(value.path, relative_to).replace(os.sep, "/")
                out += [f"![{value.caption}]({rel})", "", f"*{value.caption}*", ""]
        return "\n".join(out).rstrip() + "\n"

    def to_html(self) -> str:
        out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
               f"<title>{html.escape(self.title)}</title>", f"<style>{CSS}</style></head><body>",
               f"<h1>{_inline(self.title)}</h1>"]
        for kind, value in self.blocks:
            if kind == "heading":
                level, text = value
                out.append(f"<h{level}>{_inline(text)}</h{level}>")
            elif kind == "paragraph":
                out.append(f"<p>{_inline(value)}</p>")
            elif kind == "bullets":
                out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in value) + "</ul>")
            elif kind == "table":
                out.append(_html_table(value))
            elif kind == "figure":
                data = base64.b64encode(value.path.read_bytes()).decode("ascii")
                alt = html.escape(value.caption, quote=True)
                out.append(f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">'
                           f"<figcaption>{_inline(value.caption)}</figcaption></figure>")
        out.append("</body></html>")
        return "\n".join(out) + "\n"

    def write(self, directory: str | os.PathLike, stem: str) -> tuple[Path, Path]:
        """Write <directory>/<stem>.md and <stem>.html atomically; returns both paths."""
        directory = Path(directory)
        md, page = directory / f"{stem}.md", directory / f"{stem}.html"
        write_text(md, self.to_markdown(directory))
        write_text(page, self.to_html())
        return md, page


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _numeric_column(cells: list[str]) -> bool:
    present = [c for c in cells if c != "-"]
    return bool(present) and all(_is_number(c) for c in present)


def _is_number(text: str) -> bool:
    try:
        float(text.rstrip("%"))
    except ValueError:
        return False
    return True


def _markdown_table(table: Table) -> list[str]:
    align = ["---:" if num else "---" for num in table.numeric]
    escape = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(escape(h) for h in table.header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in table.rows]
    return lines


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{_inline(h)}</th>" for h in table.header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{_inline(c)}</td>' if num else f"<td>{_inline(c)}</td>"
                         for c, num in zip(row, table.numeric)) + "</tr>"
        for row in table.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _inline(text: str) -> str:
    """Escape, then turn `code` and **bold** into tags."""
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
