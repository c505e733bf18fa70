"""User Markdown to safe HTML: markdown-it-py (CommonMark, raw HTML off), then nh3 (an allow-list sanitizer)."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")
TAGS = {"p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "table", "thead", "tbody", "tr", "th", "td"}


def render(text: str) -> Markup:
    """HTML safe to put in a page: no scripts, no event handlers, no styles, links only http(s)/mailto."""
    html = _md.render(text or "")
    clean = nh3.clean(html, tags=TAGS, attributes={"a": {"href", "title"}}, url_schemes={"http", "https", "mailto"},
                      link_rel="nofollow noopener noreferrer")
    return Markup(clean)  # noqa: S704 - sanitized by nh3 just above
