"""Celery tasks of the leads app: thin, idempotent wrappers around services."""

from celery import shared_task

from . import imports, submissions

# --- form submissions ---


@shared_task(name="leads.process_pending_submissions")
def process_pending_submissions() -> int:
    """Beat, every minute: process the form submissions whose processing failed or never ran."""
    return submissions.process_pending()


# --- events stored by large batches ---


@shared_task(name="leads.follow_up_pending", acks_late=True)
def follow_up_pending() -> int:
    """After each large batch of events, and from beat every minute: the follow-up (last
    activity time, scores, campaigns) of the batches stored and not yet followed up."""
    from . import services

    return services.follow_up_pending()


# --- CSV import ---


@shared_task(name="leads.run_import", acks_late=True)
def run_import(import_id: int) -> None:
    """Run or resume a CSV import; a re-delivered task carries on after the last committed chunk."""
    imports.run_import(import_id)


@shared_task(name="leads.requeue_stale_imports")
def requeue_stale_imports() -> int:
    """Beat, every minute: queue again the imports whose worker stopped reporting."""
    return imports.requeue_stale_imports()


# --- handoff ---


@shared_task(name="leads.check_slas")
def check_slas() -> int:
    """Beat, every minute: record the SLA deadlines that passed (telling the manager and,
    where a rule says so, reassigning), and announce the reminders that are due."""
    from . import handoff

    breaches = handoff.check_slas()
    handoff.remind_due()
    return breaches


# --- reports ---


@shared_task(name="leads.refresh_funnel")
def refresh_funnel(minutes: int = 15) -> int:
    """Beat, every 5 minutes: bring the funnel rows (and the engagement roll-up) of the leads
    changed in the last ``minutes`` up to date (the overlap covers a late or missed run; the
    nightly full rebuild covers the rest)."""
    from . import reports

    return reports.refresh_changed(minutes)


@shared_task(name="leads.rebuild_funnel")
def rebuild_funnel() -> int:
    """Beat, at night: rewrite every lead's funnel row from the history (and the engagement
    roll-up from the activities: only what changed is written)."""
    from . import reports

    return reports.refresh_funnel()
