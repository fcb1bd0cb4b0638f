"""Small helpers for the self-contained HTML pages (no external assets: they work offline)."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any, Iterable

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:1.5em;margin:0 0 8px} h2{font-size:1.15em;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:.9em;background:#fff} td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0} img{image-rendering:pixelated;max-width:100%;border:1px solid #ccc;background:#fff}
.cells img{width:192px} .muted{color:#777} .warn{background:#fff4e5;border-left:4px solid #f0a020;padding:6px 10px;margin:6px 0}
.grid{display:flex;flex-wrap:wrap;gap:16px} figure{margin:0} figcaption{font-size:.85em;color:#555}
code{background:#eee;padding:1px 4px;border-radius:3px}
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def rel(path: Path, start: Path) -> str:
    """A URL-safe relative link from ``start`` (a folder) to ``path``."""
    from urllib.parse import quote

    return quote(os.path.relpath(path, start).replace(os.sep, "/"))


def page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{esc(title)}</title><link rel=\"icon\" href=\"data:,\">"
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def table(header: Iterable[Any], rows: Iterable[Iterable[Any]], raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw``."""
    cell = (lambda v: str(v)) if raw else esc
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
