from django.urls import path

from . import conversion_views, form_views, import_views, segment_views, views

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
    path("segments/", segment_views.segment_create, name="segment-create"),
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
