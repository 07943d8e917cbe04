"""The form builder's own Django forms: a new form, its settings, one of its fields."""

from django import forms
from django.core.validators import URLValidator

from . import form_builder
from .form_builder import COLUMN_KINDS, EMAIL_COLUMN, LEAD_COLUMNS, RESERVED_NAMES, RESERVED_PREFIX
from .models import CaptureForm, FieldKind, FormField
from .submissions import CHOICE_COLUMNS, column_choice, column_choice_labels

CHOICE_KINDS = {FieldKind.SELECT, FieldKind.MULTISELECT}


class NewCaptureFormForm(forms.ModelForm):
    slug = forms.SlugField(
        max_length=80,
        required=False,
        help_text="The hosted page is /f/<slug>/. Leave empty: made from the name.",
    )

    class Meta:
        model = CaptureForm
        fields = ["name", "slug"]

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug")
        if not slug and self.cleaned_data.get("name"):
            slug = form_builder.unique_slug(self.cleaned_data["name"])
        return slug


class CaptureFormSettingsForm(forms.ModelForm):
    redirect_url = forms.URLField(
        max_length=500,
        required=False,
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],
        label="Redirect URL",
        help_text="After submitting, go to this page instead of showing the success message.",
    )

    class Meta:
        model = CaptureForm
        fields = [
            "name",
            "slug",
            "title",
            "intro",
            "submit_label",
            "success_message",
            "redirect_url",
            "consent_enabled",
            "consent_text",
            "default_source",
        ]
        labels = {"slug": "Slug (web address)", "intro": "Introduction", "default_source": "Default source"}
        help_texts = {
            "slug": "The hosted page is /f/<slug>/. Changing it breaks links and snippets already out there.",
            "consent_text": "Shown beside the consent checkbox; stored with each consent, word for word.",
            "default_source": "The source of a new lead when the page URL carries no UTM parameters.",
        }
        widgets = {
            "intro": forms.Textarea(attrs={"rows": 3}),
            "success_message": forms.Textarea(attrs={"rows": 2}),
            "consent_text": forms.Textarea(attrs={"rows": 2}),
        }

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("consent_enabled") and not (cleaned.get("consent_text") or "").strip():
            self.add_error("consent_text", "Write the words the person agrees to.")
        return cleaned


class FormFieldForm(forms.ModelForm):
    name = forms.SlugField(
        max_length=60,
        required=False,
        label="Key",
        help_text="The key in the submission and the custom attribute. Empty: made from the label.",
    )
    options = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Choices of a select field, one per line.",
    )
    maps_to = forms.ChoiceField(
        required=False,
        label="Store in",
        choices=[("", "Custom attribute (under the field name)"), *LEAD_COLUMNS],
    )

    class Meta:
        model = FormField
        fields = ["label", "kind", "name", "required", "placeholder", "help_text", "options", "maps_to"]
        fields += ["default_value"]
        labels = {"default_value": "Value (hidden field)", "kind": "Kind"}
        help_texts = {"default_value": "What a hidden field sends, e.g. a campaign name."}

    def __init__(self, *args, capture_form: CaptureForm, **kwargs):
        super().__init__(*args, **kwargs)
        self.capture_form = capture_form
        if self.instance.pk:
            self.initial["options"] = "\n".join(self.instance.options or [])
        if self.is_email_field:
            # Identifies the lead: what it is, its key and its mapping are fixed.
            self.fields["maps_to"].choices = [(EMAIL_COLUMN, "E-mail (identifies the lead)")]
            for name in ("kind", "name", "maps_to", "required"):
                self.fields[name].disabled = True

    @property
    def is_email_field(self) -> bool:
        return self.instance.pk is not None and self.instance.maps_to == EMAIL_COLUMN

    def clean_options(self) -> list[str]:
        options, seen = [], set()
        for line in (self.cleaned_data.get("options") or "").splitlines():
            option = line.strip()
            if option and option.lower() not in seen:
                seen.add(option.lower())
                options.append(option[:200])
        return options

    def clean(self):
        cleaned = super().clean()
        if self.is_email_field:
            return cleaned
        kind = cleaned.get("kind")
        maps_to = cleaned.get("maps_to") or ""
        options = cleaned.get("options") or []
        self._clean_name(cleaned)
        if maps_to:
            others = self.capture_form.fields.exclude(pk=self.instance.pk)
            if others.filter(maps_to=maps_to).exists():
                self.add_error(
                    "maps_to", f"Another field already fills {form_builder.COLUMN_LABELS[maps_to]}."
                )
            elif kind and kind not in COLUMN_KINDS:
                label = FieldKind(kind).label.lower()
                self.add_error("maps_to", f"A {label} field can only be stored as a custom attribute.")
            elif kind == FieldKind.SELECT and maps_to in CHOICE_COLUMNS and not options:
                options = cleaned["options"] = column_choice_labels(maps_to)
            elif kind == FieldKind.SELECT and maps_to in CHOICE_COLUMNS:
                bad = [o for o in options if column_choice(maps_to, o) is None]
                if bad:
                    self.add_error(
                        "options",
                        f"Not a valid {form_builder.COLUMN_LABELS[maps_to].lower()}: {', '.join(bad)}.",
                    )
            elif kind == FieldKind.HIDDEN and maps_to in CHOICE_COLUMNS:
                value = cleaned.get("default_value") or ""
                if value and column_choice(maps_to, value) is None:
                    label = form_builder.COLUMN_LABELS[maps_to].lower()
                    self.add_error("default_value", f"Not a valid {label}: {value}.")
        if kind in CHOICE_KINDS and not options:
            self.add_error("options", "A select field needs at least one option (one per line).")
        if kind == FieldKind.HIDDEN:
            cleaned["required"] = False
        return cleaned

    def _clean_name(self, cleaned) -> None:
        name = cleaned.get("name") or form_builder.field_name_for(cleaned.get("label") or "")
        cleaned["name"] = name
        if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIX):
            self.add_error("name", f"“{name}” is reserved for LeadApp; choose another name.")
        elif self.capture_form.fields.exclude(pk=self.instance.pk).filter(name=name).exists():
            self.add_error("name", f"This form already has a field named “{name}”.")
