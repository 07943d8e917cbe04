"""The merge-field language of e-mail templates, and turning a template into a message.

Templates are Jinja2 run in its ``SandboxedEnvironment`` over a context of plain strings and
numbers built here (``merge_context``): a template can only read the merge fields listed in
``MERGE_FIELDS``, call no method of any object, import nothing and include nothing. A merge
field it does not know is an error when the template is saved, not a blank in a sent e-mail.
The HTML body is escaped as it is filled in, and the result is cleaned once more
(``sanitize.clean_output``) before it is sent or previewed.

    Hi {{ first_name or "there" }},
    {% if industry == "software" %}Here is how SaaS teams use us …{% endif %}
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from . import sanitize

if TYPE_CHECKING:
    from leads.models import Lead

    from .models import EmailTemplate

# name: what the marketer sees in the editor's list of merge fields.
MERGE_FIELDS = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name",
    "email": "E-mail address",
    "job_title": "Job title",
    "company_name": "Company",
    "company_size": "Company size (e.g. 51-200)",
    "industry": "Industry (code, e.g. software)",
    "country": "Country code (e.g. DE)",
    "country_name": "Country name",
    "source": "Source",
    "stage": "Lifecycle stage",
    "owner_name": "Owner's name",
    "owner_email": "Owner's e-mail",
    "score": "Score (points)",
    "grade": "Grade (A–D)",
    "custom": 'Custom attributes: {{ custom.plan or "free" }}',
    "unsubscribe_url": "The unsubscribe link (added at the bottom when the body has none)",
    "preferences_url": "The subscription preferences page",
}


class TemplateError(ValueError):
    """A template that cannot be used, with a message for the marketer."""


# A small set of harmless filters and tests: no format strings, no attribute mapping, no |safe.
FILTERS = [
    "default",
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "e",
    "escape",
    "length",
    "round",
    "int",
]
TESTS = ["defined", "none", "number", "string"]
# Longest string or list a template may build with "*" ("-" * 40 is a rule; more is an attack).
MAX_REPEAT = 1_000
_SEQUENCES = (str, list, tuple)


class _Custom(dict):
    """Custom attributes: ``custom.plan`` and ``custom["plan"]`` read a key, nothing else (a
    missing one is undefined: blank, and ``or``/``default`` give the fallback)."""


class _Environment(SandboxedEnvironment):
    """Reads keys of ``custom`` and nothing else: no attribute of any object, no call."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def is_safe_attribute(self, obj, attr, value):
        return False

    def is_safe_callable(self, obj):
        return False

    def getattr(self, obj, attribute):
        return self._custom_key(obj, attribute)

    def getitem(self, obj, argument):
        return self._custom_key(obj, argument)

    def _custom_key(self, obj, key):
        if isinstance(obj, _Custom) and isinstance(key, str) and not key.startswith("_") and key in obj:
            return obj[key]
        return self.undefined(obj=obj, name=key)

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            raise SecurityError("templates cannot compute powers")
        if operator == "%" and isinstance(left, str):
            raise SecurityError("templates cannot format strings with %")
        if operator == "*" and isinstance(left, _SEQUENCES) != isinstance(right, _SEQUENCES):
            sequence, times = (left, right) if isinstance(left, _SEQUENCES) else (right, left)
            if isinstance(times, int) and len(sequence) * times > MAX_REPEAT:
                raise SecurityError(f"a repeated text may be at most {MAX_REPEAT} characters long")
        return super().call_binop(context, operator, left, right)


def _environment(autoescape: bool) -> _Environment:
    env = _Environment(autoescape=autoescape, keep_trailing_newline=True)
    env.globals.clear()  # no range(), lipsum(), dict(), cycler() ...
    env.filters = {name: f for name, f in env.filters.items() if name in FILTERS}
    env.tests = {name: t for name, t in env.tests.items() if name in TESTS}
    return env


_HTML = _environment(autoescape=True)
_TEXT = _environment(autoescape=False)


def _parse(source: str):
    try:
        return _HTML.parse(source)
    except TemplateSyntaxError as error:
        raise TemplateError(f"Line {error.lineno}: {error.message}") from None


def check_template(source: str) -> None:
    """Raise ``TemplateError`` if ``source`` does not parse, names an unknown merge field,
    filter or test, or tries anything beyond reading merge fields: calling, looking into a
    value other than ``custom``, including, importing, turning escaping off."""
    if not source:
        return
    tree = _parse(source)
    for kind, allowed, node_type in (("filter", FILTERS, nodes.Filter), ("test", TESTS, nodes.Test)):
        for node in tree.find_all(node_type):
            if node.name not in allowed:
                raise TemplateError(
                    f"Line {node.lineno}: unknown {kind} “{node.name}”. Available: {', '.join(allowed)}."
                )
    try:
        names = meta.find_undeclared_variables(tree)  # compiles: may find more mistakes
    except TemplateSyntaxError as error:
        raise TemplateError(f"Line {error.lineno}: {error.message}") from None
    names |= {node.name for node in tree.find_all(nodes.Name) if node.name in _SPECIAL_NAMES}
    unknown = sorted(names - set(MERGE_FIELDS))
    if unknown:
        raise TemplateError(
            f"Unknown merge field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Available: {', '.join(MERGE_FIELDS)}."
        )
    for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends, nodes.Macro)):
        raise TemplateError(f"Line {node.lineno}: templates cannot include, import or define macros.")
    for node in tree.find_all(nodes.Call):
        raise TemplateError(f"Line {node.lineno}: templates cannot call functions or methods.")
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not _is_custom_lookup(node):
            raise TemplateError(
                f"Line {node.lineno}: only custom attributes have parts (custom.plan); "
                "a merge field is used as it is."
            )
    for node in tree.find_all(nodes.EvalContextModifier):
        raise TemplateError(f"Line {node.lineno}: templates cannot turn escaping off.")
    for node in tree.find_all(nodes.Pow):
        raise TemplateError(f"Line {node.lineno}: templates cannot compute powers.")
    if any(kind == "raw_begin" for _, kind, _ in _HTML.lexer.tokeniter(source, None)):
        raise TemplateError("Templates cannot use {% raw %}.")


