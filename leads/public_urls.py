"""Public endpoints: no login, rate-limited, safe to expose (hosted forms, tracking)."""

from django.urls import path  # noqa: F401 - used as the routes below are added

app_name = "public"
urlpatterns: list = [
    # --- hosted and embedded forms (/f/...) ---
    # --- page tracking (/t/...) ---
]
