"""Links in campaign e-mails: no login, rate-limited, safe to expose."""

from django.urls import path

from . import public_views

app_name = "nurturing_public"
urlpatterns = [
    path("o/<uuid:token>/", public_views.open_pixel, name="open"),
    path("c/<str:signed>/", public_views.click, name="click"),
    path("u/<uuid:token>/", public_views.unsubscribe, name="unsubscribe"),
    path("p/<uuid:token>/", public_views.preferences, name="preferences"),
]
