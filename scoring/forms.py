"""The forms of the scoring page's draft editor: the settings of the draft, its fit groups and
rules, its engagement rules. The rules themselves say what is valid (``clean()`` on the models,
run by the ModelForms); these forms only shape the input."""

from django import forms
from django.utils.text import capfirst

from leads.models import ActivityKind, Lead

from .models import FIT_FIELDS, EngagementRule, FitGroup, FitRule, Operator, RuleSet

CUSTOM_FIELD = "custom"
CUSTOM_PREFIX = "custom."

FIELD_CHOICES = [
    ("Lead field", [(name, capfirst(Lead._meta.get_field(name).verbose_name)) for name in FIT_FIELDS]),
    ("Other", [(CUSTOM_FIELD, "Custom attribute (name it beside)")]),
]
# Stage changes are never engagement (EngagementRule.clean says so): not offered at all.
ENGAGEMENT_KINDS = [choice for choice in ActivityKind.choices if choice[0] != ActivityKind.STAGE_CHANGED]


class RuleSetSettingsForm(forms.ModelForm):
    class Meta:
        model = RuleSet
        fields = [
            "name",
            "warm_threshold",
            "hot_threshold",
            "grade_a_threshold",
            "grade_b_threshold",
            "grade_c_threshold",
            "drive",
            "blend_weight",
            "chance_grade_a",
            "chance_grade_b",
            "chance_grade_c",
            "mql_threshold",
            "half_life_days",
            "inactivity_days",
            "inactivity_points",
        ]
        labels = {
            "warm_threshold": "Warm from",
            "hot_threshold": "Hot from",
            "grade_a_threshold": "Grade A from",
            "grade_b_threshold": "Grade B from",
            "grade_c_threshold": "Grade C from",
            "mql_threshold": "MQL from",
            "half_life_days": "Half-life (days)",
            "inactivity_days": "Inactive after (days)",
            "inactivity_points": "Points when inactive",
            "drive": "Grades come from",
            "blend_weight": "Weight of the predictive score (%)",
            "chance_grade_a": "Grade A from a chance of (%)",
            "chance_grade_b": "Grade B from a chance of (%)",
            "chance_grade_c": "Grade C from a chance of (%)",
        }
        help_texts = {
            "drive": "What sets a lead's grade A–D, and so the order of the SDR queue and routing by "
            "grade. Points: the fit points and the grade thresholds above. Predictive score: the "
            "model's chance (0–100 %) that the lead becomes a customer. A blend: a weighted mix of "
            "the two, the fit points counted as a share of the grade-A threshold (at or above it: "
            "100 %). A lead the model has not scored yet is graded by its points.",
            "blend_weight": "Only for a blend: how much the predictive score counts. 70 means 70 % "
            "predictive score and 30 % points; 0 is the points alone, 100 the predictive score alone.",
            "chance_grade_a": "Predictive score or blend: a lead whose chance (or blend) is at least "
            "this is grade A.",
            "chance_grade_b": "At least this, below A: grade B. Must be lower than A.",
            "chance_grade_c": "At least this, below B: grade C; lower: D. Must be lower than B.",
        }


class FitGroupForm(forms.ModelForm):
    class Meta:
        model = FitGroup
        fields = ["name", "max_points"]
        labels = {"name": "Group name", "max_points": "At most (points)"}


def _only_for_ranges(cleaned: dict) -> None:
    # A maximum left over from an earlier "in range" would be kept unseen.
    if cleaned.get("operator") != Operator.IN_RANGE:
        cleaned["value_max"] = ""


class FitRuleForm(forms.ModelForm):
    """The lead field is a select of the lead's columns; a custom attribute is the "custom"
    choice plus its name, stored as ``custom.<name>``."""

    field = forms.ChoiceField(label="Lead field", choices=FIELD_CHOICES)
    custom_name = forms.CharField(
        label="Custom attribute",
        required=False,
        max_length=FitRule._meta.get_field("field").max_length - len(CUSTOM_PREFIX),
        help_text="For a custom attribute: its name, e.g. plan.",
    )

    class Meta:
        model = FitRule
        fields = ["field", "operator", "value", "value_max", "points"]
        labels = {"value": "Value", "value_max": "Maximum"}
        help_texts = {
            "value": "Several alternatives: separate them with commas. For a range: the minimum.",
            "value_max": "Only for “is a number in range”.",
        }

    field_order = ["field", "custom_name", "operator", "value", "value_max", "points"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._custom = False
        if self.instance.field.startswith(CUSTOM_PREFIX):
            self.initial["field"] = CUSTOM_FIELD
            self.initial["custom_name"] = self.instance.field.removeprefix(CUSTOM_PREFIX)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("field") == CUSTOM_FIELD:
            self._custom = True
            name = (cleaned.get("custom_name") or "").strip()
            if name:
                cleaned["field"] = CUSTOM_PREFIX + name
            else:
                self.add_error("custom_name", "Enter the name of the custom attribute.")
        else:
            cleaned["custom_name"] = ""
        _only_for_ranges(cleaned)
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        # FitRule.clean() blames "field" for a bad custom name: show it beside the name.
        if self._custom and "field" in self._errors:
            errors = self._errors.pop("field")
            self._errors.setdefault("custom_name", errors)


class EngagementRuleForm(forms.ModelForm):
    activity_kind = forms.ChoiceField(label="Activity", choices=ENGAGEMENT_KINDS)

    class Meta:
        model = EngagementRule
        fields = [
            "name",
            "activity_kind",
            "property_name",
            "operator",
            "value",
            "value_max",
            "points",
            "max_occurrences",
            "max_points",
            "window_days",
            "hand_raise",
            "decays",
        ]
        labels = {
            "property_name": "Property (optional)",
            "value": "Value",
            "value_max": "Maximum",
            "points": "Points each time",
            "max_occurrences": "Count at most (times)",
            "max_points": "At most (points)",
            "window_days": "Within (days)",
            "decays": "Decays with the half-life",
        }
        help_texts = {
            "operator": "With a property: how its value is compared.",
            "value": "Several alternatives: separate them with commas. For a range: the minimum.",
            "value_max": "Only for “is a number in range”.",
        }

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("property_name") or "").strip():
            # Without a property every activity of the kind counts: no condition to keep.
            cleaned.update(operator=Operator.EQUALS, value="", value_max="")
        _only_for_ranges(cleaned)
        return cleaned
