"""The attack corpus: custom CSS and SVG that try to run code, load outside files or read a member's CSRF token.
Every entry is refused (with its line and column) or neutralized (what is served holds none of it)."""

from __future__ import annotations

import pytest

from portal.themes.css import CSSRefused, sanitize
from portal.themes.svg import SVGRefused, sanitize_svg

OWN = "/api/v1/themes/org_acme/assets/0123456789abcdef0123456789abcdef.png"


def own(url: str) -> bool:
    return url == OWN


# (name, css, line, column of the first refusal)
CSS_REFUSED = [
    ("import", '@import url("https://evil.test/x.css");', 1, 1),
    ("import, escaped", "@\\69mport url(x.css);", 1, 1),
    ("import, string", '@import "x.css";', 1, 1),
    ("import, inside media", "@media screen {\n  @import url(x.css);\n}", 2, 3),
    ("namespace", "@namespace svg url(http://www.w3.org/2000/svg);", 1, 1),
    ("charset", '@charset "utf-7";', 1, 1),
    ("moz-document", "@-moz-document url-prefix() { a { color: red } }", 1, 1),
    ("font-face remote", "@font-face { font-family: x; src: url(https://fonts.evil.test/x.woff2) }", 1, 1),
    ("font-face remote, string", '@font-face { font-family: x; src: url("//evil.test/x.woff2") format("woff2") }', 1, 1),
    ("remote background", "body { background: url(https://evil.test/track.gif) }", 1, 20),
    ("protocol-relative image", "body { background: url(//evil.test/x.png) }", 1, 20),
    ("relative path out of the org", "body { background: url(/api/v1/themes/org_other/assets/x.png) }", 1, 20),
    ("image-set string URL", 'body { background: image-set("https://evil.test/x.png" 1x) }', 1, 30),
    ("cursor remote", "a { cursor: url(https://evil.test/c.cur), auto }", 1, 13),
    ("data: html", "a { background: url(data:text/html,<script>alert(1)</script>) }", 1, 17),
    ("data: svg", 'a { background: url("data:image/svg+xml,<svg onload=alert(1)>") }', 1, 21),
    ("expression", "a { width: expression(alert(1)) }", 1, 5),
    ("expression split by a comment", "a { width: expr/**/ession(alert(1)) }", 1, 5),
    ("expression escaped", "a { width: expr\\65ssion(alert(1)) }", 1, 5),
    ("behavior", "a { behavior: url(x.htc) }", 1, 5),
    ("behavior escaped", "a { beh\\61vior: url(x.htc) }", 1, 5),
    ("-moz-binding", "a { -moz-binding: url(x.xml#xss) }", 1, 5),
    ("javascript url", "a { background: url(javascript:alert(1)) }", 1, 17),
    ("javascript url escaped", "a { background: url(java\\73 cript:alert\\28 1\\29) }", 1, 5),
    ("javascript url with a tab", "a { background: url('java\\9 script:alert(1)') }", 1, 5),
    ("javascript url, hex escape eats the c", "a { background: url(java\\73cript:x) }", 1, 17),
    ("vbscript", "a { background: url(vbscript:msgbox) }", 1, 5),
    ("javascript in content", 'a::after { content: "javascript:alert(1)" }', 1, 12),
    ("full-width javascript", "a { background: ｊａｖａｓｃｒｉｐｔ:alert }", 1, 5),
    ("csrf token by input value", 'input[name="csrf_token"][value^="a"] { background: url(data:image/png;base64,AA) }', 1, 6),
    ("input value, any operator", "input[value$=z] { color: red }", 1, 6),
    ("input value, namespaced", "input[*|value] { color: red }", 1, 6),
    ("value inside :has()", "form:has(input[value^=a]) { color: red }", 1, 15),
    ("name attribute", "input[name=password] { color: red }", 1, 6),
    ("meta csrf content", 'meta[content^="a"] { display: block }', 1, 5),
    ("body hx-headers", 'body[hx-headers*="X-CSRFToken"] { color: red }', 1, 5),
    ("signed links", 'a[href*="token="] { color: red }', 1, 2),
    ("closing the style tag", "</style><script>alert(1)</script>", 1, 33),
    ("unknown at-rule", "@page { margin: 0 }", 1, 1),
    ("broken url", 'a { background: url(javascript:alert("x")) }', 1, 17),
]


@pytest.mark.parametrize(("name", "css", "line", "column"), CSS_REFUSED, ids=[c[0] for c in CSS_REFUSED])
def test_every_css_attack_is_refused_with_line_and_column(name, css, line, column):
    with pytest.raises(CSSRefused) as refused:
        sanitize(css, own_url=own)
    first = refused.value.problems[0]
    assert (first.line, first.column) == (line, column), refused.value.problems
    assert str(first).startswith(f"Line {line}, column {column}: ")


CSS_ALLOWED = [
    "a { color: red }\n@media (max-width: 600px) { a { color: blue } }",
    f'header {{ background: url("{OWN}") no-repeat }}',
    "a { background: url(data:image/png;base64,iVBORw0KGgo=) }",
    "@supports (display: grid) { .grid { display: grid } }",
    "@keyframes pulse { from { opacity: 1 } to { opacity: .5 } }",
    "button[type=submit], [role=button][aria-busy=true], [data-theme=dark] a { border-radius: 0 }",
    "input[disabled] { opacity: .5 }",
    'nav a[aria-current="page"] { font-weight: 700 }',
    ".card { &:hover { box-shadow: none } }",
    'a::after { content: "</style><script>" }',  # a string: harmless in a stylesheet served as a file
]


