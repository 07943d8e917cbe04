from django.urls import path

from . import webhook_views as views

app_name = "webhooks"

urlpatterns = [
    path("", views.subscription_list, name="list"),
    path("new/", views.subscription_create, name="create"),
    path("<int:pk>/", views.subscription_detail, name="detail"),
    path("<int:pk>/test/", views.send_test, name="test"),
    path("<int:pk>/enable/", views.enable, name="enable"),
    path("<int:pk>/rotate/", views.rotate_secret, name="rotate"),
    path("<int:pk>/deliveries/<int:delivery_pk>/redeliver/", views.redeliver, name="redeliver"),
]
