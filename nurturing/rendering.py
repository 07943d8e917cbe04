"""The merge-field language of e-mail templates, and turning a template into a message.

Templates are Jinja2 run in its ``SandboxedEnvironment`` over a context of plain strings and
numbers built here (``merge_context``): a template can only read the merge fields listed in
``MERGE_FIELDS``, call no method of any object, import nothing and include nothing. A merge
field it does not know is an error when the template is saved, not a blank in a sent e-mail.
The HTML body is escaped as it is filled in, and the result is cleaned once more
(``sanitize.clean_output``) before it is sent or previewed.

    Hi {{ first_name or "there" }},
    {% if industry == "software" %}Here is how SaaS teams use us …{% endif %}

Limits: a template also cannot take unbounded time or memory (``"x" * 1000`` doubled with
``~`` a few dozen times, loops inside loops). Nothing of a template runs while it is compiled
(no constant folding), and everything it does that costs more than a step is compiled into a
call that measures it and charges it to a budget kept per render (``_Budget``):

* a value it builds (``+``, ``*``, ``~``, a filter, a ``[list]``/``(tuple)``/``{dict}``
  literal, a ``{% set %}…{% endset %}`` block) may be at most ``MAX_VALUE`` long (characters,
  one per list item), checked before the value is made when its size is known in advance. A
  number may have at most ``MAX_NUMBER_BITS``.
* what it builds, and the right-hand side of every comparison (``==``, ``<``, ``in`` … cost at
  most its size), count against ``MAX_WORK`` characters in all.
* every loop runs over ``environment.loop_items``, which charges each iteration before it
  runs: at most ``MAX_ITERATIONS`` in all, and at most ``MAX_LOOP_STEPS`` counting each
  iteration as the size of its loop's body (in syntax nodes). Whatever a template has to
  iterate (a text, a list literal, a custom attribute), nesting cannot multiply the work.
* what ``{{ … }}`` writes, and the rendered text as it streams out, at most ``MAX_OUTPUT``.

So a render evaluates at most the template's size plus ``MAX_LOOP_STEPS`` expressions, each a
constant step apart from what is charged, which is at most ``MAX_WORK`` + ``MAX_OUTPUT``
characters: time and memory are bounded whatever the template. Going past a limit is a
``TemplateError`` with the template's line. ``check_template`` also renders the template once
for a sample lead, so one that breaks a limit (or the sandbox) whatever the lead is refused
when it is saved; one that only does for some leads' data is refused when rendered for them.
"""

from __future__ import annotations

import html
import re
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import TYPE_CHECKING

from jinja2 import TemplateSyntaxError, nodes, pass_context
from jinja2.compiler import CodeGenerator, operators
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.runtime import markup_join, str_join
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

# What one render may do (see the module's docstring).
# Longest string or list a template may build with "*" ("-" * 40 is a rule; more is an attack).
MAX_REPEAT = 1_000
MAX_VALUE = 100_000  # one text (characters) or list (items and their characters) it builds
MAX_WORK = 10_000_000  # characters it builds or compares, all together
MAX_OUTPUT = 1_000_000  # characters a rendered field may have (Gmail clips at about 100 kB)
MAX_ITERATIONS = 10_000  # loop iterations, all loops together
MAX_LOOP_STEPS = 100_000  # loop iterations, each counted as the size of its loop's body
MAX_NUMBER_BITS = 64
_SEQUENCES = (str, list, tuple)


class LimitError(SecurityError):
    """A template that would take too much time or memory."""


class _Budget:
    """What one render has used so far."""

    def __init__(self):
        self.work = self.output = self.iterations = self.steps = 0

    def spend(self, size: int) -> None:
        self.work += size
        if self.work > MAX_WORK:
            raise LimitError(f"this template would build or compare more than {MAX_WORK:,} characters")

    def write(self, size: int) -> None:
        self.output += size
        if self.output > MAX_OUTPUT:
            raise LimitError(f"the result would be longer than {MAX_OUTPUT:,} characters")

    def iterate(self, cost: int) -> None:
        self.iterations += 1
        self.steps += cost
        if self.iterations > MAX_ITERATIONS:
            raise LimitError(f"the loops of this template would repeat more than {MAX_ITERATIONS:,} times")
        if self.steps > MAX_LOOP_STEPS:
            raise LimitError("the loops of this template would do too much: loop less, or do less in them")


_BUDGET: ContextVar[_Budget | None] = ContextVar("email_template_budget", default=None)


