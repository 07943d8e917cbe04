"""The lead filters, shared by the lead list page and ``GET /api/leads/``."""

import functools
import hashlib
from collections.abc import Callable

import django_filters
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connections
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Lower, Upper
from django_countries import countries

from leadapp.db import in_values

from .models import Industry, Lead, Source, Stage

SORTS = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    # Over the leads' LastActivity rows (every lead has one), joined so that PostgreSQL walks
    # lastactivity_at_idx and reads 50 leads, instead of sorting a million.
    "recent_activity": (F("last_activity__at").desc(nulls_last=True), "-id"),
    # Case-insensitive, like people read names; served by lead_name_idx / lead_company_idx.
    "name": (Lower("last_name"), Lower("first_name"), "id"),
    "company": (Lower("company_name"), "id"),
    # Over the scored leads only (every lead is, once a rule set is published), so that
    # PostgreSQL walks leadscore_total_idx instead of sorting a million joined rows.
    "score": ("-score__total", "-score__lead_id"),
}


# A search matching at most this many leads is run as "ids first, then sort"; see search().
SEARCH_ID_LIMIT = 1_000


def matches(q: str, prefix: str = "") -> Q:
    """Leads whose e-mail, first or last name or company contain ``q`` (any case; "ada
    lovelace" spans the first and last name). ``prefix`` reaches the lead through a relation
    (``"lead__"``). The term is upper-cased by the database, as the column was."""
    return Q(**{f"{prefix}search_text__contains": Upper(Value(q))})


# How long a term found to be common is remembered (see matching_ids).
COMMON_TERM_TTL = 10 * 60


def matching_ids(q: str) -> list[int] | None:
    """The ids of every lead that ``q`` matches when at most ``SEARCH_ID_LIMIT`` do (a rare
    term), through the trigram index, newest first (the list's default order: its first page
    is then the first ids); None when more do.

    That a term is common is remembered for ``COMMON_TERM_TTL`` (in the cache): paging
    through a search, its htmx count and the API's next pages ask again, and finding out
    reads a thousand leads (5 of the 8 ms of SQL of a common term's page). Rare terms are
    always looked up, so a new match shows at once. Should a remembered term stop being
    common, its page is still right, by the slower plan."""
    key = "leads:common-term:" + hashlib.sha256(q.upper().encode()).hexdigest()
    if cache.get(key):
        return None
    found = _newest_first(Lead.objects.filter(matches(q)), SEARCH_ID_LIMIT + 1)
    if len(found) > SEARCH_ID_LIMIT:
        cache.set(key, True, COMMON_TERM_TTL)
        return None
    return found


def _newest_first(leads: QuerySet[Lead], limit: int) -> list[int]:
    """The ids of up to ``limit`` of ``leads``, however the database finds them first, then
    sorted newest first.

    Sorted by the database in a query around the lookup: asked for the order in the lookup
    itself, PostgreSQL could walk the newest-first index instead of the trigram index, over
    the whole table for a rare term; the LIMIT inside keeps the lookup's plan. Sorting here
    would need each row's creation time, and Django loads a timestamp with a time zone in
    Python: 1,001 of them cost more than the lookup's SQL."""
    found = leads.order_by().annotate(found_id=F("pk"), found_at=F("created_at"))
    lookup = found.values_list("found_id", "found_at")[:limit].query
    sql, params = lookup.get_compiler(using=leads.db).as_sql()
    with connections[leads.db].cursor() as cursor:
        # The lookup is the ORM's SQL with its parameters apart: nothing from the user is in it.
        cursor.execute(f"SELECT found_id FROM ({sql}) found ORDER BY found_at DESC, found_id DESC", params)  # noqa: S608
        return [pk for (pk,) in cursor.fetchall()]


def search(queryset, q: str):
    """Substring search over e-mail, names and company (trigram-indexed on PostgreSQL).

    Sorted newest first, a rare term makes PostgreSQL walk the created-at index and discard
    most of the table (over a second at a million leads), because it cannot estimate how few
    rows match. So the matching ids are fetched first through the trigram indexes; when
    there are more than ``SEARCH_ID_LIMIT``, the term is common and walking the sorted index
    is the fast plan after all.
    """
    q = q.strip()
    if not q:
        return queryset
    return apply_search(queryset, q, matching_ids(q))


def apply_search(queryset, q: str, ids: list[int] | None):
    """``queryset`` narrowed to the leads ``q`` matches, ``ids`` being ``matching_ids(q)``."""
    return queryset.filter(matches(q)) if ids is None else queryset.filter(id_in(ids, queryset.db))


def id_in(ids: list[int], using: str = "default") -> Q:
    """``pk__in=ids`` with the ids as one array parameter (``leadapp.db.in_values``): for 759
    ids, 1 ms where a literal per id cost Django and the planner a millisecond each."""
    return in_values(Lead, "pk", ids, using)


class CodeField(django_filters.fields.MultipleChoiceField):
    """A multiple choice among fixed codes, validated against a set of the codes. Django walks
    the choices for each value instead, and ``countries`` translates and sorts 250 names on
    every walk: a quarter of a filtered ``GET /api/leads/`` went there."""

    codes: Callable[[], frozenset[str]]

    def valid_value(self, value) -> bool:
        return str(value) in self.codes()


class CodeFilter(django_filters.MultipleChoiceFilter):
    """``codes``: a function returning the set of valid values (cached: the choices are fixed)."""

    field_class = CodeField

    def __init__(self, *args, codes: Callable[[], frozenset[str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.codes = codes

    @property
    def field(self):
        field = super().field
        field.codes = self.codes
        return field


def _fixed(choices) -> Callable[[], frozenset[str]]:
    return functools.cache(lambda: frozenset(str(value) for value, _ in choices))


class LeadFilter(django_filters.FilterSet):
    # distinct=False: these are plain columns of the lead, and DISTINCT over a million rows
    # costs ten times the query.
    q = django_filters.CharFilter(method="filter_q", label="Search")
    stage = CodeFilter(choices=Stage.choices, codes=_fixed(Stage.choices), distinct=False)
    source = CodeFilter(choices=Source.choices, codes=_fixed(Source.choices), distinct=False)
    industry = CodeFilter(choices=Industry.choices, codes=_fixed(Industry.choices), distinct=False)
    country = CodeFilter(choices=countries, codes=_fixed(countries), distinct=False)
    owner = django_filters.ModelChoiceFilter(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        to_field_name="username",
        null_label="Unassigned",
        null_value="none",
    )
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Lead
        fields = ["q", "stage", "source", "industry", "country", "owner"]

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and hasattr(data, "getlist"):
            # A submitted filter form sends "stage=" for "All stages": blank means no filter.
            data = data.copy()
            for key in list(data):
                data.setlist(key, [value for value in data.getlist(key) if value != ""])
        super().__init__(data, *args, **kwargs)

    # Once filtered (``qs``): whether a search term narrowed the list, and what it found
    # (``matching_ids``: None when it matched more than SEARCH_ID_LIMIT leads).
    searched = False
    searched_ids: list[int] | None = None

    def filter_q(self, queryset, name, value):
        q = value.strip()
        if not q:
            return queryset
        self.searched, self.searched_ids = True, matching_ids(q)
        return apply_search(queryset, q, self.searched_ids)
