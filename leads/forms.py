from django import forms
from django.http import QueryDict

from .filters import LeadFilter
from .models import Lead, SavedSegment, normalize_email


class LeadForm(forms.ModelForm):
    website = forms.URLField(max_length=300, required=False, assume_scheme="https")

    class Meta:
        model = Lead
        fields = [
            "email",
            "first_name",
            "last_name",
            "phone",
            "job_title",
            "company_name",
            "company_size",
            "industry",
            "country",
            "website",
            "source",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "stage",
            "owner",
            "marketing_consent",
            "custom",
        ]
        help_texts = {"custom": 'Attributes without a column, as JSON: {"plan": "pro"}.'}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = (
            self.fields["owner"].queryset.filter(is_active=True).order_by("username")
        )
        self.fields["custom"].required = False

    def clean_custom(self) -> dict:
        custom = self.cleaned_data.get("custom")
        if custom in (None, ""):
            return {}
        if not isinstance(custom, dict):
            raise forms.ValidationError('Must be a JSON object, e.g. {"plan": "pro"}.')
        return custom

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])


# What the lead list's address carries that is not a filter.
NOT_FILTERS = ("page", "sort")


class SavedSegmentForm(forms.ModelForm):
    """A name for the lead list's filters (``query``: its query string, without the page
    and the sort)."""

    class Meta:
        model = SavedSegment
        fields = ["name", "query"]
        widgets = {"query": forms.HiddenInput}
        error_messages = {"name": {"unique": "A segment with this name exists already."}}

    def clean_query(self) -> str:
        params = QueryDict(self.cleaned_data.get("query") or "", mutable=True)
        for name in NOT_FILTERS:
            params.pop(name, None)
        for key in list(params):
            params.setlist(key, [value for value in params.getlist(key) if value != ""])
            if not params.getlist(key):
                del params[key]
        filterset = LeadFilter(params, queryset=Lead.objects.none())
        if not filterset.is_valid():
            raise forms.ValidationError("These filters are not valid.")
        unknown = set(params) - set(filterset.filters)
        if unknown:
            raise forms.ValidationError(f"Not a filter of the lead list: {', '.join(sorted(unknown))}.")
        return params.urlencode()