def _budget() -> _Budget:
    budget = _BUDGET.get()
    if budget is None:  # only ``_render`` runs a template (never the compiler, folding constants)
        raise SecurityError("a template is only run through rendering.render_string")
    return budget


def _size(value, limit: int = MAX_VALUE) -> int:
    """The characters of a text, or the items (and their characters) of a list, tuple or dict,
    through nested ones; counting stops once past ``limit``."""
    total, pending = 0, [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        else:
            total += 1
            if isinstance(item, dict):
                pending.extend(item.items())
            elif isinstance(item, (list, tuple)):
                pending.extend(item)
    return total


def _too_long() -> LimitError:
    return LimitError(f"a text built by this template may be at most {MAX_VALUE:,} characters long")


def _built(value):
    """``value``, just made by the template: refused past the limits, else charged."""
    if isinstance(value, int) and value.bit_length() > MAX_NUMBER_BITS:
        raise LimitError("this template computes too large a number")
    size = _size(value)
    if size > MAX_VALUE:
        raise _too_long()
    _budget().spend(size)
    return value


def _text(value) -> str:
    """``value`` as text (what ``str`` gives), not made when it would be too long."""
    if isinstance(value, str):
        return value
    if _size(value) > MAX_VALUE:
        raise _too_long()
    text = str(value)
    if len(text) > MAX_VALUE:
        raise _too_long()
    return text


@pass_context
def _finalize(context, value) -> str:
    """Every ``{{ … }}``, before it is escaped: charged to the output."""
    text = _text(value)
    _budget().write(len(text))
    return text


def _limited_filter(function):
    @wraps(function)  # keeps ``jinja_pass_arg``
    def limited(*args, **kwargs):
        return _built(function(*args, **kwargs))

    return limited


class _CodeGenerator(CodeGenerator):
    """Compiles ``~``, literals, comparisons and loops into the environment's limited helpers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._loop_costs: dict[int, int] = {}  # id of what a loop iterates: the size of its body

    def visit_For(self, node, frame):
        body = [*node.body, *([node.test] if node.test else [])]
        self._loop_costs[id(node.iter)] = sum(1 + sum(1 for _ in part.find_all(nodes.Node)) for part in body)
        super().visit_For(node, frame)

    def visit(self, node, *args, **kwargs):
        cost = self._loop_costs.pop(id(node), None)
        if cost is None:
            return super().visit(node, *args, **kwargs)
        self.write("environment.loop_items(")
        super().visit(node, *args, **kwargs)
        self.write(f", {max(cost, 1)})")
        return None

    def visit_Concat(self, node, frame):
        self.write("environment.join_text(context, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Operand(self, node, frame):
        self.write(f" {operators[node.op]} environment.compared(")
        self.visit(node.expr, frame)
        self.write(")")

    def visit_List(self, node, frame):
        self.write("environment.build_value(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Tuple(self, node, frame):
        if node.ctx != "load":  # a target: {% for a, b in … %}
            return super().visit_Tuple(node, frame)
        self.write("environment.build_value(")
        super().visit_Tuple(node, frame)
        self.write(")")

    def visit_Dict(self, node, frame):
        self.write("environment.build_value(")
        super().visit_Dict(node, frame)
        self.write(")")


class _NameTracker(_CodeGenerator):
    """Compiles without writing, to find the names a template reads (as ``jinja2.meta`` does,
    but without folding constants)."""

    def __init__(self, environment):
        super().__init__(environment, "<check>", "<check>", optimized=False)
        self.names: set[str] = set()

    def write(self, x):
        pass

    def enter_frame(self, frame):
        super().enter_frame(frame)
        self.names.update(param for action, param in frame.symbols.loads.values() if action == "resolve")


class _Custom(dict):
    """Custom attributes: ``custom.plan`` and ``custom["plan"]`` read a key, nothing else (a
    missing one is undefined: blank, and ``or``/``default`` give the fallback)."""


class _Environment(SandboxedEnvironment):
    """Reads keys of ``custom`` and nothing else: no attribute of any object, no call; and keeps
    to the limits."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"+", "*", "**", "%"})

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
                raise LimitError(f"a repeated text may be at most {MAX_REPEAT} characters long")
            if isinstance(times, int) and _size(sequence) * times > MAX_VALUE:
                raise _too_long()
        both = isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES)
        if operator == "+" and both and _size(left) + _size(right) > MAX_VALUE:
            raise _too_long()
        return _built(super().call_binop(context, operator, left, right))

    def join_text(self, context, values):
        """``a ~ b ~ …``"""
        parts = [_text(value) for value in values]
        if sum(map(len, parts)) > MAX_VALUE:
            raise _too_long()
        return _built((markup_join if context.eval_ctx.autoescape else str_join)(parts))

    def build_value(self, value):
        return _built(value)

    def compared(self, value):
        """The right-hand side of a comparison: charged for its size."""
        _budget().spend(_size(value))
        return value

    def concat(self, pieces):
        """The text of a ``{% set %}`` or ``{% filter %}`` block (``_render`` streams the rest)."""
        pieces = list(pieces)
        if sum(map(len, pieces)) > MAX_VALUE:
            raise _too_long()
        return _built("".join(pieces))

    def loop_items(self, iterable, cost):
        budget = _budget()
        for item in iterable:
            budget.iterate(cost)
            yield item


