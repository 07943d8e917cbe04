from django.contrib import admin

from .models import Activity, Lead, StageChange


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
    search_fields = ["email", "first_name", "last_name", "company_name"]
    raw_id_fields = ["owner"]
    readonly_fields = ["created_at", "updated_at", "last_activity_at", "stage_changed_at"]
    show_full_result_count = False  # COUNT(*) over a million leads on every page is not worth it
    inlines = [StageChangeInline]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["lead", "kind", "occurred_at", "source"]
    list_filter = ["kind", "source"]
    raw_id_fields = ["lead", "created_by"]
    search_fields = ["lead__email", "external_id"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    list_display = ["lead", "from_stage", "to_stage", "changed_at", "changed_by", "forced"]
    list_filter = ["to_stage", "forced"]
    raw_id_fields = ["lead", "changed_by"]
    show_full_result_count = False
