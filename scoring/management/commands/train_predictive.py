"""Train a predictive model version now, in the foreground (the same path as "Train now")."""

from django.core.management.base import BaseCommand, CommandParser

from scoring import predictive
from scoring.models import PredictiveModel


class Command(BaseCommand):
    help = "Train a predictive model version on the closed leads now, and activate it if it is not worse."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-none", action="store_true", help="Only when no version was ever trained (used by ./start)."
        )

    def handle(self, *args, if_none: bool, **options) -> None:
        if if_none and PredictiveModel.objects.exists():
            self.stdout.write("A predictive model was trained already: nothing to do.")
            return
        run = predictive.start_training(reason="From the command line", enqueue=False)
        run = predictive.train(run.pk) or PredictiveModel.objects.get(pk=run.pk)
        if run.status in (PredictiveModel.Status.REFUSED, PredictiveModel.Status.FAILED):
            self.stdout.write(self.style.WARNING(f"{run}: {run.message}"))
            return
        outcome = (
            f"{run.scored_leads:,} open leads scored."
            if run.status == PredictiveModel.Status.ACTIVE
            else run.message
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{run} trained on {run.trained_on:,} closed leads, ROC AUC {run.auc:.3f} on the newest "
                f"{run.holdout_size:,}: {run.get_status_display().lower()}. {outcome}"
            )
        )
