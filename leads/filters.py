"""The lead filters, shared by the lead list page and ``GET /api/leads/``."""

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import F, Q
from django_countries import countries

from .models import Industry, Lead, Source, Stage

SORTS = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "recent_activity": (F("last_activity_at").desc(nulls_last=True), "-id"),
    "name": ("last_name", "first_name", "id"),
    "company": ("company_name", "id"),
}


def search(queryset, q: str):
    """Substring search over e-mail, names and company (trigram-indexed on PostgreSQL)."""
    q = q.strip()
    if not q:
        return queryset
    return queryset.filter(
        Q(email__icontains=q)
        | Q(first_name__icontains=q)
        | Q(last_name__icontains=q)
        | Q(company_name__icontains=q)
    )


class LeadFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    stage = django_filters.MultipleChoiceFilter(choices=Stage.choices)
    source = django_filters.MultipleChoiceFilter(choices=Source.choices)
    industry = django_filters.MultipleChoiceFilter(choices=Industry.choices)
    country = django_filters.MultipleChoiceFilter(choices=countries)
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
