"""Celery tasks of the scoring app: thin, idempotent wrappers around services."""

from celery import shared_task

from . import services


@shared_task(name="scoring.run_scoring_job", acks_late=True)
def run_scoring_job(job_id: int) -> None:
    """Run or resume a rescore or preview job; a re-delivered task carries on after the last chunk."""
    services.run_job(job_id)


@shared_task(name="scoring.requeue_stale_jobs")
def requeue_stale_jobs() -> int:
    """Beat, every minute: queue again the jobs whose worker stopped reporting."""
    return services.requeue_stale_jobs()


@shared_task(name="scoring.refresh_scores")
def refresh_scores() -> int | None:
    """Beat, nightly: rescore every lead so that decay and windows are current."""
    job = services.refresh_scores()
    return job.pk if job else None


@shared_task(name="scoring.rescore_leads", acks_late=True)
def rescore_leads(lead_ids: list[int], reason: str) -> int:
    """Score leads whose real-time scoring failed (idempotent: a score is recomputed whole)."""
    from django.db import transaction

    with transaction.atomic():
        return len(services.rescore_leads(lead_ids, reason=reason))
