from django.urls import path

from . import api

urlpatterns = [
    path("campaigns/", api.CampaignListView.as_view(), name="campaign-list"),
    path("campaigns/<int:id>/enrollments/", api.CampaignEnrollmentsView.as_view(), name="campaign-enroll"),
    path(
        "campaigns/<int:id>/enrollments/<int:lead_id>/",
        api.CampaignEnrollmentView.as_view(),
        name="campaign-unenroll",
    ),
]
