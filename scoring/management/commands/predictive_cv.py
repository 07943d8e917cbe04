"""Cross-validated quality of the predictive model on the closed leads in the database."""

from django.core.management.base import BaseCommand, CommandParser

from scoring import predictive
from scoring.models import PredictiveSettings


class Command(BaseCommand):
    help = (
        "k-fold stratified cross-validated ROC AUC of the predictive model on the closed leads, "
        "through the product's own feature building and training (nothing is stored)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--folds", type=int, default=5)
        parser.add_argument(
            "--exclude",
            nargs="*",
            default=None,
            help="Custom attributes to leave out (default: the predictive settings' list).",
        )

    def handle(self, *args, folds: int, exclude: list[str] | None, **options) -> None:
        excluded = PredictiveSettings.load().excluded_attributes if exclude is None else exclude
        data = predictive.closed_leads()
        predictive.check_enough(data)
        auc = predictive.cross_validated_auc(data, excluded_attributes=excluded, folds=folds)
        won = sum(data.won)
        self.stdout.write(
            f"{len(data):,} closed leads ({won:,} customers); left out: {', '.join(excluded) or 'nothing'}\n"
            f"{folds}-fold cross-validated ROC AUC: {auc:.4f}"
        )
