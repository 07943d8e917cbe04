from django import forms

from .models import Lead, normalize_email


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
