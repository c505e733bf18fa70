"""Custom CSS checked by a real CSS parser (tinycss2), never by regular expressions.

The tokenizer decodes escapes and drops comments before anything is checked, so `@\\69mport`, `expr/**/ession(`
and `url(java\\73 cript:…)` are seen as what a browser would see. What passes is served re-serialized from the
parsed rules (what was checked is exactly what is served), as a file of its own: never inlined in a page.

Refused, each with its line and column: `@import`, `@namespace`, `@charset` and every at-rule outside a short
allow-list; `@font-face` loading anything but the org's own uploaded files; `url()` (and the string URLs of
`image-set()` and `src()`) to anything but the org's own assets or `data:` images; `expression()`, `behavior`,
`-moz-binding`; `javascript:` and `vbscript:` anywhere; attribute selectors that could read a form field or the
CSRF token (`[value…]`, `[name…]`, or matching the value of an attribute outside a short allow-list).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import tinycss2
from tinycss2 import ast

MAX_BYTES = 50 * 1024
ALLOWED_AT_RULES = frozenset({"media", "supports", "container", "layer", "keyframes", "-webkit-keyframes", "font-face"})
FORBIDDEN_PROPERTIES = frozenset({"behavior", "-ms-behavior", "-moz-binding", "binding"})
# Words that, once escapes, comments and white space are gone, must not appear in any selector or value.
FORBIDDEN_WORDS = ("javascript:", "vbscript:", "expression(", "-moz-binding")
URL_FUNCTIONS = frozenset({"url", "src"})
STRING_URL_FUNCTIONS = frozenset({"image-set", "-webkit-image-set"})  # their strings are URLs too
DATA_IMAGES = ("data:image/png", "data:image/jpeg", "data:image/gif", "data:image/webp")
# Attributes whose value a selector may match: none of them carries a secret (the CSRF token sits in an
# input's value, a meta tag's content and the body's hx-headers; signed links sit in href).
MATCHABLE_ATTRIBUTES = frozenset({"type", "role", "dir", "lang", "data-theme", "class", "id", "open", "disabled", "checked",
                                  "hidden", "aria-current", "aria-expanded", "aria-invalid", "aria-selected", "aria-busy",
                                  "aria-disabled", "aria-pressed", "aria-hidden", "data-tooltip"})
NEVER_SELECTED_ATTRIBUTES = frozenset({"value", "name"})


@dataclass(frozen=True)
class Problem:
    """One refused construct, where it starts in the admin's text."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}, column {self.column}: {self.message}"


class CSSRefused(Exception):
    """The CSS holds constructs that are not allowed; `problems` lists each with its position."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


UrlCheck = Callable[[str], bool]


def sanitize(css: str, *, own_url: UrlCheck) -> str:
    """The CSS as it will be served, or CSSRefused listing every problem; own_url(url) says if a URL is the org's."""
    if len(css.encode("utf-8")) > MAX_BYTES:
        raise CSSRefused([Problem(1, 1, f"Custom CSS is limited to {MAX_BYTES // 1024} KB.")])
    rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    checker = _Checker(own_url)
    checker.rules(rules)
    if checker.problems:
        raise CSSRefused(sorted(checker.problems, key=lambda p: (p.line, p.column)))
    return "\n".join(rule.serialize() for rule in rules)


def check_declarations(text: str, *, own_url: UrlCheck) -> list[Problem]:
    """The problems of a list of declarations (an SVG `style` attribute); empty when it is safe."""
    checker = _Checker(own_url)
    checker.block(tinycss2.parse_blocks_contents(text, skip_comments=True, skip_whitespace=True))
    return checker.problems


def fragment_only(url: str) -> bool:
    """An own_url for documents that may only point inside themselves (SVG: url(#gradient))."""
    return url.startswith("#")


def _normalized(text: str) -> str:
    # NFKC folds full-width and other look-alike letters; white space and invisible characters go, as a
    # browser's URL parser drops tabs and newlines (`java\9 script:`).
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in folded if not c.isspace() and unicodedata.category(c) not in ("Cc", "Cf"))


def _flat(tokens: Iterable) -> str:
    """The decoded text of component values, as the browser reads it (escapes decoded, comments gone)."""
    parts = []
    for token in tokens:
        if isinstance(token, ast.FunctionBlock):
            parts.append(f"{token.name}({_flat(token.arguments)})")
        elif isinstance(token, ast.URLToken):
            parts.append(f"url({token.value})")
        elif isinstance(token, ast.HashToken):
            parts.append("#" + token.value)
        elif isinstance(token, ast.AtKeywordToken):
            parts.append("@" + token.value)
        elif isinstance(token, ast.ParenthesesBlock | ast.SquareBracketsBlock | ast.CurlyBracketsBlock):
            parts.append(f"{token.serialize()[0]}{_flat(token.content)}{token.serialize()[-1]}")
        elif isinstance(token, ast.NumberToken | ast.PercentageToken | ast.DimensionToken):
            parts.append(token.serialize())
        elif isinstance(token, ast.WhitespaceToken):
            parts.append(" ")
        elif hasattr(token, "value") and isinstance(token.value, str):
            parts.append(token.value)  # idents, strings, literals
    return "".join(parts)


