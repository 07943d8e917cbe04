from django.urls import path

from . import template_views

urlpatterns = [
    path("templates/", template_views.template_list, name="template_list"),
    path("templates/new/", template_views.template_create, name="template_create"),
    path("templates/preview/", template_views.template_preview, name="template_preview"),
    path("templates/preview/leads/", template_views.template_preview_leads, name="template_preview_leads"),
    path("templates/plain-text/", template_views.template_plain_text, name="template_plain_text"),
    path("templates/<int:pk>/", template_views.template_edit, name="template_edit"),
    path("templates/<int:pk>/duplicate/", template_views.template_duplicate, name="template_duplicate"),
    path("templates/<int:pk>/delete/", template_views.template_delete, name="template_delete"),
]
