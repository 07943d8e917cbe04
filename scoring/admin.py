from django.contrib import admin, messages

from . import services
from .models import EngagementRule, FitGroup, FitRule, LeadScore, RuleSet, ScoreChange, ScoringJob


class FitGroupInline(admin.TabularInline):
    model = FitGroup
    extra = 0
    show_change_link = True  # its rules are edited on the group's page


class EngagementRuleInline(admin.TabularInline):
    model = EngagementRule
    extra = 0


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "version", "published_at", "mql_threshold", "half_life_days"]
    list_filter = ["status"]
    readonly_fields = [
        "status",
        "version",
        "based_on",
        "created_by",
        "created_at",
        "published_at",
        "published_by",
    ]
    inlines = [FitGroupInline, EngagementRuleInline]
    actions = ["publish_and_rescore"]

    @admin.action(description="Publish (or restore) and rescore every lead")
    def publish_and_rescore(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one rule set.", messages.ERROR)
            return
        rule_set = queryset.get()
        try:
            services.publish(rule_set, by=request.user)
        except ValueError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"{rule_set} is published; every lead is being rescored.")


class FitRuleInline(admin.TabularInline):
    model = FitRule
    extra = 0


@admin.register(FitGroup)
class FitGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "rule_set", "max_points", "position"]
    list_filter = ["rule_set"]
    inlines = [FitRuleInline]


@admin.register(LeadScore)
class LeadScoreAdmin(admin.ModelAdmin):
    list_display = ["lead", "total", "fit", "engagement", "grade", "temperature", "rule_set", "scored_at"]
    list_filter = ["grade", "temperature"]
    raw_id_fields = ["lead"]
    readonly_fields = [f.name for f in LeadScore._meta.fields]

    def has_add_permission(self, request):
        return False  # scores are computed, never typed in


@admin.register(ScoreChange)
class ScoreChangeAdmin(admin.ModelAdmin):
    list_display = ["lead", "changed_at", "total", "delta", "reason"]
    raw_id_fields = ["lead"]
    readonly_fields = [f.name for f in ScoreChange._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(ScoringJob)
class ScoringJobAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "done", "total", "changed", "created_at", "finished_at"]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in ScoringJob._meta.fields]

    def has_add_permission(self, request):
        return False
