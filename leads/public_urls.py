"""Public endpoints: no login, rate-limited, safe to expose (hosted forms, tracking)."""

from django.urls import path

from . import public_tracking_views, public_views

app_name = "public"
urlpatterns = [
    # --- hosted and embedded forms (/f/...) ---
    path("f/<slug:slug>/", public_views.form_page, name="form"),
    path("f/<slug:slug>/embed.json", public_views.form_embed, name="form-embed"),
    path("f/<slug:slug>/submit", public_views.form_submit, name="form-submit"),
    path("f/<slug:slug>/thanks/", public_views.form_thanks, name="form-thanks"),
    # --- page tracking (/t/...) ---
    path("t/pv", public_tracking_views.page_view, name="track-page-view"),
]
