import time

from django.core.management.base import BaseCommand

from scoring import services


class Command(BaseCommand):
    help = (
        "Rescore every lead with the published rule set now, in this process (the same job "
        "that publishing queues for a worker)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reason", default="Rescored by the rescore command")

    def handle(self, *args, reason, **options):
        started = time.perf_counter()
        job = services.rescore_all(reason=reason)
        if job is None:
            self.stdout.write("No published rule set: nothing to score.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Scored {job.done} leads with {job.rule_set} in {time.perf_counter() - started:.1f}s "
                f"({job.changed} changed)."
            )
        )
