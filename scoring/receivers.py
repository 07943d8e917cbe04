"""Real-time scoring: a lead changed or did something, so its score moves now."""

import logging

from django.db import transaction
from django.dispatch import receiver

from leads.signals import leads_changed

from . import services

log = logging.getLogger(__name__)


@receiver(leads_changed, dispatch_uid="scoring.rescore_changed_leads")
def rescore_changed_leads(sender, lead_ids, reason, new_activities_after=None, **kwargs):
    # A savepoint: the change that was stored stays stored even if scoring fails (a lock
    # timeout, a deadlock with a rescore job); a worker then scores the leads again, and
    # should the broker be down too, the nightly refresh does.
    try:
        with transaction.atomic():
            services.rescore_leads(lead_ids, reason=reason, new_activities_after=new_activities_after)
    except Exception:
        log.exception("Real-time scoring failed for %d lead(s); queued to a worker", len(lead_ids))
        from .tasks import rescore_leads

        ids = sorted(lead_ids)
        transaction.on_commit(lambda: rescore_leads.delay(ids, reason), robust=True)


@receiver(leads_changed, dispatch_uid="scoring.predict_changed_leads")
def predict_changed_leads(sender, lead_ids, reason, **kwargs):
    # After the points (connected after the receiver above): where the chance drives the
    # grade, the grade is set from the new points and the new chance. Like the points, a
    # failure here never loses the stored change: a worker scores the leads again.
    from . import predictive

    try:
        with transaction.atomic():
            predictive.score_leads(lead_ids)
    except Exception:
        log.exception("Real-time predictive scoring failed for %d lead(s); queued to a worker", len(lead_ids))
        from .tasks import predict_leads

        ids = sorted(lead_ids)
        transaction.on_commit(lambda: predict_leads.delay(ids), robust=True)
