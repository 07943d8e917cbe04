"""``manage.py import_history FILE``: import closed historical leads with their outcomes (or any
lead file) through the CSV import, in this process: upload, mapping, run, then the counts."""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from leads import imports
from leads.history_presets import PRESETS, PresetError, preset_mapping
from leads.models import LeadImport, Source

ERRORS_SHOWN = 20


class Command(BaseCommand):
    help = (
        "Import a CSV file of past leads with their outcomes (see docs/history-import.md): "
        "create_import, start_import and run_import in this process, no worker needed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The CSV file (UTF-8; comma, semicolon or tab).")
        how = parser.add_mutually_exclusive_group()
        how.add_argument(
            "--mapping",
            metavar="MAPPING.json",
            help='A JSON object: column header -> target ("email", "outcome", "external_id", '
            '"created_at", "closed_at", a lead field, "custom:<name>", or "" to ignore). A column '
            "it does not name is ignored. Without --mapping or --preset: the suggested mapping.",
        )
        how.add_argument("--preset", choices=sorted(PRESETS), help="A known file's mapping.")
        parser.add_argument("--source", default=Source.OTHER, choices=Source.values, help="Of new leads.")
        parser.add_argument(
            "--on-existing",
            default=LeadImport.OnExisting.UPDATE,
            choices=LeadImport.OnExisting.values,
            help="What a row of a lead that exists already does (its stage is kept either way).",
        )

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        try:
            lead_import = imports.create_import(content=content, filename=path.name)
        except imports.ImportFileError as exc:
            raise CommandError(str(exc)) from None
        try:
            mapping = self._mapping(lead_import, options)
            imports.start_import(
                lead_import,
                mapping=mapping,
                on_existing=options["on_existing"],
                source=options["source"],
                enqueue=False,  # run here, below: no worker involved
            )
        except (PresetError, ValidationError, CommandError) as exc:
            lead_import.delete()  # never started: nothing to keep
            messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            raise CommandError("Not imported:\n  " + "\n  ".join(messages)) from None
        rows = lead_import.total_rows
        self.stdout.write(f"Importing {path.name}: {rows:,} rows (import #{lead_import.pk}) …")
        try:
            imports.run_import(lead_import.pk)
        except Exception as exc:
            raise CommandError(f"The import stopped: {type(exc).__name__}: {exc}") from exc
        lead_import.refresh_from_db()
        self._report(lead_import)

    def _mapping(self, lead_import: LeadImport, options) -> dict[str, str]:
        if options["preset"]:
            return preset_mapping(options["preset"], lead_import.headers)
        if not options["mapping"]:
            return dict(lead_import.mapping)  # suggested from the headers, as on the page
        try:
            chosen = json.loads(Path(options["mapping"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read the mapping {options['mapping']}: {exc}") from None
        if not isinstance(chosen, dict) or not all(isinstance(v, str) for v in chosen.values()):
            raise CommandError("The mapping is a JSON object of column header -> target (a string).")
        unknown = [header for header in chosen if header not in lead_import.headers]
        if unknown:
            raise CommandError(f"The mapping names columns the file does not have: {', '.join(unknown)}.")
        return {header: chosen.get(header, "") for header in lead_import.headers}

    def _report(self, lead_import: LeadImport) -> None:
        write = self.stdout.write
        write(f"Created: {lead_import.created_count:,}")
        write(f"Updated: {lead_import.updated_count:,}")
        if lead_import.skipped_count:
            write(f"Skipped (known already): {lead_import.skipped_count:,}")
        write(f"Errors: {lead_import.error_count:,}")
        outcomes = imports.outcome_summary(lead_import)
        if outcomes is not None:
            write("New leads by outcome:")
            for _, label, count, percent in outcomes:
                write(f"  {label}: {count:,} ({percent} %)")
            if not outcomes:
                write("  none (leads that existed already keep their stage)")
        if lead_import.error_count:
            write("Bad rows (not imported; the others were):")
        for error in lead_import.row_errors.all()[:ERRORS_SHOWN]:
            write(f"  line {error.line}: {error.reason}")
        if lead_import.error_count > ERRORS_SHOWN:
            url = reverse("leads:import-errors-csv", args=[lead_import.pk])
            write(f"  … and {lead_import.error_count - ERRORS_SHOWN:,} more: all of them as CSV at {url}")
