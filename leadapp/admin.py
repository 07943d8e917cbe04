from django.contrib import admin

from .models import Notification, WebhookDelivery, WebhookSubscription, WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "pid", "seen_at"]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    # The secret is not shown here: the webhooks page shows it once, and rotates it.
    list_display = ["name", "target_url", "active", "consecutive_failures", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "target_url"]
    readonly_fields = ["disabled_at", "consecutive_failures", "created_at"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "subscription",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
    ]
    list_filter = ["status", "event_type"]
    list_select_related = ["subscription"]
    raw_id_fields = ["subscription"]
    readonly_fields = ["event_id", "created_at", "delivered_at", "claimed_at", "enqueued_at"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["text", "user", "kind", "created_at", "read_at", "email", "email_attempts"]
    list_filter = ["kind", "email"]
    raw_id_fields = ["user"]
    search_fields = ["text", "user__username"]
