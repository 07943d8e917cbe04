"""The admin's webhook pages: subscriptions, their delivery log, and what may be done to them."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import webhooks
from .models import WebhookDelivery, WebhookSubscription
from .permissions import permission_required
from .webhook_forms import SubscriptionForm

DELIVERY_LOG_SIZE = 50


@require_GET
@permission_required("leadapp.view_webhooksubscription")
def subscription_list(request: HttpRequest) -> HttpResponse:
    subscriptions = list(WebhookSubscription.objects.all())
    disabled = [s for s in subscriptions if not s.active]
    return render(request, "leadapp/webhooks.html", {"subscriptions": subscriptions, "disabled": disabled})


@require_http_methods(["GET", "POST"])
@permission_required("leadapp.view_webhooksubscription", "leadapp.add_webhooksubscription")
def subscription_create(request: HttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        subscription = form.save()
        return _show_secret(request, subscription, created=True)
    return render(request, "leadapp/webhooks_create.html", {"form": form})


@require_GET
@permission_required("leadapp.view_webhooksubscription")
def subscription_detail(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    deliveries = subscription.deliveries.order_by("-created_at", "-pk")[:DELIVERY_LOG_SIZE]
    context = {"subscription": subscription, "deliveries": deliveries}
    if request.htmx:
        return render(request, "leadapp/webhooks_detail.html#delivery-log", context)
    return render(request, "leadapp/webhooks_detail.html", context)


@require_POST
@permission_required("leadapp.view_webhooksubscription", "leadapp.change_webhooksubscription")
def send_test(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    if not subscription.active:
        messages.warning(request, "The subscription is disabled: enable it to send a test event.")
    else:
        webhooks.send_test(subscription)
        messages.success(request, "A test event (ping) is on its way; its delivery appears below.")
    return redirect(subscription)


@require_POST
@permission_required("leadapp.view_webhooksubscription", "leadapp.change_webhooksubscription")
def enable(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    waiting = webhooks.enable(subscription)
    messages.success(request, f"Enabled. {waiting} waiting deliveries are being sent.")
    return redirect(subscription)


@require_POST
@permission_required("leadapp.view_webhooksubscription", "leadapp.change_webhooksubscription")
def rotate_secret(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    webhooks.rotate_secret(subscription)
    return _show_secret(request, subscription, created=False)


@require_POST
@permission_required("leadapp.view_webhooksubscription", "leadapp.change_webhooksubscription")
def redeliver(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    delivery = get_object_or_404(
        WebhookDelivery.objects.select_related("subscription"), pk=delivery_pk, subscription_id=pk
    )
    try:
        webhooks.redeliver(delivery)
    except webhooks.CannotRedeliver as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Delivery {delivery.pk} is being sent again.")
    return redirect(delivery.subscription)


def _show_secret(request: HttpRequest, subscription: WebhookSubscription, *, created: bool) -> HttpResponse:
    """The one page that shows the secret: the answer to the POST that made it, never cached."""
    response = render(
        request, "leadapp/webhooks_secret.html", {"subscription": subscription, "created": created}
    )
    add_never_cache_headers(response)
    return response


def webhooks_context(request: HttpRequest) -> dict:
    """For the nav link: how many subscriptions are disabled (counted only where shown)."""

    def disabled_count() -> int:
        return WebhookSubscription.objects.filter(active=False).count()

    return {"webhooks_disabled": disabled_count}
