from django import forms

from leads.models import normalize_email

from .models import Suppression


class SuppressionForm(forms.Form):
    """An address a marketer puts on the suppression list by hand."""

    email = forms.EmailField(max_length=254, label="E-mail")
    detail = forms.CharField(max_length=400, required=False, label="Why (for the team)")

    def clean_email(self) -> str:
        email = normalize_email(self.cleaned_data["email"])
        existing = Suppression.objects.filter(email=email).first()
        if existing:
            raise forms.ValidationError(f"{email} is on the list already ({existing.get_reason_display()}).")
        return email
