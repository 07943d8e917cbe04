from django import forms

from .models import EVENT_TYPES, WebhookSubscription


class SubscriptionForm(forms.ModelForm):
    target_url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        label="Target URL",
        help_text="https:// (http:// only for localhost or 127.0.0.1).",
        widget=forms.URLInput(attrs={"placeholder": "https://crm.example.com/hooks/leadapp"}),
    )
    event_types = forms.MultipleChoiceField(
        choices=EVENT_TYPES, widget=forms.CheckboxSelectMultiple, help_text="What the receiver is sent."
    )

    class Meta:
        model = WebhookSubscription
        fields = ["name", "target_url", "event_types"]
