from django import forms
from django.http import QueryDict

from . import lifecycle
from .filters import LeadFilter
from .models import Lead, SavedSegment, Stage, normalize_email

REASON_HELP = "Required for Recycled, Disqualified and Lost, and for a forced change."
FORCE_HELP = "Manager's override: move to any stage, outside the lifecycle rules (a reason is required)."


def _stage_choices(stages) -> list[tuple[str, str]]:
    return [(stage, Stage(stage).label) for stage in stages]


def _check_move(form: forms.Form, field: str, from_stage: str, to_stage: str, reason: str) -> bool:
    """Check a stage move against the rules, as the service will; put the refusal on ``field``.
    Returns whether the move is forced (asked for and needed)."""
    forced = bool(form.cleaned_data.get("force")) and not lifecycle.allowed(from_stage, to_stage)
    try:
        lifecycle.check(from_stage, to_stage, reason=reason, forced=forced)
    except lifecycle.TransitionNotAllowed as exc:
        form.add_error(field, str(exc))
    return forced


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

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = (
            self.fields["owner"].queryset.filter(is_active=True).order_by("username")
        )
        self.fields["custom"].required = False
        self.forced = False
        if self.instance.pk:
            # Editing: the select offers the stage the lead is in and where it may go next (all
            # stages to a manager who may force). The field still accepts every stage, so that
            # a refused one gets the lifecycle's message rather than "not a valid choice".
            current = self.instance.stage
            self.can_force = user is not None and user.has_perm(lifecycle.FORCE_PERMISSION)
            shown = Stage.values if self.can_force else [current, *lifecycle.next_stages(current)]
            self.fields["stage"].widget.choices = _stage_choices(shown)
            self.fields["stage_reason"] = forms.CharField(
                label="Reason", max_length=300, required=False, help_text=REASON_HELP
            )
            if self.can_force:
                self.fields["force"] = forms.BooleanField(
                    label="Force the stage change", required=False, help_text=FORCE_HELP
                )
            order = list(self.fields)
            for name in ("force", "stage_reason"):
                if name in order:
                    order.remove(name)
                    order.insert(order.index("stage") + 1, name)
            self.order_fields(order)

    def clean(self):
        cleaned = super().clean()
        to_stage = cleaned.get("stage")
        if self.instance.pk and to_stage and to_stage != self.instance.stage:
            self.forced = _check_move(
                self, "stage", self.instance.stage, to_stage, cleaned.get("stage_reason", "")
            )
        return cleaned

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


class StageChangeForm(forms.Form):
    """The lead page's "Change stage": Sales and Marketing make the moves the rules allow, a
    manager (``leads.force_stage``) may force any other."""

    to_stage = forms.ChoiceField(label="New stage", choices=Stage.choices)
    reason = forms.CharField(label="Reason", max_length=300, required=False, help_text=REASON_HELP)

    def __init__(self, *args, lead: Lead, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.lead = lead
        self.forced = False
        self.can_force = user.has_perm(lifecycle.FORCE_PERMISSION)
        # Every stage is accepted, only the allowed ones are offered (see LeadForm).
        if self.can_force:
            shown = [stage for stage in Stage.values if stage != lead.stage]
            self.fields["force"] = forms.BooleanField(
                label="Force the stage change", required=False, help_text=FORCE_HELP
            )
        else:
            shown = lifecycle.next_stages(lead.stage)
        self.fields["to_stage"].widget.choices = _stage_choices(shown)
        self.offers_moves = bool(shown)

    def clean(self):
        cleaned = super().clean()
        to_stage = cleaned.get("to_stage")
        if to_stage:
            self.forced = _check_move(self, "to_stage", self.lead.stage, to_stage, cleaned.get("reason", ""))
        return cleaned
