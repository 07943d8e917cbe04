"""``manage.py seed_demo``: load a realistic, deterministic demo data set (see ``leads.demo``).

Rows are written set-based, a chunk of leads at a time: ``COPY`` on PostgreSQL, one
``executemany`` per table and chunk elsewhere. Everything happens in one transaction, so a
failed run leaves nothing behind.
"""

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from datetime import time as dt_time

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError, connection, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.dateparse import parse_date, parse_datetime

from leadapp.roles import SALES
from leads.demo import ACTIVITY_COLUMNS, LEAD_COLUMNS, STAGE_CHANGE_COLUMNS, Chunk, DemoGenerator
from leads.models import Activity, LastActivity, Lead, StageChange
from leads.services import touch_last_activity

# Loading at least this many leads into empty tables on PostgreSQL drops the secondary
# indexes and foreign keys first and rebuilds them at the end (see PostgresWriter).
BULK_LOAD_MIN_LEADS = 50_000

TABLES: tuple[tuple[type[models.Model], Sequence[str], str], ...] = (
    (Lead, LEAD_COLUMNS, "leads"),
    (Activity, ACTIVITY_COLUMNS, "activities"),
    (StageChange, STAGE_CHANGE_COLUMNS, "stage_changes"),
)


class Command(BaseCommand):
    help = "Load demo leads with event histories and funnel outcomes (deterministic for a seed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--leads", type=int, default=2000, help="How many leads (default 2000).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument(
            "--events-per-lead",
            type=float,
            default=5.0,
            help="Average marketing events per lead (default 5).",
        )
        parser.add_argument(
            "--now",
            type=_parse_now,
            default=None,
            help="Reference time (ISO date or datetime, UTC); history ends here. Default: today 00:00 UTC.",
        )
        parser.add_argument(
            "--chunk-size", type=int, default=50_000, help="Leads generated and written at a time."
        )
        existing = parser.add_mutually_exclusive_group()
        existing.add_argument("--append", action="store_true", help="Add to the leads already there.")
        existing.add_argument(
            "--if-empty", action="store_true", help="Do nothing (and succeed) when there are leads already."
        )

    def handle(self, *args, **options) -> None:
        total: int = options["leads"]
        if total < 0 or options["chunk_size"] < 1:
            raise CommandError("--leads must be >= 0 and --chunk-size >= 1.")
        _check_columns()

        existing = Lead.objects.count()
        if existing and options["if_empty"]:
            self.stdout.write(f"{existing} leads already there: no demo data loaded.")
            return
        if existing and not options["append"]:
            raise CommandError(
                f"There are {existing} leads already. Use --append to add demo leads to them, or "
                "--if-empty to load demo data only into an empty database."
            )

        now = options["now"] or datetime.combine(date.today(), dt_time(), tzinfo=UTC)
        owner_ids = list(
            get_user_model()
            .objects.filter(groups__name=SALES, is_active=True)
            .order_by("username")
            .values_list("pk", flat=True)
        )
        generator = DemoGenerator(
            seed=options["seed"],
            now=now,
            total=total,
            start=existing,
            events_per_lead=options["events_per_lead"],
            owner_ids=owner_ids,
        )

        started = time.perf_counter()
        if connection.vendor == "postgresql":
            writer: PostgresWriter | ExecuteManyWriter = PostgresWriter(
                bulk=not existing and total >= BULK_LOAD_MIN_LEADS
            )
        else:
            writer = ExecuteManyWriter(connection)

        def progress(message: str) -> None:
            if options["verbosity"] >= 2:
                self.stdout.write(f"  {message}, {time.perf_counter() - started:.1f}s")

        try:
            with transaction.atomic():
                writer.prepare()
                counts = _load(writer, generator, total, options["chunk_size"], progress)
                writer.finish()
                progress("indexes and constraints done")
                # Each new lead got its LastActivity row (empty) from the database's trigger.
                touch_last_activity()
                progress("last activity times done")
        except IntegrityError as exc:
            raise CommandError(
                f"Demo data clashes with rows already there, nothing was loaded: {exc}"
            ) from exc
        writer.analyze()

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data loaded: {counts['leads']} leads, {counts['activities']} activities, "
                f"{counts['stage_changes']} stage changes in {time.perf_counter() - started:.1f}s "
                f"(seed {options['seed']}, now {now:%Y-%m-%d %H:%M} UTC, "
                f"{len(owner_ids)} sales owners)."
            )
        )
        # Scores come from the rule set, not the generator: score everyone as publishing would.
        call_command("rescore", reason="Demo data loaded", verbosity=options["verbosity"], stdout=self.stdout)
        call_command("seed_demo_campaigns", verbosity=options["verbosity"], stdout=self.stdout)
        call_command("seed_demo_sales", verbosity=options["verbosity"], stdout=self.stdout)


def _load(
    writer: "PostgresWriter | ExecuteManyWriter",
    generator: DemoGenerator,
    total: int,
    chunk_size: int,
    progress: Callable[[str], None],
) -> dict[str, int]:
    """Generate and write ``total`` leads a chunk at a time; return the rows per table."""
    counts = {label: 0 for _, _, label in TABLES}
    for done in range(0, total, chunk_size):
        size = min(chunk_size, total - done)
        for label, rows in writer.write(generator.chunk(writer.reserve_ids(size))):
            counts[label] += rows
        progress(f"{done + size}/{total} leads")
    return counts


