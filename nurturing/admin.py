from django.contrib import admin

from .models import Campaign, EmailTemplate, Enrollment, Message, Step, Suppression
from .template_forms import EmailTemplateForm


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    form = EmailTemplateForm  # the editor's form: the HTML is sanitized here too
    list_display = ["name", "subject", "updated_at"]
    search_fields = ["name", "subject"]


class StepInline(admin.StackedInline):
    model = Step
    fk_name = "campaign"
    extra = 0
    raw_id_fields = ["template", "ref_step", "yes_step", "no_step", "target"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "trigger", "activated_at"]
    list_filter = ["status", "trigger"]
    search_fields = ["name"]
    inlines = [StepInline]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ["lead", "campaign", "status", "step", "due_at", "exit_reason"]
    list_filter = ["status", "exit_reason", "campaign"]
    raw_id_fields = ["lead", "step", "enrolled_by"]
    list_select_related = ["lead", "campaign", "step"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["to_email", "subject", "campaign", "status", "sent_at", "opened_at", "clicked_at"]
    list_filter = ["status", "kind", "campaign"]
    search_fields = ["to_email", "key", "message_id"]
    raw_id_fields = ["lead", "enrollment", "step"]
    list_select_related = ["campaign"]
    readonly_fields = ["key", "token", "message_id", "html", "text", "created_at", "sent_at"]


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["email", "reason", "created_at"]
    list_filter = ["reason"]
    search_fields = ["email"]
    raw_id_fields = ["message"]