def _environment(autoescape: bool) -> _Environment:
    env = _Environment(autoescape=autoescape, keep_trailing_newline=True, optimized=False, finalize=_finalize)
    env.globals.clear()  # no range(), lipsum(), dict(), cycler() ...
    env.filters = {name: _limited_filter(f) for name, f in env.filters.items() if name in FILTERS}
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
    value other than ``custom``, including, importing, turning escaping off; or if rendering it
    for a sample lead goes past a limit."""
    if not source:
        return
    _check_source(source)
    problem = _trial(source)
    if problem:
        raise TemplateError(problem)


def _check_source(source: str) -> None:
    tree = _parse(source)
    for kind, allowed, node_type in (("filter", FILTERS, nodes.Filter), ("test", TESTS, nodes.Test)):
        for node in tree.find_all(node_type):
            if node.name not in allowed:
                raise TemplateError(
                    f"Line {node.lineno}: unknown {kind} “{node.name}”. Available: {', '.join(allowed)}."
                )
    tracker = _NameTracker(_HTML)
    try:
        tracker.visit(tree)  # compiles: may find more mistakes
    except TemplateSyntaxError as error:
        raise TemplateError(f"Line {error.lineno}: {error.message}") from None
    names = tracker.names | {node.name for node in tree.find_all(nodes.Name) if node.name in _SPECIAL_NAMES}
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
    _check_source(source)
    try:
        return (_HTML if autoescape else _TEXT).from_string(source)
    except JinjaError as error:
        raise TemplateError(str(error)) from None


# What a template may fail with for one lead's data (and is refused for, then).
_RUNTIME_ERRORS = (JinjaError, ArithmeticError, TypeError, ValueError, LookupError, RecursionError)
# A lead for trying a template out when it is saved.
_SAMPLE = {
    "first_name": "Alex",
    "last_name": "Sample",
    "full_name": "Alex Sample",
    "email": "alex.sample@example.com",
    "job_title": "Head of Marketing",
    "company_name": "Example Ltd",
    "company_size": "51-200",
    "industry": "software",
    "country": "DE",
    "country_name": "Germany",
    "source": "web",
    "stage": "lead",
    "owner_name": "Sam Owner",
    "owner_email": "sam.owner@example.com",
    "score": 0,
    "grade": "",
    "unsubscribe_url": "#",
    "preferences_url": "#",
}


@lru_cache(maxsize=512)
def _trial(source: str) -> str | None:
    """What stops ``source`` whatever the lead: a limit or the sandbox, found by rendering it
    (both ways) for a sample lead. Other errors depend on a lead's data: not refused here."""
    for autoescape in (True, False):
        template = _compiled(source, autoescape)
        try:
            _render(template, {**_SAMPLE, "custom": _Custom()})
        except SecurityError as error:
            return _message(error)
        except _RUNTIME_ERRORS:
            continue
    return None


def _render(template, context: dict) -> str:
    """``template`` rendered within a fresh budget."""
    token = _BUDGET.set(_Budget())
    stream = template.generate(context)
    try:
        parts, length = [], 0
        for part in stream:
            length += len(part)
            if length > MAX_OUTPUT:
                raise LimitError(f"the result would be longer than {MAX_OUTPUT:,} characters")
            parts.append(part)
        return "".join(parts)
    finally:
        stream.close()
        _BUDGET.reset(token)


def _message(error: Exception) -> str:
    """The error's message, with the template's line for the sandbox's and the limits'."""
    message = str(error) or type(error).__name__
    if not isinstance(error, SecurityError):
        return message
    line, traceback = None, error.__traceback__
    while traceback is not None:  # Jinja gives template code a traceback entry at its line
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return f"Line {line}: {message}" if line else message


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
    template = _compiled(source, autoescape)
    try:
        return _render(template, context)
    except _RUNTIME_ERRORS as error:
        raise TemplateError(_message(error)) from None


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
