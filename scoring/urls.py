from django.urls import path

from . import lead_views, views

app_name = "scoring"

urlpatterns = [
    path("", views.overview, name="overview"),
    # The score panel of the lead page (loaded into it with htmx).
    path("leads/<int:pk>/", lead_views.lead_score, name="lead-score"),
]
