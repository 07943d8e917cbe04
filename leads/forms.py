from django import forms
from django.conf import settings
from django.http import QueryDict
from django.utils import timezone

from . import lifecycle
from .filters import LeadFilter
from .models import Lead, LostReason, Opportunity, SavedSegment, Stage, normalize_email

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


# --- Conversion (the lead page's "Conversion" section; see leads/conversion.py) --------------

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": 0}


class QualifyForm(forms.Form):
    """SAL → SQL, with what the SDR learned (BANT: need and timeline are required)."""

    action = "qualify"
    url_name = "leads:qualify"
    title = "Qualify"
    submit = "Qualify (SQL)"
    budget = forms.CharField(max_length=200, required=False, help_text="Is there money for it, how much?")
    authority = forms.CharField(
        max_length=200, required=False, help_text="Who decides, and are we talking to them?"
    )
    need = forms.CharField(max_length=300, help_text="The problem they want solved.")
    timeline = forms.CharField(max_length=200, help_text="When they mean to buy.")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class OpportunityForm(forms.Form):
    action = "opportunity"
    url_name = "leads:open-opportunity"
    title = "Open an opportunity"
    submit = "Open opportunity"
    amount = forms.DecimalField(**MONEY)
    currency = forms.CharField(min_length=3, max_length=3, required=False)
    expected_close_date = forms.DateField(widget=DATE_INPUT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].initial = settings.LEADAPP_CURRENCY
        self.fields["currency"].help_text = f"Three letters; {settings.LEADAPP_CURRENCY} if left blank."


class WonForm(forms.Form):
    action = "won"
    url_name = "leads:won"
    title = "Won"
    submit = "Mark won"
    value = forms.DecimalField(**MONEY, required=False, help_text="The opportunity's amount if left blank.")
    won_date = forms.DateField(widget=DATE_INPUT, initial=timezone.localdate)


class LostForm(forms.Form):
    action = "lost"
    url_name = "leads:lost"
    title = "Lost"
    submit = "Mark lost"
    lost_reason = forms.ModelChoiceField(
        label="Reason", queryset=LostReason.objects.filter(active=True), empty_label="Choose a reason"
    )
    lost_note = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 2}), required=False)


CONVERSION_FORMS = {form.action: form for form in (QualifyForm, OpportunityForm, WonForm, LostForm)}


def conversion_panel(lead: Lead, *, can_convert: bool, submitted: forms.Form | None = None) -> dict:
    """What the lead page's "Conversion" section shows: the qualification, the opportunity and
    its outcome, and (to a user who works leads) the forms that fit the lead's stage, the one
    just submitted in place of its blank copy."""
    opportunity = (
        Opportunity.objects.filter(lead=lead).select_related("lost_reason", "opened_by", "closed_by").first()
    )
    panel = {
        "qualification": lead.qualifications.select_related("qualified_by").first(),
        "opportunity": opportunity,
        "forms": [],
    }
    if can_convert:
        if lead.stage == Stage.SAL:
            actions = ["qualify"]
        elif lead.stage == Stage.SQL:
            actions = ["opportunity"]
        elif lead.stage == Stage.OPPORTUNITY:
            has_open = opportunity is not None and opportunity.status == Opportunity.Status.OPEN
            actions = ["won", "lost"] if has_open else ["opportunity"]
        else:
            actions = []
        chosen = submitted.action if submitted is not None else None
        panel["forms"] = [submitted if action == chosen else CONVERSION_FORMS[action]() for action in actions]
        if chosen and chosen not in actions:
            # The lead moved on (a second submit, a colleague): say why, offer what fits now.
            panel["refusal"] = " ".join(str(e) for errors in submitted.errors.values() for e in errors)
    panel["shown"] = bool(panel["qualification"] or opportunity or panel["forms"])
    return panel
