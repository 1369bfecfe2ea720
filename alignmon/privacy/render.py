"""The pack as Markdown and as HTML: one value, two templates (alignmon/privacy/templates), Jinja2 for both."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from alignmon.privacy.pack import Pack

MARKDOWN = "privacy-pack.md"
HTML = "privacy-pack.html"
TITLE = "alignmon: works-council and DPO pack"

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md(value: object) -> str:
    """Text as Markdown shows it literally: markup characters escaped, one line (catalog names are anyone's input)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def code(value: object) -> Markup:
    """Escaped text with its `backquoted` parts as <code> (for HTML; the escaping comes first)."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(str(value)))))


def _environment(*, html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("alignmon.privacy", "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md
    env.filters["code"] = code
    return env


def markdown(pack: Pack) -> str:
    return _environment(html=False).get_template("pack.md.j2").render(pack=pack, title=TITLE)


def html(pack: Pack) -> str:
    """The HTML page: autoescaped, self-contained (inline CSS and SVG, nothing fetched)."""
    return _environment(html=True).get_template("pack.html.j2").render(pack=pack, title=TITLE)


def write(pack: Pack, out: Path) -> list[Path]:
    """Write both files into `out` (created if missing); the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in ((MARKDOWN, markdown(pack)), (HTML, html(pack))):
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
