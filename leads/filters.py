"""The lead filters, shared by the lead list page and ``GET /api/leads/``."""

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import F, Q
from django.db.models.functions import Lower
from django_countries import countries

from .models import Industry, Lead, Source, Stage

SORTS = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "recent_activity": (F("last_activity_at").desc(nulls_last=True), "-id"),
    # Case-insensitive, like people read names; served by lead_name_idx / lead_company_idx.
    "name": (Lower("last_name"), Lower("first_name"), "id"),
    "company": (Lower("company_name"), "id"),
    # Over the scored leads only (every lead is, once a rule set is published), so that
    # PostgreSQL walks leadscore_total_idx instead of sorting a million joined rows.
    "score": ("-score__total", "-score__lead_id"),
}


# A search matching at most this many leads is run as "ids first, then sort"; see search().
SEARCH_ID_LIMIT = 1_000


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
    matches = (
        Q(email__icontains=q)
        | Q(first_name__icontains=q)
        | Q(last_name__icontains=q)
        | Q(company_name__icontains=q)
    )
    ids = list(Lead.objects.filter(matches).order_by().values_list("pk", flat=True)[: SEARCH_ID_LIMIT + 1])
    if len(ids) > SEARCH_ID_LIMIT:
        return queryset.filter(matches)
    return queryset.filter(pk__in=ids)


class LeadFilter(django_filters.FilterSet):
    # distinct=False: these are plain columns of the lead, and DISTINCT over a million rows
    # costs ten times the query.
    q = django_filters.CharFilter(method="filter_q", label="Search")
    stage = django_filters.MultipleChoiceFilter(choices=Stage.choices, distinct=False)
    source = django_filters.MultipleChoiceFilter(choices=Source.choices, distinct=False)
    industry = django_filters.MultipleChoiceFilter(choices=Industry.choices, distinct=False)
    country = django_filters.MultipleChoiceFilter(choices=countries, distinct=False)
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

    def filter_q(self, queryset, name, value):
        return search(queryset, value)