class _Checker:
    """Walks parsed rules and collects every problem (the admin fixes all of them in one go)."""

    def __init__(self, own_url: UrlCheck):
        self.own_url = own_url
        self.problems: list[Problem] = []

    def refuse(self, node, message: str) -> None:
        self.problems.append(Problem(getattr(node, "source_line", 1), getattr(node, "source_column", 1), message))

    def rules(self, rules: Iterable) -> None:
        for rule in rules:
            if isinstance(rule, ast.ParseError):
                self.refuse(rule, f"This could not be parsed as CSS ({rule.message}).")
            elif isinstance(rule, ast.AtRule):
                self.at_rule(rule)
            elif isinstance(rule, ast.QualifiedRule):
                self.selector(rule, rule.prelude)
                self.block(tinycss2.parse_blocks_contents(rule.content, skip_comments=True, skip_whitespace=True))

    def at_rule(self, rule: ast.AtRule) -> None:
        name = rule.lower_at_keyword
        if name not in ALLOWED_AT_RULES:
            self.refuse(rule, f"@{name} is not allowed" + (" (it loads another stylesheet)." if name == "import" else "."))
            return
        self.words(rule, rule.prelude)
        if rule.content is None:
            self.refuse(rule, f"@{name} needs a {{ … }} block.")
        elif name == "font-face":
            self.font_face(rule)
        elif name in ("keyframes", "-webkit-keyframes"):
            for frame in tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True):
                if isinstance(frame, ast.QualifiedRule):
                    self.block(tinycss2.parse_blocks_contents(frame.content, skip_comments=True, skip_whitespace=True))
                else:
                    self.rules([frame])
        else:
            self.rules(tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True))

    def font_face(self, rule: ast.AtRule) -> None:
        before = len(self.problems)
        self.block(tinycss2.parse_blocks_contents(rule.content, skip_comments=True, skip_whitespace=True))
        if len(self.problems) > before:
            self.refuse(rule, "@font-face may only load the organization's own uploaded files.")

    def block(self, items: Iterable) -> None:
        """A rule's contents: declarations, and nested rules (CSS nesting)."""
        for item in items:
            if isinstance(item, ast.Declaration):
                self.declaration(item)
            elif isinstance(item, ast.QualifiedRule):
                self.selector(item, item.prelude)
                self.block(tinycss2.parse_blocks_contents(item.content, skip_comments=True, skip_whitespace=True))
            else:
                self.rules([item])

    def declaration(self, decl: ast.Declaration) -> None:
        name = _normalized(decl.lower_name)
        if name in FORBIDDEN_PROPERTIES:
            self.refuse(decl, f"The {name} property is not allowed (it runs code).")
            return
        self.words(decl, [ast.IdentToken(decl.source_line, decl.source_column, decl.name), ast.LiteralToken(0, 0, ":"), *decl.value])
        self.values(decl, decl.value)

    def values(self, decl, tokens: Iterable) -> None:
        for token in tokens:
            if isinstance(token, ast.ParseError):
                self.refuse(token, f"This value could not be parsed ({token.kind}); quote URLs as url(\"…\").")
            elif isinstance(token, ast.URLToken):
                self.url(token, token.value)
            elif isinstance(token, ast.FunctionBlock):
                self.function(token)
            elif isinstance(token, ast.ParenthesesBlock | ast.SquareBracketsBlock | ast.CurlyBracketsBlock):
                self.values(decl, token.content)

    def function(self, token: ast.FunctionBlock) -> None:
        name = _normalized(token.lower_name)
        if name == "expression":
            self.refuse(token, "expression() is not allowed (it runs code).")
            return
        if name in URL_FUNCTIONS | STRING_URL_FUNCTIONS:
            strings = [t for t in token.arguments if isinstance(t, ast.StringToken)]
            for string in strings if name in STRING_URL_FUNCTIONS else strings[:1]:
                self.url(string, string.value)
            if name in URL_FUNCTIONS and not strings:
                self.refuse(token, f"{name}() needs a URL.")
        self.values(token, token.arguments)

    def url(self, token, url: str) -> None:
        target = _normalized(url)
        if target.startswith(DATA_IMAGES) and target[len("data:image/"):].split(";")[0].split(",")[0] in ("png", "jpeg", "gif", "webp"):
            return
        if not self.own_url(url.strip()):
            self.refuse(token, f"url({url.strip()[:60]}) is not allowed: use your own uploaded files or data: images.")

    def selector(self, rule, prelude: list) -> None:
        self.words(rule, prelude)
        self.attribute_selectors(rule, prelude)

    def attribute_selectors(self, rule, tokens: Iterable) -> None:
        for token in tokens:
            if isinstance(token, ast.SquareBracketsBlock):
                self.attribute(token)
            elif isinstance(token, ast.FunctionBlock):  # :has([value]), :not([name=x]) ...
                self.attribute_selectors(rule, token.arguments)
            elif isinstance(token, ast.ParenthesesBlock | ast.CurlyBracketsBlock):
                self.attribute_selectors(rule, token.content)

    def attribute(self, block: ast.SquareBracketsBlock) -> None:
        parts = [t for t in block.content if not isinstance(t, ast.WhitespaceToken)]
        operator = next((i for i, t in enumerate(parts) if isinstance(t, ast.LiteralToken) and t.value.endswith("=")), len(parts))
        names = [t for t in parts[:operator] if isinstance(t, ast.IdentToken)]
        name = _normalized(names[-1].value) if names else ""
        if name in NEVER_SELECTED_ATTRIBUTES:
            self.refuse(block, f"Attribute selectors on [{name}] are not allowed (they can read what forms hold).")
        elif operator < len(parts) and name not in MATCHABLE_ATTRIBUTES:
            self.refuse(block, f"Matching the value of [{name}] is not allowed (it could read a token); "
                               f"these may be matched: {', '.join(sorted(MATCHABLE_ATTRIBUTES))}.")

    def words(self, node, tokens: Iterable) -> None:
        text = _normalized(_flat(tokens))
        for word in FORBIDDEN_WORDS:
            if word in text:
                self.refuse(node, f"{word.rstrip(':(')} is not allowed here (it runs code).")
