from django.urls import path

from . import api

urlpatterns = [
    path("leads/<int:id>/score/", api.LeadScoreView.as_view(), name="lead-score"),
]
