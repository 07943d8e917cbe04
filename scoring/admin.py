from django.contrib import admin, messages

from . import services
from .models import EngagementRule, FitGroup, FitRule, LeadScore, RuleSet, ScoreChange, ScoringJob


class DraftOnly:
    """Only a draft is edited (publishing one is how rules change); a published or archived
    version is shown read-only, and a change to the draft marks its preview out of date."""

    def rule_set_of(self, obj) -> RuleSet | None:
        return obj if isinstance(obj, RuleSet) else getattr(obj, "rule_set", None)

    def has_change_permission(self, request, obj=None):
        rule_set = self.rule_set_of(obj)
        return super().has_change_permission(request, obj) and (rule_set is None or rule_set.is_draft)

    def has_delete_permission(self, request, obj=None):
        rule_set = self.rule_set_of(obj)
        return super().has_delete_permission(request, obj) and (rule_set is None or rule_set.is_draft)

    def has_add_permission(self, request, obj=None):
        rule_set = self.rule_set_of(obj)
        return super().has_add_permission(request, *([obj] if self.is_inline else [])) and (
            rule_set is None or rule_set.is_draft
        )

    is_inline = False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        rule_set = self.rule_set_of(obj)
        if rule_set is not None:
            services.touch_draft(rule_set)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        rule_set = self.rule_set_of(form.instance)
        if rule_set is not None:
            services.touch_draft(rule_set)


class FitGroupInline(DraftOnly, admin.TabularInline):
    model = FitGroup
    extra = 0
    is_inline = True
    show_change_link = True  # its rules are edited on the group's page


class EngagementRuleInline(DraftOnly, admin.TabularInline):
    model = EngagementRule
    extra = 0
    is_inline = True


@admin.register(RuleSet)
class RuleSetAdmin(DraftOnly, admin.ModelAdmin):
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

    @admin.action(description="Publish (or restore) and rescore every lead", permissions=["publish"])
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

    def has_publish_permission(self, request):
        return request.user.has_perm("scoring.change_ruleset")


class FitRuleInline(DraftOnly, admin.TabularInline):
    model = FitRule
    extra = 0
    is_inline = True

    def rule_set_of(self, obj):
        return (
            obj.rule_set
            if isinstance(obj, FitGroup)
            else getattr(getattr(obj, "group", None), "rule_set", None)
        )


@admin.register(FitGroup)
class FitGroupAdmin(DraftOnly, admin.ModelAdmin):
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
