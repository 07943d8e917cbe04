from django.urls import path

from . import outbox_views

urlpatterns = [
    path("outbox/", outbox_views.outbox, name="outbox"),
    path("outbox/<int:pk>/", outbox_views.message, name="message"),
    path("suppressions/", outbox_views.suppressions, name="suppressions"),
    path("suppressions/export.csv", outbox_views.suppressions_export, name="suppressions_export"),
    path("suppressions/<int:pk>/delete/", outbox_views.suppression_delete, name="suppression_delete"),
    path("audiences/", outbox_views.audiences, name="audiences"),
    path("audiences/<int:pk>.csv", outbox_views.audience_export, name="audience_export"),
]