# Names Jinja resolves by itself: none of them is a merge field.
_SPECIAL_NAMES = {"self", "super", "caller", "varargs", "kwargs"}


def _is_custom_lookup(node: nodes.Getattr | nodes.Getitem) -> bool:
    """``custom.plan`` or ``custom["plan"]`` (or ``custom[field]``); never ``custom._x``."""
    if not (isinstance(node.node, nodes.Name) and node.node.name == "custom"):
        return False
    key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", "")
    return not (isinstance(key, str) and key.startswith("_"))


@lru_cache(maxsize=512)
def _compiled(source: str, autoescape: bool):
    check_template(source)
    try:
        return (_HTML if autoescape else _TEXT).from_string(source)
    except JinjaError as error:
        raise TemplateError(str(error)) from None


def merge_context(lead: Lead, *, unsubscribe_url: str = "#", preferences_url: str = "#") -> dict:
    """The only data a template sees: plain values read from the lead."""
    score = getattr(lead, "score", None) if _has_score(lead) else None
    owner = lead.owner if lead.owner_id else None
    custom = {
        str(k): v if isinstance(v, (str, int, float, bool)) else str(v)
        for k, v in (lead.custom or {}).items()
    }
    return {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "full_name": lead.full_name,
        "email": lead.email,
        "job_title": lead.job_title,
        "company_name": lead.company_name,
        "company_size": lead.company_size,
        "industry": lead.industry,
        "country": str(lead.country or ""),
        "country_name": lead.country.name if lead.country else "",
        "source": lead.source,
        "stage": lead.stage,
        "owner_name": (owner.get_full_name() or owner.username) if owner else "",
        "owner_email": owner.email if owner else "",
        "score": score.total if score else 0,
        "grade": score.grade if score else "",
        "custom": _Custom(custom),
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
    }


def _has_score(lead) -> bool:
    from django.core.exceptions import ObjectDoesNotExist

    try:
        return lead.score is not None
    except ObjectDoesNotExist:
        return False


def render_string(source: str, context: dict, *, autoescape: bool) -> str:
    if not source:
        return ""
    try:
        return _compiled(source, autoescape).render(context)
    except (JinjaError, ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as error:
        raise TemplateError(str(error) or type(error).__name__) from None


@dataclass(frozen=True)
class Rendered:
    subject: str
    preheader: str
    html: str
    text: str


def render(template: EmailTemplate, context: dict) -> Rendered:
    """Subject, preheader, HTML and plain text of ``template`` for one lead's context."""
    subject = " ".join(render_string(template.subject, context, autoescape=False).split())
    preheader = " ".join(render_string(template.preheader, context, autoescape=False).split())
    # Cleaned again once rendered: whatever a template or a lead's data does (a link to
    # ``{{ custom.website }}`` holding "javascript:…"), nothing that runs code goes out.
    body = sanitize.clean_output(render_string(template.html_body, context, autoescape=True))
    if template.text_body:
        # A block left out leaves its blank lines behind: two in a row are enough.
        text = re.sub(r"\n{3,}", "\n\n", render_string(template.text_body, context, autoescape=False))
    else:
        text = html_to_text(body)
    return Rendered(subject=subject, preheader=preheader, html=body, text=text)


_BLOCK = re.compile(r"</?(p|div|h[1-6]|tr|table|ul|ol|blockquote|section|header|footer)\b[^>]*>", re.I)
_BR = re.compile(r"<br\s*/?>", re.I)
_LI = re.compile(r"<li\b[^>]*>", re.I)
_LINK = re.compile(r"<a\b[^>]*?href=[\"']([^\"']+)[\"'][^>]*>(.*?)</a>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_DROP = re.compile(r"<(style|script|head|title)\b.*?</\1>", re.I | re.S)


def html_to_text(body: str) -> str:
    """A readable plain-text part from (sanitized) HTML: paragraphs, list items, and links as
    "text (url)"."""

    def link(match):
        url, label = html.unescape(match.group(1)), _TAG.sub("", match.group(2)).strip()
        if not label or html.unescape(label) == url:
            return url
        return f"{label} ({url})"

    text = _DROP.sub("", body)
    text = _LINK.sub(link, text)
    text = _BR.sub("\n", text)
    text = _LI.sub("\n- ", text)
    text = _BLOCK.sub("\n\n", text)
    text = html.unescape(_TAG.sub("", text))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def text_template_from_html(source: str) -> str:
    """A plain-text part for an HTML template, its merge tags kept as written (the editor's
    "Generate from HTML"; ``html_to_text`` alone would read ``{% if score < 50 %}`` as a tag)."""
    protected, restore = sanitize.protect_merge_tags(source)
    return restore(html_to_text(protected))
