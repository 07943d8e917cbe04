from django.apps import AppConfig


class NurturingConfig(AppConfig):
    """E-mail templates, campaigns and sending: built in the nurturing issue."""

    name = "nurturing"
