from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from . import notification_views, views

api_patterns = [
    path("", include("leads.api_urls")),
    path("", include("scoring.api_urls")),
    path("", include("nurturing.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # A page for people: an anonymous visitor is sent to the login page, not given a 401.
    path("docs/", login_required(SpectacularRedocView.as_view(url_name="api:schema")), name="docs"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("notifications/", notification_views.notification_list, name="notifications"),
    path("notifications/<int:pk>/", notification_views.notification_open, name="notification-open"),
    path("notifications/read/", notification_views.notification_read_all, name="notifications-read"),
    path("leads/", include("leads.urls")),
    path("scoring/", include("scoring.urls")),
    path("nurturing/", include("nurturing.urls")),
    path("settings/webhooks/", include("leadapp.webhook_urls")),
    path("e/", include("nurturing.public_urls")),
    # E-mail providers' tracking webhooks (bounces, complaints), basic-auth protected.
    path("anymail/", include("anymail.urls")),
    path("", include("leads.public_urls")),
    path("api/", include((api_patterns, "api"))),
    path("admin/", admin.site.urls),
]
