from django.urls import path
from rest_framework.routers import DefaultRouter

from . import api

router = DefaultRouter()
router.register("leads", api.LeadViewSet, basename="lead")

urlpatterns = [
    path("events/", api.EventView.as_view(), name="event-create"),
    path("events/batch/", api.EventBatchView.as_view(), name="event-batch"),
    *router.urls,
]
