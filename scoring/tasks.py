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


@shared_task(name="scoring.train_predictive_model", acks_late=True)
def train_predictive_model(run_id: int) -> int | None:
    """Train (and, if it is not worse, activate) a predictive model version."""
    from . import predictive

    run = predictive.train(run_id)
    return run.pk if run else None


@shared_task(name="scoring.retrain_predictive_model")
def retrain_predictive_model() -> int:
    """Beat, weekly: train a new version on the outcomes known now."""
    from . import predictive

    return predictive.start_training(reason="Weekly retraining").pk


@shared_task(name="scoring.requeue_stale_trainings")
def requeue_stale_trainings() -> int:
    """Beat, every few minutes: start again a training whose worker stopped reporting."""
    from . import predictive

    return predictive.requeue_stale_runs()


@shared_task(name="scoring.predict_leads", acks_late=True)
def predict_leads(lead_ids: list[int]) -> int:
    """Score leads with the active model when the real-time path could not."""
    from django.db import transaction

    from . import predictive

    with transaction.atomic():
        return predictive.score_leads(lead_ids)
