"""Synthetic closed and open leads whose outcome depends on known traits, for the predictive
model's tests: leads on the "pro" plan convert far more often, students far less; the country
has no effect. Written set-based (bulk INSERT)."""

import random
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from leads.models import Lead, Stage

CHANCE = {("pro", False): 0.8, ("pro", True): 0.35, ("free", False): 0.3, ("free", True): 0.05}


def make_leads(n: int, *, seed: int = 7, start: int = 0, closed: bool = True, plan_effect: bool = True):
    """``n`` leads with e-mails lead<i>@example.com; closed ones are customer or lost as the
    plan and the job title say (outcomes spread over the last 200 days), open ones are new."""
    rng = random.Random(seed)
    now = timezone.now()
    leads = []
    for i in range(start, start + n):
        plan = rng.choice(["pro", "free"])
        student = rng.random() < 0.3
        country = rng.choice(["de", "fr", "us"])
        won = rng.random() < (CHANCE[(plan, student)] if plan_effect else 0.4)
        created = now - timedelta(days=30)
        closed_at = now - timedelta(days=200 - (i * 37) % 200, minutes=i)
        leads.append(
            Lead(
                email=f"lead{i}@example.com",
                stage=(Stage.CUSTOMER if won else Stage.LOST) if closed else Stage.NEW,
                stage_changed_at=closed_at if closed else created,
                custom={"plan": plan, "home_country": country, "visits": str(rng.randint(0, 20))},
                job_title="Student" if student else rng.choice(["Engineer", "Manager", "Director"]),
            )
        )
    Lead.objects.bulk_create(leads, batch_size=1000)
    # created_at is set on insert (auto_now_add): back-date it in one statement per lead set.
    made = Lead.objects.filter(email__in=[lead.email for lead in leads])
    made.update(created_at=F("stage_changed_at") - timedelta(days=30))
    return list(made.order_by("id"))
