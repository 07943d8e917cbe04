from django.urls import path

from . import campaign_views as views

campaign = "campaigns/<int:pk>/"
step = f"{campaign}steps/<int:step_pk>/"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path(campaign, views.campaign, name="campaign"),
    path(f"{campaign}settings/", views.campaign_settings, name="campaign_settings"),
    path(f"{campaign}status/", views.campaign_status, name="campaign_status"),
    # the step builder
    path(f"{campaign}steps/", views.steps, name="steps"),
    path(f"{campaign}steps/fields/", views.step_fields, name="step_fields"),
    path(f"{campaign}steps/add/", views.step_add, name="step_add"),
    path(f"{step}edit/", views.step_edit, name="step_edit"),
    path(f"{step}move/", views.step_move, name="step_move"),
    path(f"{step}delete/", views.step_delete, name="step_delete"),
    # enrollments
    path(f"{campaign}enrollments/", views.enrollment_add, name="enrollment_add"),
    path(
        f"{campaign}enrollments/<int:enrollment_pk>/remove/",
        views.enrollment_remove,
        name="enrollment_remove",
    ),
    # the report
    path(f"{campaign}report/", views.campaign_report, name="campaign_report"),
    path(f"{campaign}report.csv", views.campaign_report_csv, name="campaign_report_csv"),
    # from the lead pages
    path("leads/<int:lead_pk>/campaigns/", views.lead_campaigns, name="lead_campaigns"),
    path("leads/<int:lead_pk>/enroll/", views.enroll_lead, name="enroll_lead"),
    path("enroll/", views.enroll_bulk, name="enroll_bulk"),
]
