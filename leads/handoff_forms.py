"""Forms of the handoff pages: the SDR's queue (touches, rejections, reassignment) and the
manager's teams and routing rules."""

from datetime import timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_countries import countries

from leadapp import roles
from scoring.models import Grade

from .handoff import OUTCOMES, Touch
from .models import ActivityKind, CompanySize, Industry, RoutingRule, Source, Team

TOUCH_KINDS = [
    (ActivityKind.CALL, "Call"),
    (ActivityKind.SALES_EMAIL, "E-mail"),
    (ActivityKind.MEETING, "Meeting"),
]
REJECT_REASONS = [
    "Not the right contact",
    "No budget",
    "Not ready to buy",
    "Student or job seeker",
    "Competitor",
    "Already a customer",
]


def sales_users():
    """People a lead can be given to: active users of the Sales role."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=roles.SALES)
        .order_by("first_name", "last_name", "username")
        .distinct()
    )


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        return user.get_full_name() or user.username


class UserMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user):
        return user.get_full_name() or user.username


class TouchForm(forms.Form):
    kind = forms.ChoiceField(
        choices=TOUCH_KINDS, initial=ActivityKind.CALL, widget=forms.RadioSelect, label="What"
    )
    outcome = forms.ChoiceField(choices=[("", "Outcome…"), *OUTCOMES])
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    next_step = forms.CharField(required=False, max_length=300, label="Next step")
    next_step_due = forms.DateTimeField(
        required=False,
        label="Due",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )

    def clean(self):
        data = super().clean()
        if data.get("next_step_due") and not data.get("next_step", "").strip():
            self.add_error("next_step", "Say what the next step is.")
        due = data.get("next_step_due")
        if due and due < timezone.now() - timedelta(minutes=5):
            self.add_error("next_step_due", "A next step is due in the future.")
        return data

    def touch(self) -> Touch:
        data = self.cleaned_data
        return Touch(
            kind=data["kind"],
            outcome=data["outcome"],
            notes=data["notes"],
            next_step=data["next_step"],
            next_step_due=data["next_step_due"],
        )


class RejectForm(forms.Form):
    reason = forms.CharField(
        max_length=250,
        label="Why",
        widget=forms.TextInput(
            attrs={"list": "reject-reasons", "placeholder": "Why send it back to marketing?"}
        ),
    )


class ReassignForm(forms.Form):
    to = UserChoiceField(queryset=sales_users(), required=False, empty_label="The pool (anyone may claim it)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = sales_users()


class TeamForm(forms.ModelForm):
    members = UserMultipleChoiceField(
        queryset=sales_users(), required=False, widget=forms.CheckboxSelectMultiple
    )
    manager = UserChoiceField(
        queryset=get_user_model().objects.none(), required=False, empty_label="Every manager"
    )

    class Meta:
        model = Team
        fields = ["name", "manager", "members"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = sales_users()
        self.fields["manager"].queryset = (
            get_user_model().objects.filter(is_active=True, groups__name=roles.MANAGER).distinct()
        )


def _checkboxes(choices, label):
    return forms.MultipleChoiceField(
        choices=choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=label,
        help_text="None: any.",
    )


class RoutingRuleForm(forms.ModelForm):
    countries = forms.CharField(
        required=False,
        label="Countries",
        help_text="ISO codes separated by commas, e.g. DE, AT, CH. Blank: any.",
    )
    industries = _checkboxes(Industry.choices, "Industries")
    company_sizes = _checkboxes(CompanySize.choices, "Company sizes")
    sources = _checkboxes(Source.choices, "Sources")
    grades = _checkboxes(Grade.choices, "Fit grades")
    user = UserChoiceField(queryset=get_user_model().objects.none(), required=False, label="Or a person")

    class Meta:
        model = RoutingRule
        fields = [
            "name",
            "active",
            "countries",
            "industries",
            "company_sizes",
            "sources",
            "grades",
            "team",
            "user",
            "strategy",
            "cap",
            "accept_within",
            "touch_within",
            "reassign_on_breach",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = sales_users()
        self.fields["team"].queryset = Team.objects.all()
        if self.instance.pk:
            self.initial["countries"] = ", ".join(self.instance.countries)

    def clean_countries(self):
        codes = [code.strip().upper() for code in self.cleaned_data["countries"].split(",") if code.strip()]
        unknown = [code for code in codes if code not in dict(countries)]
        if unknown:
            raise forms.ValidationError(f"Not a country code: {', '.join(unknown)}.")
        return codes

    def clean(self):
        data = super().clean()
        if not data.get("team") and not data.get("user"):
            raise forms.ValidationError("Send the leads to a team or to a person.")
        if data.get("team") and data.get("user"):
            raise forms.ValidationError("Choose a team or a person, not both.")
        if data.get("accept_within") == 0 or data.get("touch_within") == 0:
            raise forms.ValidationError("An SLA of 0 business hours is always missed: give at least 1.")
        return data
