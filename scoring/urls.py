from django.urls import path

from . import lead_views, predictive_views, report_views, views

app_name = "scoring"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("grid/", views.grade_grid, name="grid"),
    path("versions/<int:pk>/", views.version_detail, name="version"),
    path("versions/<int:pk>/restore/", views.version_restore, name="version-restore"),
    path("jobs/<int:pk>/", views.job_status, name="job"),
    # The draft editor (Marketing, Admin).
    path("draft/", views.draft, name="draft"),
    path("draft/settings/", views.draft_settings, name="draft-settings"),
    path("draft/preview/", views.draft_preview, name="draft-preview"),
    path("draft/publish/", views.draft_publish, name="draft-publish"),
    path("draft/discard/", views.draft_discard, name="draft-discard"),
    path("draft/groups/", views.group_add, name="draft-group-add"),
    path("draft/groups/<int:pk>/", views.group, name="draft-group"),
    path("draft/groups/<int:pk>/edit/", views.group_edit, name="draft-group-edit"),
    path("draft/groups/<int:pk>/delete/", views.group_delete, name="draft-group-delete"),
    path("draft/groups/<int:pk>/rules/", views.fit_rule_add, name="draft-fit-rule-add"),
    path("draft/fit-rules/<int:pk>/", views.fit_rule, name="draft-fit-rule"),
    path("draft/fit-rules/<int:pk>/edit/", views.fit_rule_edit, name="draft-fit-rule-edit"),
    path("draft/fit-rules/<int:pk>/delete/", views.fit_rule_delete, name="draft-fit-rule-delete"),
    path("draft/engagement-rules/", views.engagement_add, name="draft-engagement-add"),
    path("draft/engagement-rules/<int:pk>/", views.engagement_rule, name="draft-engagement"),
    path("draft/engagement-rules/<int:pk>/edit/", views.engagement_rule_edit, name="draft-engagement-edit"),
    path(
        "draft/engagement-rules/<int:pk>/delete/",
        views.engagement_rule_delete,
        name="draft-engagement-delete",
    ),
    # The report card: how well the published rules pick the leads that convert.
    path("report/", report_views.report, name="report-card"),
    path("report/rules/<slug:kind>/<int:pk>/try/", report_views.try_suggestion, name="report-card-try"),
    # The points a model suggests for the published rules, and a draft with them.
    path("suggestions/", views.model_suggestions, name="suggestions"),
    path("suggestions/draft/", views.suggestions_draft, name="suggestions-draft"),
    # The predictive model: versions, quality, training on demand, activation, settings.
    path("predictive/", predictive_views.overview, name="predictive"),
    path("predictive/train/", predictive_views.train, name="predictive-train"),
    path("predictive/settings/", predictive_views.settings, name="predictive-settings"),
    path("predictive/<int:version>/", predictive_views.version, name="predictive-version"),
    path("predictive/<int:version>/status/", predictive_views.status, name="predictive-status"),
    path("predictive/<int:version>/activate/", predictive_views.activate, name="predictive-activate"),
    # The score panel of the lead page (loaded into it with htmx).
    path("leads/<int:pk>/", lead_views.lead_score, name="lead-score"),
]
