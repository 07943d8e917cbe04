"""Campaigns follow what happens to leads: a lead that converts or is accepted by sales
leaves its campaigns at once, and one that a trigger now matches is enrolled."""

import logging

from django.db import transaction
from django.dispatch import receiver

from leadapp.db import in_values
from leads.signals import leads_changed

from . import services
from .models import Enrollment

log = logging.getLogger(__name__)


@receiver(leads_changed, dispatch_uid="nurturing.follow_changed_leads")
def follow_changed_leads(sender, lead_ids, reason, **kwargs):
    # A savepoint: the lead's change stays stored if this fails; beat enrolls a minute later
    # and the dispatcher checks the exits again before every step.
    try:
        with transaction.atomic():
            if Enrollment.objects.filter(
                in_values(Enrollment, "lead", list(lead_ids)), status=Enrollment.Status.ACTIVE
            ).exists():
                services.exit_leads(lead_ids)
            services.enroll_triggered(lead_ids)
    except Exception:
        log.exception("Following %d changed lead(s) in campaigns failed; beat catches up", len(lead_ids))
