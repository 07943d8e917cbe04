"""``manage.py refresh_funnel``: (re)build the reports' funnel rows from the stage history, the
handoffs and the opportunities, for every lead (a range of ids at a time)."""

import time

from django.core.management.base import BaseCommand

from leads import reports


class Command(BaseCommand):
    help = "Rebuild the funnel rows the KPI dashboard reads (all leads; safe to run any time)."

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        count = reports.refresh_funnel()
        self.stdout.write(f"Funnel rows of {count} leads rebuilt in {time.perf_counter() - started:.1f}s.")
