from django.contrib import admin

from . import filters
from .models import (
    Activity,
    CaptureForm,
    Consent,
    FormField,
    Handoff,
    Lead,
    LeadImport,
    LostReason,
    Opportunity,
    PendingFollowUp,
    Qualification,
    Reminder,
    RoutingRule,
    SavedSegment,
    SlaBreach,
    StageChange,
    Submission,
    Team,
    Visitor,
)


class StageChangeInline(admin.TabularInline):
    model = StageChange
    extra = 0
    fields = ["changed_at", "from_stage", "to_stage", "changed_by", "reason", "forced"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-changed_at"]


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "first_name",
        "last_name",
        "company_name",
        "stage",
        "source",
        "owner",
        "created_at",
    ]
    list_filter = ["stage", "source", "created_via", "industry", "company_size"]
    search_fields = ["email"]  # shows the search box; the search itself is the lead list's
    search_help_text = "E-mail, name or company (any part, any case)."
    raw_id_fields = ["owner"]
    readonly_fields = ["created_at", "updated_at", "last_activity_at", "stage_changed_at"]
    show_full_result_count = False  # COUNT(*) over a million leads on every page is not worth it
    inlines = [StageChangeInline]

    @admin.display(description="last activity")
    def last_activity_at(self, lead: Lead):
        return lead.last_activity.at

    def get_search_results(self, request, queryset, search_term):
        # The trigram-indexed search column (filters.matches), not four UPPER() LIKEs that
        # read every lead.
        term = search_term.strip()
        return (queryset.filter(filters.matches(term)) if term else queryset), False


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["lead", "kind", "occurred_at", "source"]
    list_filter = ["kind", "source"]
    raw_id_fields = ["lead", "created_by"]
    search_fields = ["lead__email", "external_id"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False


@admin.register(PendingFollowUp)
class PendingFollowUpAdmin(admin.ModelAdmin):
    """What a worker has still to follow up (read-only: the queue empties itself)."""

    list_display = ["queued_at", "lead_count", "source", "kinds"]
    readonly_fields = ["lead_ids", "kinds", "source", "new_activities_after", "queued_at"]

    @admin.display(description="leads")
    def lead_count(self, obj) -> int:
        return len(obj.lead_ids)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    list_display = ["lead", "from_stage", "to_stage", "changed_at", "changed_by", "forced"]
    list_filter = ["to_stage", "forced"]
    raw_id_fields = ["lead", "changed_by"]
    show_full_result_count = False


# --- capture forms ---


class FormFieldInline(admin.TabularInline):
    model = FormField
    extra = 0
    fields = ["position", "kind", "name", "label", "required", "maps_to", "options", "default_value"]


@admin.register(CaptureForm)
class CaptureFormAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "status", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name", "slug"]
    raw_id_fields = ["created_by"]
    inlines = [FormFieldInline]


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["form", "lead", "submitted_at", "processed_at", "error"]
    list_filter = ["form", ("processed_at", admin.EmptyFieldListFilter)]
    raw_id_fields = ["lead"]
    readonly_fields = ["submitted_at"]
    date_hierarchy = "submitted_at"
    show_full_result_count = False


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ["lead", "given", "method", "recorded_at"]
    list_filter = ["given"]
    raw_id_fields = ["lead", "submission"]
    readonly_fields = ["recorded_at"]


# --- page tracking and CSV import ---


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ["id", "lead", "first_seen_at", "last_seen_at"]
    raw_id_fields = ["lead"]
    search_fields = ["id", "lead__email"]
    show_full_result_count = False


@admin.register(LeadImport)
class LeadImportAdmin(admin.ModelAdmin):
    list_display = [
        "filename",
        "status",
        "total_rows",
        "processed_rows",
        "error_count",
        "created_by",
        "created_at",
    ]
    list_filter = ["status"]
    exclude = ["content"]  # the file itself: up to 50 MB
    raw_id_fields = ["created_by"]
    readonly_fields = [
        "filename",
        "delimiter",
        "headers",
        "total_rows",
        "processed_rows",
        "created_count",
        "updated_count",
        "skipped_count",
        "error_count",
        "started_at",
        "finished_at",
        "heartbeat_at",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("content")


@admin.register(SavedSegment)
class SavedSegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "query", "created_at"]
    search_fields = ["name"]


# --- conversion ---


@admin.register(LostReason)
class LostReasonAdmin(admin.ModelAdmin):
    """The reasons an SDR picks from when an opportunity is lost: retire one (untick active)
    rather than delete it; one in use cannot be deleted."""

    list_display = ["name", "active", "position"]
    list_editable = ["active", "position"]
    list_filter = ["active"]
    search_fields = ["name"]


@admin.register(Qualification)
class QualificationAdmin(admin.ModelAdmin):
    list_display = ["lead", "need", "timeline", "qualified_by", "qualified_at"]
    raw_id_fields = ["lead", "qualified_by"]
    search_fields = ["lead__email", "need"]
    show_full_result_count = False


@admin.register(Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    list_display = ["lead", "amount", "currency", "status", "expected_close_date", "lost_reason"]
    list_filter = ["status", "lost_reason"]
    raw_id_fields = ["lead", "opened_by", "closed_by"]
    search_fields = ["lead__email"]
    show_full_result_count = False


# --- Handoff: the pages (/leads/routing/, /leads/queue/) are where people work; the admin is
# for looking things up and repairs. Ownership changes belong to the queue's reassign, which
# keeps the lead, the SLA clock and the CRM in step: handoffs are read-only here.


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "manager"]
    filter_horizontal = ["members"]
    search_fields = ["name"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "position",
        "active",
        "team",
        "user",
        "strategy",
        "cap",
        "accept_within",
        "touch_within",
    ]
    list_editable = ["position", "active"]
    list_filter = ["active", "strategy", "team"]
    raw_id_fields = ["user", "last_assigned"]


class SlaBreachInline(admin.TabularInline):
    model = SlaBreach
    extra = 0
    fields = ["kind", "owner", "due_at", "recorded_at", "reassigned_to", "to_pool"]
    readonly_fields = fields
    can_delete = False


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    list_display = ["lead", "status", "owner", "hand_raise", "handed_at", "accepted_at", "due_at", "outcome"]
    list_filter = ["status", "hand_raise", "team"]
    raw_id_fields = ["lead", "owner"]
    search_fields = ["lead__email"]
    inlines = [SlaBreachInline]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(SlaBreach)
class SlaBreachAdmin(admin.ModelAdmin):
    list_display = ["handoff", "kind", "owner", "team", "due_at", "recorded_at", "reassigned_to"]
    list_filter = ["kind", "team"]
    raw_id_fields = ["handoff", "owner", "reassigned_to"]


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ["text", "lead", "owner", "due_at", "done_at", "notified_at"]
    raw_id_fields = ["lead", "owner"]
    list_filter = ["done_at"]
