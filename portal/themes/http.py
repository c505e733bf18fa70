"""HTTP answers the theme's files share (pages and the API): ETag and 304, cache lifetimes, nosniff."""

from __future__ import annotations

from flask import Response, request

YEAR = 365 * 24 * 3600


def conditional_css(text: str, etag: str, *, immutable: bool, private: bool) -> Response:
    """text/css with an ETag; 304 when the browser holds it. A versioned URL is cached for a year, others revalidate."""
    return conditional_text(text, "text/css", etag, immutable=immutable, private=private)


def conditional_js(text: str, etag: str, *, immutable: bool) -> Response:
    """An org's script: application/javascript, private to its members, with an ETag (cached as the stylesheet is)."""
    return conditional_text(text, "application/javascript", etag, immutable=immutable, private=True)


def conditional_text(text: str, mimetype: str, etag: str, *, immutable: bool, private: bool) -> Response:
    """A theme file with an ETag and 304; a versioned URL is cached for a year, others revalidate; never sniffed."""
    scope = "private" if private else "public"
    cache = f"{scope}, max-age={YEAR}, immutable" if immutable else f"{scope}, no-cache"
    response = Response(text, mimetype=mimetype)
    response.set_etag(etag)
    response.headers.update({"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})
    return response.make_conditional(request)


def asset_response(data: bytes, content_type: str, etag: str) -> Response:
    """An uploaded file under its content-hashed name: cached for a year, never sniffed as another type."""
    response = Response(data, mimetype=content_type)
    response.set_etag(etag)
    response.headers.update({
        "Cache-Control": f"public, max-age={YEAR}, immutable",
        "X-Content-Type-Options": "nosniff",
        # An SVG opened on its own is a document: it may run nothing and load nothing (the route's CSP says so too).
        "Content-Disposition": "inline",
        "Cross-Origin-Resource-Policy": "same-site",
    })
    return response.make_conditional(request)
