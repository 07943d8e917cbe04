"""Cleaning the HTML of e-mail templates: what a marketing e-mail needs stays (tables, inline
styles, images, links, headings, lists), what could run code goes (scripts, frames, objects,
forms, event handlers, ``javascript:`` and ``data:`` URLs).

``clean_html`` cleans a template as the marketer wrote it and keeps its merge tags exactly as
written. nh3 parses HTML like a browser, so cleaning the source as it is would turn
``href="{{ x or "y" }}"`` into ``&quot;y&quot;``, ``{% if score > 50 %}`` into ``&gt;``, and move
a ``{% for %}`` between table rows out of the table. So every merge tag is swapped for an
HTML comment carrying a random key before cleaning (a comment stays where it is, even between
rows; inside an attribute value it is plain text) and put back afterwards. Other comments go.

``clean_output`` cleans a rendered e-mail (no merge tags any more): whatever a template or a
lead's data did, what is sent or previewed never holds anything that runs.
"""

from __future__ import annotations

import html
import re
import secrets
from collections import Counter
from collections.abc import Callable
from html.parser import HTMLParser

import nh3
from jinja2 import Environment, TemplateSyntaxError

TAGS = {
    *("table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "col", "colgroup"),
    *("h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "div", "span", "center", "font"),
    *("ul", "ol", "li", "blockquote", "pre", "code", "small", "sub", "sup"),
    *("a", "img", "strong", "em", "b", "i", "u", "s"),
}
# Removed with everything inside them (other unknown tags lose the tag, keep the text).
REMOVED_WITH_CONTENT = {
    *("script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form"),
    *("textarea", "select", "button", "noscript", "noembed", "noframes", "template", "title"),
    *("svg", "math", "xmp", "head", "audio", "video"),
}
_LAYOUT = {"style", "align", "valign", "width", "height", "bgcolor", "border", "color", "dir", "title"}
ATTRIBUTES = {
    "*": _LAYOUT,
    "a": {"href", "name", "target"},
    "img": {"src", "alt", "hspace", "vspace"},
    "table": {"cellpadding", "cellspacing", "background", "summary"},
    "td": {"colspan", "rowspan", "nowrap", "background"},
    "th": {"colspan", "rowspan", "nowrap", "background", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "font": {"face", "size"},
    "ol": {"start", "type"},
    "ul": {"type"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}
URL_ATTRIBUTES = {"href", "src", "background"}
_POLICY = {
    "tags": TAGS,
    "clean_content_tags": REMOVED_WITH_CONTENT,
    "attributes": ATTRIBUTES,
    "url_schemes": URL_SCHEMES,
    "link_rel": None,
}

# A merge tag ({{ … }}, {% … %}, {# … #}; quotes inside strings may hold the closing braces),
# or an HTML comment: whichever starts first, as Jinja and a browser would read them.
_STRING = r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"""
_SOURCE = re.compile(
    r"(?P<tag>\{\{(?:" + _STRING + r"""|[^"'}]|\}(?!\}))*\}\}"""
    r"|\{%(?:" + _STRING + r"""|[^"'%]|%(?!\}))*%\}"""
    r"|\{#.*?#\})"
    r"|(?P<comment><!--.*?-->)",
    re.S,
)
_OPENS = {"if", "for", "with", "filter", "macro", "call", "block", "autoescape", "raw", "trans"}
_UNSAFE_CSS = re.compile(
    r"expression\s*\(|javascript:|vbscript:|-moz-binding|behaviou?r\s*:|@import|\\", re.I
)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):", re.I)
_MAYBE_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*", re.I)
_CONTROL = re.compile(r"[\x00-\x20]")
_LEXER = Environment(autoescape=True)  # only to read merge tags


class MergeTagError(ValueError):
    """Merge tags that the cleaning would have to drop or move, with a message for the marketer."""


def clean_html(source: str) -> str:
    """The template's HTML with everything unsafe removed and its merge tags as written.

    Raises ``MergeTagError`` when a ``{% … %}`` tag would be dropped, or would no longer
    surround what it surrounded: placed between a tag's attributes, in removed HTML (a script,
    an event handler), or around HTML a browser moves (text between table rows)."""
    if not source:
        return ""
    key = secrets.token_hex(6)
    tags: list[str] = []

    def protect(match: re.Match) -> str:
        if match["comment"]:
            return ""
        tags.append(_unescaped(match["tag"]))
        return f"<!--jinja:{key}:{len(tags) - 1}-->"

    protected = _SOURCE.sub(protect, source)
    placeholder = re.compile(rf"<!--jinja:{key}:(\d+)-->")
    attribute_problems: list[str] = []

    def attribute_filter(tag: str, name: str, value: str) -> str | None:
        found = [tags[int(i)] for i in placeholder.findall(value)]
        first = placeholder.search(value)
        prefix = value[: first.start()] if first else value
        if not _safe_attribute(name, placeholder.sub("", value), prefix, bool(found)):
            return None
        statements = [t for t in found if _is_statement(t)]
        if statements and not _balanced(statements):
            attribute_problems.append(
                f"{' '.join(statements)} in the {name} attribute of <{tag}>: a block that starts "
                "inside an attribute must end inside it."
            )
            return None
        return value

    cleaned = nh3.clean(protected, **_POLICY, strip_comments=False, attribute_filter=attribute_filter)
    if attribute_problems:
        raise MergeTagError(" ".join(attribute_problems))

    seen: set[int] = set()

    def restore(match: re.Match) -> str:
        index = match["comment"] or match["attr"]
        if index is None:
            return ""  # an HTML comment of the source: comments go
        seen.add(int(index))
        return tags[int(index)]

    output = re.compile(
        rf"<!--(?:jinja:{key}:(?P<comment>\d+)|.*?)-->|&lt;!--jinja:{key}:(?P<attr>\d+)--&gt;", re.S
    ).sub(restore, cleaned)

    lost = [t for i, t in enumerate(tags) if i not in seen and _is_statement(t)]
    if lost:
        raise MergeTagError(
            f"{' '.join(lost)} would be removed with the HTML around it. Put {{% … %}} tags around "
            "whole elements or inside an attribute's value, not between a tag's attributes, in a "
            "script or in an event handler."
        )
    statement = {i for i, t in enumerate(tags) if _is_statement(t)}
    if not _same_blocks(_blocks(protected, key, statement), _blocks(cleaned, key, statement)):
        raise MergeTagError(
            "The HTML around the {% … %} tags has to be rearranged, so a block would no longer hold "
            "what it holds now. Inside a <table>, put blocks around whole rows or inside cells "
            "(text and other elements go in cells), and close every element a block opens "
            "inside the same block."
        )
    return output


class _Blocks(HTMLParser):
    """What lies between consecutive ``{% … %}`` placeholders: the text (without white space)
    and the images, by the placeholder before it."""

    def __init__(self, key: str, statements: set[int]):
        super().__init__(convert_charrefs=True)
        self.placeholder = re.compile(rf"jinja:{key}:(\d+)")
        self.statements = statements
        self.current: int | None = None
        self.order: list[int] = []
        self.content: dict[int | None, list[str]] = {None: []}

    def handle_comment(self, data):
        match = self.placeholder.fullmatch(data)
        if match and int(match[1]) in self.statements:
            self.current = int(match[1])
            self.order.append(self.current)
            self.content.setdefault(self.current, [])

    def handle_data(self, data):
        self.content[self.current].append("".join(data.split()))

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.content[self.current].append("\ue002")


def _blocks(markup: str, key: str, statements: set[int]) -> _Blocks:
    parser = _Blocks(key, statements)
    parser.feed(markup)
    parser.close()
    return parser


def _same_blocks(before: _Blocks, after: _Blocks) -> bool:
    """Whether cleaning kept the statements in order and everything between two of them there
    (cleaning only removes: what is left between two statements must have been there)."""
    if after.order != before.order:
        return False
    return all(
        not Counter("".join(parts)) - Counter("".join(before.content.get(index, [])))
        for index, parts in after.content.items()
    )


def clean_output(rendered: str) -> str:
    """A rendered e-mail body with everything unsafe removed (it has no merge tags left)."""
    if not rendered:
        return ""

    def attribute_filter(tag: str, name: str, value: str) -> str | None:
        return value if _safe_attribute(name, value, value, False) else None

    return nh3.clean(rendered, **_POLICY, attribute_filter=attribute_filter)


def protect_merge_tags(source: str) -> tuple[str, Callable[[str], str]]:
    """``source`` with each merge tag swapped for a token that text processing leaves alone,
    and the function that puts them back."""
    key = secrets.token_hex(6)
    tags: list[str] = []

    def protect(match: re.Match) -> str:
        if match["comment"]:
            return match["comment"]
        tags.append(match["tag"])
        return f"\ue000{key}{len(tags) - 1}\ue001"

    token = re.compile(rf"\ue000{key}(\d+)\ue001")
    return _SOURCE.sub(protect, source), lambda text: token.sub(lambda m: tags[int(m[1])], text)


def _safe_attribute(name: str, literal: str, prefix: str, has_tags: bool) -> bool:
    """``literal``: the value without merge tags; ``prefix``: the value before the first one."""
    if name == "style":
        return not _UNSAFE_CSS.search(_CSS_COMMENT.sub("", literal))
    if name in URL_ATTRIBUTES:
        # nh3 checked the scheme of the value as written; a merge tag may still complete one
        # ("java{{ x }}script:"), so the text before the first tag must settle it.
        start = _CONTROL.sub("", prefix)
        scheme = _SCHEME.match(start)
        if scheme:
            return scheme[1].lower() in URL_SCHEMES
        return not (has_tags and _MAYBE_SCHEME.fullmatch(start))
    return True


def _is_statement(tag: str) -> bool:
    return tag.startswith("{%")


def _balanced(statements: list[str]) -> bool:
    depth = 0
    for statement in statements:
        word = re.match(r"\{%[-+]?\s*(\w*)", statement)[1]
        if word.startswith("end"):
            depth -= 1
        elif word in _OPENS or (word == "set" and "=" not in statement):
            depth += 1
        if depth < 0:
            return False
    return depth == 0


def _unescaped(tag: str) -> str:
    """A merge tag with its HTML entities decoded when only that makes it readable to Jinja
    (``{{ first_name or &quot;there&quot; }}`` pasted from an HTML editor)."""
    if "&" not in tag or _lexes(tag):
        return tag
    decoded = html.unescape(tag)
    return decoded if _lexes(decoded) else tag


def _lexes(tag: str) -> bool:
    try:
        for _ in _LEXER.lex(tag):
            pass
    except TemplateSyntaxError:
        return False
    return True
