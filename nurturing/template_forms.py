"""The e-mail template editor's form. The HTML body is cleaned (``sanitize.clean_html``) when the
form is valid; the template language is checked by ``EmailTemplate.clean`` (run by the
ModelForm), so both kinds of mistakes show beside their field."""

from django import forms

from .models import EmailTemplate
from .sanitize import MergeTagError, clean_html

# Gmail clips a message after about 100 kB; twice that is surely a paste gone wrong.
MAX_HTML = 200_000


class EmailTemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = ["name", "subject", "preheader", "html_body", "text_body"]
        widgets = {
            "html_body": forms.Textarea(attrs={"rows": 18, "class": "code", "spellcheck": "false"}),
            "text_body": forms.Textarea(attrs={"rows": 8, "class": "code"}),
        }

    def clean_html_body(self) -> str:
        html = self.cleaned_data["html_body"]
        if len(html) > MAX_HTML:
            raise forms.ValidationError(f"At most {MAX_HTML:,} characters (this is {len(html):,}).")
        try:
            return clean_html(html)
        except MergeTagError as error:
            raise forms.ValidationError(str(error)) from None
