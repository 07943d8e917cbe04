"""How the dashboard writes its figures: a missing rate is "—", never 0 % or an error."""

from django import template

register = template.Library()

DASH = "—"


@register.filter
def pct(value, digits: int = 1) -> str:
    """0.1234 → "12.3 %"; None → "—"."""
    if value is None or value == "":
        return DASH
    return f"{float(value) * 100:.{digits}f} %"


@register.filter
def days(value) -> str:
    if value is None:
        return DASH
    return f"{value:.1f} d"


@register.filter
def hours(value) -> str:
    if value is None:
        return DASH
    return f"{value:.1f} h"


@register.filter
def money(value) -> str:
    if value is None:
        return DASH
    return f"{float(value):,.0f}"


@register.simple_tag
def change(current, previous, kind: str = "count") -> str:
    """How ``current`` moved from ``previous``: "+12 %" for counts and money, "+3.1 pts" for
    rates; "" when there is nothing to compare with."""
    if current is None or previous is None or previous == "":
        return ""
    if kind == "rate":
        return f"{(float(current) - float(previous)) * 100:+.1f} pts"
    if not previous:
        return "new" if current else ""
    return f"{(float(current) - float(previous)) / float(previous) * 100:+.0f} %"
