"""CSV out: the lead export and an import's bad rows, streamed and safe to open in a
spreadsheet."""

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from django.db.models import QuerySet

from .models import ImportRowError, Lead, LeadImport

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# (header, value path) of the lead export.
LEAD_COLUMNS: list[tuple[str, str]] = [
    ("id", "id"),
    ("email", "email"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("phone", "phone"),
    ("job_title", "job_title"),
    ("company_name", "company_name"),
    ("company_size", "company_size"),
    ("industry", "industry"),
    ("country", "country"),
    ("website", "website"),
    ("source", "source"),
    ("created_via", "created_via"),
    ("utm_source", "utm_source"),
    ("utm_medium", "utm_medium"),
    ("utm_campaign", "utm_campaign"),
    ("utm_term", "utm_term"),
    ("utm_content", "utm_content"),
    ("referrer", "referrer"),
    ("stage", "stage"),
    ("owner", "owner__username"),
    ("marketing_consent", "marketing_consent"),
    ("created_at", "created_at"),
    ("updated_at", "updated_at"),
    ("last_activity_at", "last_activity__at"),
    ("custom", "custom"),
]
EXPORT_CHUNK = 2000


def safe_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return str(value)  # a number is data, never a formula: -10 stays -10
    if isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False) if value else ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Line:
    """A file-like object whose write() returns what was written: csv.writer then yields
    one encoded line at a time instead of filling a buffer."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[bytes]:
    """The CSV as encoded lines, starting with a byte order mark so that Excel reads UTF-8."""
    writer = csv.writer(_Line())
    yield ("\ufeff" + writer.writerow([safe_cell(h) for h in header])).encode()
    for row in rows:
        yield writer.writerow([safe_cell(v) for v in row]).encode()


def lead_export_lines(queryset: QuerySet[Lead]) -> Iterator[bytes]:
    rows = queryset.values_list(*[path for _, path in LEAD_COLUMNS]).iterator(chunk_size=EXPORT_CHUNK)
    return csv_lines([name for name, _ in LEAD_COLUMNS], rows)


def bad_rows_lines(lead_import: LeadImport) -> Iterator[bytes]:
    """The rows an import refused, as they were in the file, with line and reason in front."""
    rows = (
        ImportRowError.objects.filter(lead_import=lead_import)
        .order_by("line")
        .values_list("line", "reason", "row")
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    return csv_lines(
        ["line", "reason", *lead_import.headers], ([line, reason, *cells] for line, reason, cells in rows)
    )
