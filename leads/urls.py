from django.urls import path

from . import conversion_views, form_views, import_views, queue_views, routing_views, segment_views, views

app_name = "leads"
urlpatterns = [
    path("", views.lead_list, name="list"),
    path("new/", views.lead_create, name="create"),
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("<int:pk>/edit/", views.lead_edit, name="edit"),
    path("<int:pk>/stage/", views.lead_stage, name="stage"),
    path("<int:pk>/timeline/", views.lead_timeline, name="timeline"),
    path("<int:pk>/qualify/", conversion_views.lead_qualify, name="qualify"),
    path("<int:pk>/opportunity/", conversion_views.lead_open_opportunity, name="open-opportunity"),
    path("<int:pk>/won/", conversion_views.lead_won, name="won"),
    path("<int:pk>/lost/", conversion_views.lead_lost, name="lost"),
    path("<int:pk>/sales/", queue_views.lead_panel, name="handoff-panel"),
    path("segments/", segment_views.segment_create, name="segment-create"),
    # --- handoff to sales: the SDR queue, teams and routing rules ---
    path("queue/", queue_views.queue, name="queue"),
    path("queue/<int:pk>/", queue_views.panel, name="queue-panel"),
    path("queue/<int:pk>/claim/", queue_views.claim, name="queue-claim"),
    path("queue/<int:pk>/accept/", queue_views.accept, name="queue-accept"),
    path("queue/<int:pk>/reject/", queue_views.reject, name="queue-reject"),
    path("queue/<int:pk>/touch/", queue_views.touch, name="queue-touch"),
    path("queue/<int:pk>/reassign/", queue_views.reassign, name="queue-reassign"),
    path("reminders/<int:pk>/done/", queue_views.reminder_done, name="reminder-done"),
    path("routing/", routing_views.rule_list, name="routing"),
    path("routing/new/", routing_views.rule_create, name="routing-create"),
    path("routing/<int:pk>/", routing_views.rule_edit, name="routing-edit"),
    path("routing/<int:pk>/move/", routing_views.rule_move, name="routing-move"),
    path("routing/<int:pk>/delete/", routing_views.rule_delete, name="routing-delete"),
    path("teams/new/", routing_views.team_create, name="team-create"),
    path("teams/<int:pk>/", routing_views.team_edit, name="team-edit"),
    # --- form builder (marketer UI): /leads/forms/... ---
    path("forms/", form_views.form_list, name="form-list"),
    path("forms/new/", form_views.form_create, name="form-create"),
    path("forms/<int:pk>/", form_views.form_edit, name="form-edit"),
    path("forms/<int:pk>/preview/", form_views.form_preview, name="form-preview"),
    path("forms/<int:pk>/status/", form_views.form_status, name="form-status"),
    path("forms/<int:pk>/fields/", form_views.field_add, name="form-field-add"),
    path("forms/<int:pk>/fields/<int:field_pk>/", form_views.field_edit, name="form-field-edit"),
    path("forms/<int:pk>/fields/<int:field_pk>/move/", form_views.field_move, name="form-field-move"),
    path("forms/<int:pk>/fields/<int:field_pk>/delete/", form_views.field_delete, name="form-field-delete"),
    # --- CSV import and export: /leads/imports/..., /leads/export.csv ---
    path("imports/", import_views.import_list, name="import-list"),
    path("imports/<int:pk>/", import_views.import_detail, name="import-detail"),
    path("imports/<int:pk>/status/", import_views.import_status, name="import-status"),
    path("imports/<int:pk>/bad-rows.csv", import_views.import_errors_csv, name="import-errors-csv"),
    path("export.csv", import_views.lead_export, name="export"),
]