def _parse_now(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise ValueError(value)
        parsed = datetime.combine(day, dt_time())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _check_columns() -> None:
    """Fail clearly if a model gained a required column that the generator does not fill."""
    for model, columns, _ in TABLES:
        for field in model._meta.concrete_fields:
            if field.column in columns or field.primary_key or field.null or field.generated:
                continue
            if field.db_default is models.NOT_PROVIDED:
                raise CommandError(
                    f"{model.__name__}.{field.name} is new to seed_demo: teach leads/demo.py to fill it."
                )


class PostgresWriter:
    """COPY into the tables; lead ids come from the sequence so activities can point at them.

    With ``bulk`` (big load into empty tables) it first drops the tables' secondary indexes
    and foreign keys and rebuilds them from their own definitions in ``finish``: keeping a
    dozen B-tree and four trigram indexes up to date row by row costs several times the
    COPY itself, building them once is a sort. The DDL is inside the command's transaction,
    so a failure restores everything; meanwhile other sessions wait for the tables.
    """

    def __init__(self, *, bulk: bool = False):
        self.bulk = bulk
        self.rebuild: list[str] = []

    def prepare(self) -> None:
        with connection.cursor() as cursor:
            # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: checked at COMMIT they
            # would queue a trigger event per row in memory and all run at the end.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            if self.bulk:
                cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
                self.rebuild = _drop_indexes_and_foreign_keys(
                    cursor, [m._meta.db_table for m, _, _ in TABLES]
                )

    def finish(self) -> None:
        with connection.cursor() as cursor:
            for statement in self.rebuild:
                cursor.execute(statement)

    def reserve_ids(self, count: int) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Lead._meta.db_table, count],
            )
            return [row[0] for row in cursor.fetchall()]

    def write(self, chunk: Chunk) -> Iterable[tuple[str, int]]:
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            for model, columns, label in TABLES:
                rows = getattr(chunk, label)
                sql = f"COPY {quote(model._meta.db_table)} ({', '.join(map(quote, columns))}) FROM STDIN"
                with cursor.copy(sql) as copy:
                    for row in rows:
                        copy.write_row(row)
                yield label, len(rows)

    def analyze(self) -> None:
        # After a bulk load VACUUM too: it sets the visibility map (index-only scans) and the
        # hint bits that the first queries would otherwise write.
        command = "VACUUM (ANALYZE)" if self.bulk and not connection.in_atomic_block else "ANALYZE"
        with connection.cursor() as cursor:
            for model in [*(model for model, _, _ in TABLES), LastActivity]:
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")


def _drop_indexes_and_foreign_keys(cursor, tables: list[str]) -> list[str]:
    """Drop the tables' foreign keys and the indexes that back no constraint (the primary
    keys and unique constraints stay); return the statements that recreate them."""
    cursor.execute(
        "SELECT c.conrelid::regclass::text, quote_ident(c.conname), pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[])",
        [tables],
    )
    foreign_keys = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [tables],
    )
    indexes = cursor.fetchall()
    for table, name, _ in foreign_keys:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _, definition in indexes] + [
        f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}" for table, name, definition in foreign_keys
    ]


class ExecuteManyWriter:
    """SQLite and other databases: one ``executemany`` per table and chunk.

    Not ``bulk_create``: it runs ``pre_save`` and so replaces the generated ``created_at``,
    ``updated_at`` and ``received_at`` (``auto_now``/``auto_now_add``) with the current
    time, and it would build a model instance per row for nothing.
    """

    def __init__(self, db: BaseDatabaseWrapper):
        self.db = db
        self.next_id = 0

    def prepare(self) -> None:
        # Inside the transaction (IMMEDIATE on SQLite: the write lock is held), so the
        # range above the current maximum is ours.
        with self.db.cursor() as cursor:
            table = self.db.ops.quote_name(Lead._meta.db_table)
            cursor.execute(f"SELECT MAX(id) FROM {table}")  # noqa: S608 (a quoted model table)
            self.next_id = (cursor.fetchone()[0] or 0) + 1

    def finish(self) -> None:
        pass

    def reserve_ids(self, count: int) -> list[int]:
        ids = list(range(self.next_id, self.next_id + count))
        self.next_id += count
        return ids

    def write(self, chunk: Chunk) -> Iterable[tuple[str, int]]:
        quote = self.db.ops.quote_name
        with self.db.cursor() as cursor:
            for model, columns, label in TABLES:
                rows = getattr(chunk, label)
                adapt = self._adapter(model, columns)
                names, marks = ", ".join(map(quote, columns)), ", ".join(["%s"] * len(columns))
                sql = f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES ({marks})"  # noqa: S608
                cursor.executemany(sql, [adapt(row) for row in rows])
                yield label, len(rows)

    def _adapter(self, model: type[models.Model], columns: Sequence[str]) -> Callable[[tuple], list]:
        """A function that turns a generated row into database parameters (JSON columns are
        JSON text already; datetimes need the backend's format)."""
        to_db = self.db.ops.adapt_datetimefield_value
        fields = {field.column: field for field in model._meta.concrete_fields}
        datetime_positions = [
            i for i, column in enumerate(columns) if isinstance(fields[column], models.DateTimeField)
        ]

        def adapt(row: tuple) -> list:
            values = list(row)
            for i in datetime_positions:
                values[i] = to_db(values[i])
            return values

        return adapt

    def analyze(self) -> None:
        if self.db.vendor == "sqlite":
            with self.db.cursor() as cursor:
                cursor.execute("ANALYZE")
