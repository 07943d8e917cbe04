"""The forms of the campaign pages: a new campaign, its settings, a step of the step builder,
and enrolling a lead by hand. The models say what is valid (``Campaign.clean``,
``Step.clean``, run by the ModelForms); these forms only shape the input."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Q
from django.utils.text import capfirst

from leads.models import Lead, normalize_email

from .models import SETTABLE_FIELDS, BranchOn, Campaign, EmailTemplate, Step

WEEKDAYS = [(str(n), name) for n, name in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])]

# The fields of each kind of step (and, for a branch, of each condition) in the order shown.
KIND_FIELDS: dict[str, list[str]] = {
    Step.Kind.SEND_EMAIL: ["template"],
    Step.Kind.WAIT: ["wait_days", "wait_hours", "wait_weekdays", "wait_from_hour", "wait_to_hour"],
    Step.Kind.BRANCH: ["branch_on"],
    Step.Kind.SET_FIELD: ["field", "value"],
    Step.Kind.NOTIFY_OWNER: ["note"],
    Step.Kind.MOVE_TO_CAMPAIGN: ["target"],
    Step.Kind.END: [],
}
BRANCH_FIELDS: dict[str, list[str]] = {
    "": [],
    BranchOn.SCORE: ["value"],
    BranchOn.GRADE: ["value"],
    BranchOn.STAGE: ["value"],
    BranchOn.ATTRIBUTE: ["field", "operator", "value", "value_max"],
    BranchOn.OPENED: ["ref_step"],
    BranchOn.CLICKED: ["ref_step"],
    BranchOn.ACTIVITY: ["activity_kind"],
}
BRANCH_TARGETS = ["yes_step", "no_step"]
BRANCH_VALUE_LABELS = {
    BranchOn.SCORE: ("At least (points)", "The lead's total score."),
    BranchOn.GRADE: ("Grades", "One or more, separated by commas, e.g. A, B."),
    BranchOn.STAGE: ("Stages", "One or more, separated by commas, e.g. mql, sal."),
}
STEP_FIELDS = [
    "kind",
    "template",
    "wait_days",
    "wait_hours",
    "wait_weekdays",
    "wait_from_hour",
    "wait_to_hour",
    "branch_on",
    "field",
    "operator",
    "value",
    "value_max",
    "ref_step",
    "activity_kind",
    "yes_step",
    "no_step",
    "note",
    "target",
]


class NewCampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class CampaignSettingsForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "name",
            "description",
            "trigger",
            "trigger_form",
            "trigger_grade",
            "trigger_stage",
            "trigger_segment",
            "reenroll",
            "goal_activity",
            "from_name",
            "from_email",
            "reply_to",
        ]
        labels = {
            "trigger": "Leads enter",
            "trigger_form": "Form (for “a form is submitted”)",
            "trigger_grade": "Grade (for “a lead reaches a grade”)",
            "trigger_stage": "Stage (for “a lead reaches a stage”)",
            "trigger_segment": "Segment (for “a lead matches a saved segment”)",
            "goal_activity": "Goal",
            "from_name": "From name",
            "from_email": "From e-mail",
            "reply_to": "Reply-to",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def clean(self):
        cleaned = super().clean()
        # Only the field of the chosen trigger is kept: a leftover one would be saved unseen.
        chosen = f"trigger_{cleaned.get('trigger')}"
        for name in ("trigger_form", "trigger_grade", "trigger_stage", "trigger_segment"):
            if name != chosen and name in cleaned:
                cleaned[name] = "" if name in ("trigger_grade", "trigger_stage") else None
        return cleaned


class StepForm(forms.ModelForm):
    """One step; only the fields of its kind (and, for a branch, of its condition) are in
    the form. ``kind`` and ``branch_on`` are read from the submitted data, else the step."""

    wait_weekdays = forms.MultipleChoiceField(
        label="Only on",
        choices=WEEKDAYS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any day.",
    )

    class Meta:
        model = Step
        fields = STEP_FIELDS
        labels = {
            "template": "E-mail",
            "wait_days": "Days",
            "wait_hours": "Hours",
            "wait_from_hour": "From hour",
            "wait_to_hour": "To hour",
            "branch_on": "Condition",
            "operator": "Comparison",
            "activity_kind": "Activity",
            "note": "Note to the owner",
            "target": "Campaign",
        }
        help_texts = {
            "yes_step": "Blank: the next step.",
            "no_step": "Blank: the next step.",
        }

    def __init__(self, *args, campaign: Campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        self.instance.campaign = campaign
        self.kind = (
            self.instance.kind
            if self.instance.pk
            else self._chosen("kind", self.instance.kind, Step.Kind.values)
        )
        self.branch_on = self._chosen("branch_on", self.instance.branch_on, BranchOn.values)
        if isinstance(self.initial.get("wait_weekdays"), str):  # "01234" from the step: the boxes
            self.initial["wait_weekdays"] = list(self.initial["wait_weekdays"])
        self.shown = self._shown_fields()
        for name in list(self.fields):
            if name not in self.shown:
                del self.fields[name]
        self._shape_fields()

    def _chosen(self, name: str, current: str, allowed) -> str:
        source = self.data if self.is_bound else self.initial
        value = source.get(self.add_prefix(name) if self.is_bound else name, current)
        return value if value in allowed else current

    def _shown_fields(self) -> list[str]:
        shown = ["kind", *KIND_FIELDS[self.kind]]
        if self.kind == Step.Kind.BRANCH:
            shown += BRANCH_FIELDS[self.branch_on] + BRANCH_TARGETS
        return shown

    def _shape_fields(self) -> None:
        fields = self.fields
        if self.instance.pk:  # the kind of a saved step stays: remove it and add another instead
            fields["kind"].disabled = True
        if "branch_on" in fields:
            fields["branch_on"].required = True
        steps = Step.objects.filter(campaign=self.campaign, removed=False).select_related("template")
        # Steps are named by their number on the page (1, 2, 3 …), not by their position.
        numbers = {
            pk: n for n, pk in enumerate(steps.order_by("position", "pk").values_list("pk", flat=True), 1)
        }

        def label(step: Step) -> str:
            return f"{numbers.get(step.pk, '?')}. {step.describe_step()}"

        if self.instance.pk:
            steps = steps.exclude(pk=self.instance.pk)
        if "template" in fields:
            fields["template"].queryset = EmailTemplate.objects.all()
            fields["template"].required = True
        if "ref_step" in fields:
            earlier = steps.filter(kind=Step.Kind.SEND_EMAIL)
            if self.instance.pk:
                earlier = earlier.filter(
                    Q(position__lt=self.instance.position)
                    | Q(position=self.instance.position, pk__lt=self.instance.pk)
                )
            fields["ref_step"].queryset = earlier
            fields["ref_step"].required = True
            fields["ref_step"].label_from_instance = label
        for name in BRANCH_TARGETS:
            if name in fields:
                fields[name].queryset = steps
                fields[name].label_from_instance = label
                fields[name].empty_label = "The next step"
        if "target" in fields:
            fields["target"].queryset = Campaign.objects.exclude(pk=self.campaign.pk).exclude(
                status=Campaign.Status.ARCHIVED
            )
            fields["target"].required = True
        if "field" in fields:
            if self.kind == Step.Kind.SET_FIELD:
                fields["field"] = forms.ChoiceField(
                    label="Field",
                    choices=[("", "---------")]
                    + [(name, capfirst(Lead._meta.get_field(name).verbose_name)) for name in SETTABLE_FIELDS],
                )
            else:
                fields["field"].label = "Lead field"
                fields["field"].required = True
        if "value" in fields:
            label, help_text = BRANCH_VALUE_LABELS.get(self.branch_on, ("Value", ""))
            if self.kind == Step.Kind.SET_FIELD:
                label, help_text = (
                    "New value",
                    "For the stage: new, mql, sal, sql, opportunity, customer, lost.",
                )
            fields["value"].label, fields["value"].help_text = label, help_text
        if "activity_kind" in fields:
            fields["activity_kind"].required = True
        if "wait_from_hour" in fields:
            fields["wait_from_hour"].widget.attrs.update(min=0, max=24)
            fields["wait_to_hour"].widget.attrs.update(min=0, max=24)

    def clean_kind(self):
        return self.instance.kind if self.instance.pk else self.cleaned_data["kind"]

    def clean_wait_weekdays(self):
        return "".join(sorted(set(self.cleaned_data.get("wait_weekdays") or [])))

    def _post_clean(self):
        # What the other kinds (and conditions) use goes back to blank: a leftover value would
        # be kept unseen and could still steer the step.
        defaults = Step()
        for name in STEP_FIELDS:
            if name not in self.shown and name != "kind":
                setattr(self.instance, name, getattr(defaults, name))
        super()._post_clean()

    def _update_errors(self, errors: ValidationError) -> None:
        # Step.clean may blame a field this kind does not show: say it above the form instead.
        if hasattr(errors, "error_dict"):
            moved = {}
            for name, messages in errors.error_dict.items():
                key = name if name in self.fields or name == NON_FIELD_ERRORS else NON_FIELD_ERRORS
                moved.setdefault(key, []).extend(messages)
            errors = ValidationError(moved)
        super()._update_errors(errors)


class EnrollLeadForm(forms.Form):
    """A lead by its e-mail or its ID."""

    lead = forms.CharField(label="Lead", max_length=254, help_text="The lead's e-mail or ID.")

    def clean_lead(self) -> Lead:
        raw = self.cleaned_data["lead"].strip()
        lead = None
        if raw.isdigit():
            lead = Lead.objects.filter(pk=int(raw)).first()
        if lead is None:
            lead = Lead.objects.filter(email=normalize_email(raw)).first()
        if lead is None:
            raise ValidationError("No lead has this e-mail or ID.")
        return lead


class CampaignChoiceForm(forms.Form):
    """A campaign to enroll leads in: one of those that accept leads now."""

    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.none(), empty_label="Choose a campaign", label="Campaign"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.filter(status=Campaign.Status.ACTIVE).order_by(
            "name", "id"
        )