@pytest.mark.parametrize("css", CSS_ALLOWED)
def test_ordinary_css_passes_and_is_served_as_parsed(css):
    served = sanitize(css, own_url=own)
    assert served and "/*" not in served


def test_comments_are_gone_from_what_is_served():
    assert sanitize("/* a */ a { color: /* b */ red }", own_url=own) == "a { color:  red }"


def test_every_problem_is_reported_not_only_the_first():
    with pytest.raises(CSSRefused) as refused:
        sanitize("@import url(a.css);\na { behavior: url(x) }\ninput[value] {}", own_url=own)
    assert [(p.line, p.column) for p in refused.value.problems] == [(1, 1), (2, 5), (3, 6)]


def test_css_over_50_kb_is_refused():
    with pytest.raises(CSSRefused, match="50 KB"):
        sanitize("a{color:red}" * 5000, own_url=own)


S = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="40"'
SVG_NEUTRALIZED = [
    ("script", f"<svg {S}><script>alert(1)</script><rect width='1' height='1'/></svg>", "script"),
    ("script in a foreign namespace", f'<svg {S}><h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script></svg>', "alert"),
    ("onload", f'<svg {S} onload="alert(1)"><rect/></svg>', "onload"),
    ("onclick on a child", f'<svg {S}><rect onclick="alert(1)" onmouseover="x()"/></svg>', "alert"),
    ("xlink:href javascript", f'<svg {S}><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>', "javascript"),
    ("use with an external file", f'<svg {S}><use xlink:href="https://evil.test/sprite.svg#x"/></svg>', "evil"),
    ("use with a data document", f'<svg {S}><use href="data:image/svg+xml;base64,PHN2Zz4="/></svg>', "data:"),
    ("image from outside", f'<svg {S}><image href="https://evil.test/x.png"/></svg>', "evil"),
    ("foreignObject", f'<svg {S}><foreignObject><iframe xmlns="http://www.w3.org/1999/xhtml" src="javascript:alert(1)"/></foreignObject></svg>', "iframe"),
    ("animate rewriting a link", f'<svg {S}><a href="#"><animate attributeName="href" to="javascript:alert(1)"/></a></svg>', "javascript"),
    ("set an event handler", f'<svg {S}><set attributeName="onmouseover" to="alert(1)"/></svg>', "alert"),
    ("style element with a remote url", f"<svg {S}><style>rect {{ fill: url(https://evil.test/x) }}</style></svg>", "evil"),
    ("style attribute with a remote url", f'<svg {S}><rect style="fill: url(https://evil.test/x)"/></svg>', "evil"),
    ("fill pointing outside", f'<svg {S}><rect fill="url(https://evil.test/x#g)"/></svg>', "evil"),
    ("style importing a sheet", f'<svg {S}><style>@import url(https://evil.test/x.css);</style></svg>', "import"),
]


@pytest.mark.parametrize(("name", "svg", "gone"), SVG_NEUTRALIZED, ids=[c[0] for c in SVG_NEUTRALIZED])
def test_every_svg_attack_is_neutralized(name, svg, gone):
    clean, _w, _h = sanitize_svg(svg.encode())
    assert gone not in clean.decode().lower()
    assert b"<svg" in clean


SVG_REFUSED = [
    ("billion laughs", '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;">'
                       '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;">]><svg xmlns="http://www.w3.org/2000/svg"><text>&lol2;</text></svg>', "DTD"),
    ("external entity", '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                        '<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>', "DTD"),
    ("external DTD", '<?xml version="1.0"?><!DOCTYPE svg SYSTEM "https://evil.test/x.dtd"><svg xmlns="http://www.w3.org/2000/svg"/>', "DTD"),
    ("not svg", "<html><script>alert(1)</script></html>", "not an SVG"),
    ("svg without a namespace", "<svg><rect/></svg>", "not an SVG"),
    ("too wide", '<svg xmlns="http://www.w3.org/2000/svg" width="5000" height="10"/>', "2048"),
    ("too tall viewBox", '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 9000"/>', "2048"),
    ("broken", '<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>', "well-formed"),
]


@pytest.mark.parametrize(("name", "svg", "message"), SVG_REFUSED, ids=[c[0] for c in SVG_REFUSED])
def test_svg_that_cannot_be_made_safe_is_refused(name, svg, message):
    with pytest.raises(SVGRefused, match=message):
        sanitize_svg(svg.encode())


def test_an_ordinary_svg_logo_keeps_its_shapes_gradients_and_text():
    svg = (f'<svg {S} viewBox="0 0 100 40"><defs><linearGradient id="g"><stop offset="0" stop-color="#1d6b3a"/></linearGradient></defs>'
           '<rect width="100" height="40" fill="url(#g)"/><use href="#g"/><text x="5" y="25" font-family="Inter">Acme</text></svg>')
    clean = sanitize_svg(svg.encode())[0].decode()
    for kept in ('fill="url(#g)"', 'stop-color="#1d6b3a"', ">Acme</text>", 'href="#g"', 'viewBox="0 0 100 40"'):
        assert kept in clean
