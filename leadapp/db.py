"""Bulk writes that do not go through one ``save()`` per row.

On PostgreSQL rows stream in with COPY, which is several times faster than a multi-row
INSERT built by the ORM; elsewhere (SQLite) ``bulk_create`` does the same job.
"""

import json
from collections.abc import Collection, Iterable, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, connection, connections, models, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone


def insert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    ignore_conflicts: bool = False,
) -> None:
    """Insert ``rows``: tuples in the order of ``columns``, which name model fields (a foreign
    key takes the related row's id). With ``ignore_conflicts`` a row that breaks a unique
    constraint is dropped silently, as ``INSERT ... ON CONFLICT DO NOTHING`` does."""
    fields = [model._meta.get_field(name) for name in columns]
    json_columns = {i for i, field in enumerate(fields) if isinstance(field, models.JSONField)}
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**{f.attname: v for f, v in zip(fields, row, strict=True)}) for row in rows],
            batch_size=500,
            ignore_conflicts=ignore_conflicts,
        )
        return

    table = connection.ops.quote_name(model._meta.db_table)
    column_list = ", ".join(connection.ops.quote_name(field.column) for field in fields)

    def copy_into(cursor, target: str, rows: Iterable[Sequence[Any]]) -> None:
        # The driver's cursor, wrapped so that its errors are Django's (IntegrityError, …).
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {target} ({column_list}) FROM STDIN") as copy,
        ):
            for row in rows:
                if json_columns:
                    row = [json.dumps(v) if i in json_columns else v for i, v in enumerate(row)]
                copy.write_row(row)

    with transaction.atomic(), connection.cursor() as cursor:
        if not ignore_conflicts:
            copy_into(cursor, table, rows)
            return
        # COPY cannot skip a conflicting row. Conflicts are rare (the callers leave out the
        # rows they know exist; a conflict is a concurrent writer or a retry), so the rows
        # are copied straight in first (half the time of staging them), and only when one
        # conflicts, in a temporary table first and inserted from there, skipping conflicts.
        rows = list(rows)
        try:
            with transaction.atomic():
                copy_into(cursor, table, rows)
            return
        except IntegrityError:
            pass
        target = connection.ops.quote_name(f"_stage_{model._meta.db_table}")
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {target} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {column_list} FROM {table} WITH NO DATA"
        )
        copy_into(cursor, target, rows)
        cursor.execute(
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {target} "  # noqa: S608
            "ON CONFLICT DO NOTHING"
        )
        cursor.execute(f"TRUNCATE {target}")


def upsert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, key: str
) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``, as for ``insert_rows``), and where
    a row with the same ``key`` exists, set its other columns to the new values instead.

    On PostgreSQL one statement, whatever the number of rows, with one array parameter per
    column (``unnest``): with a placeholder per value, psycopg parses the statement on the
    client, about 0.2 s for 6,600 scores. Elsewhere a multi-row ``VALUES`` in
    batches (SQLite takes at most 32,766 parameters a statement)."""
    if not rows:
        return
    ops = connection.ops
    fields = [model._meta.get_field(name) for name in columns]
    table, names = ops.quote_name(model._meta.db_table), [ops.quote_name(f.column) for f in fields]
    conflict = ops.quote_name(model._meta.get_field(key).column)
    updates = ", ".join(
        f"{name} = excluded.{name}" for name, f in zip(names, fields, strict=True) if f.name != key
    )
    tail = f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{_column_type(f)}[]" for f in fields)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM unnest({arrays}) "  # noqa: S608
                + tail,
                [
                    _array(field, column)
                    for field, column in zip(fields, zip(*rows, strict=True), strict=True)
                ],
            )
            return
        row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
        per_statement = 30_000 // len(fields)
        for start in range(0, len(rows), per_statement):
            batch = rows[start : start + per_statement]
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES {', '.join([row_sql] * len(batch))} "  # noqa: S608
                + tail,
                [value for row in batch for value in row],
            )


def _is_integer(field: models.Field) -> bool:
    return isinstance(field, models.IntegerField | models.AutoField | models.ForeignKey)


def _array(field: models.Field, values: Iterable) -> str | list:
    """An array parameter for PostgreSQL. Integers go as the array's text (``{1,NULL,3}``),
    several times cheaper than psycopg's list adapter; other values as a list."""
    if _is_integer(field):
        return "{" + ",".join("NULL" if v is None else str(int(v)) for v in values) + "}"
    return list(values)


def _column_type(field: models.Field) -> str:
    """The column's type as a cast can name it (a foreign key: the referenced key's type)."""
    return field.db_type(connection) if not field.is_relation else field.target_field.rel_db_type(connection)


def in_values(model: type[models.Model], field: str, values: Collection, using: str = "default") -> Q:
    """``<field>__in=values``; on PostgreSQL ``<field> IN (SELECT unnest(<one array parameter>))``
    rather than ``IN`` with a placeholder per value, which costs Django and psycopg about 15 µs
    a value (15 ms of a batch of 1,000 events) and PostgreSQL's planner more. Also not
    ``= ANY(<array>)``: sorted and limited, PostgreSQL runs that as a walk of the sorted index
    that checks each entry against the array, where it looks the values up for ``unnest``.
    Integers go as the array's text (``{1,2,3}``), cheaper than psycopg's list adapter."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return Q(**{f"{field}__in": values})
    target = model._meta.pk if field == "pk" else model._meta.get_field(field)
    db_type = target.db_type(connection)  # the values are a parameter; the type is the column's
    array = _array(target, values) if _is_integer(target) else [str(v) for v in values]
    return Q(**{f"{field}__in": RawSQL(f"SELECT unnest(%s::{db_type}[])", (array,))})  # noqa: S611


def requeue_stale(queryset: models.QuerySet, task, *, stale_after) -> int:
    """Queue ``task(pk)`` again for each queued or running record of ``queryset`` (a model
    with ``heartbeat_at``) that has not reported for ``stale_after``: its worker died or the
    broker lost the message. The heartbeat is set now, so the next sweep waits its turn."""
    now = timezone.now()
    stale = list(
        queryset.filter(Q(heartbeat_at__lt=now - stale_after) | Q(heartbeat_at=None)).values_list(
            "pk", flat=True
        )
    )
    queryset.model.objects.filter(pk__in=stale).update(heartbeat_at=now)
    for pk in stale:
        transaction.on_commit(lambda pk=pk: task.delay(pk))
    return len(stale)


@contextmanager
def without_jit():
    """On PostgreSQL, a transaction in which it does not JIT-compile. Reporting and feature
    queries over many leads are estimated dear enough to trigger it, and compiling their many
    CASEs costs more than it saves (tens of milliseconds a statement, over a second for some
    reports). Changes no data. Elsewhere nothing: a transaction on SQLite takes its write lock
    (IMMEDIATE, see the settings), which reads must not wait for."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        yield
