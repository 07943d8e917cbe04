"""Read models and indexes of the KPI dashboard (PostgreSQL only: on SQLite the dashboard
reads the funnel rows and the activities, which is fine at the sizes SQLite is for).

**Daily cubes of the funnel rows**, kept by statement triggers on ``leads_leadfunnel`` (the
rows that an INSERT, UPDATE or DELETE changed, grouped and added or subtracted: the cubes are
always the sums of the funnel rows, in the same transaction):

- ``leads_funnelday``: funnel rows per day created (in the time zone the cubes were built
  for), source, grade at handoff and level reached (0 none, 1 MQL … 5 customer): the funnel,
  the conversion by source and by grade and the leads that existed at a date, for a period
  cut at midnight, without scanning the funnel rows;
- ``leads_qualifiedday``: funnel rows per day qualified (first of MQL … customer) and source:
  new MQLs per month;
- ``leads_wonday``: customers and their won value per day won and source: ROI by source.

**The engagement roll-up.** The engagement rate needs the number of *distinct* leads active in
a period, and daily counts of active leads do not add up to that (a lead active on two days
would count twice). So it keeps, per lead and day on which it did something that counts as
engagement, the day it was active before (``prev_day``; 0001-01-01 for its first). A lead
active in [a, b) has exactly one such day with ``prev_day < a``: its first in the period.

- ``leads_engagedday``: one row per lead and engaged day, with the lead's ``created_at``,
  source and ``early`` (a day before the lead's creation day: a stitched page view);
- ``leads_engagedcell``: those rows counted per (day, prev_day, source): some 140,000 rows for
  a year of a million leads. Active leads in [a, b) = the sum of ``leads`` over a <= day < b
  and prev_day < a, less the ``early`` rows of leads created after the period (few).

``reports.refresh_funnel`` maintains the roll-up with the funnel rows, set-based, in the same
transaction (activities are too busy a table for triggers). Its rows exist only while the
lead's funnel row does: deleting funnel rows (a lead deleted) removes them and their counts by
a statement trigger. Truncating the funnel (a test database flushed) empties all of them.

``leads_reportstate`` says what the cubes and the roll-up were built for (time zone, kinds):
the dashboard reads them only when it matches the settings, and the triggers maintain the
cubes only once they are built (``manage.py refresh_funnel``, or the nightly rebuild).

**Indexes** on the day each stage was left (reaching the next; won, for the sales cycle), with
the day it was reached included: the velocity and sales-cycle percentiles read the period's
durations from them, index only, instead of scanning the funnel rows.

These are derived data that only ``leads/reports.py`` reads and writes, in SQL: not Django
models.
"""

from django.db import migrations

LOCK = 74210001  # pg_advisory_xact_lock: the refreshes (leads/reports.py) and these triggers

# How far a funnel row got (reports._level) and when it qualified (reports.mql_months).
LEVEL = """CASE WHEN customer_at IS NOT NULL THEN 5 WHEN opportunity_at IS NOT NULL THEN 4
    WHEN sql_at IS NOT NULL THEN 3 WHEN sal_at IS NOT NULL THEN 2 WHEN mql_at IS NOT NULL THEN 1 ELSE 0 END"""
QUALIFIED = "COALESCE(mql_at, sal_at, sql_at, opportunity_at, customer_at)"


def _cube_delta(rows: str) -> str:
    """Add the funnel rows of ``rows`` (with a ``sign``) to the cubes, in key order (no
    deadlock between two writers); rows that an update left as they were cancel out."""
    return f"""
        INSERT INTO leads_funnelday (day, source, grade, level, leads)
        SELECT (created_at AT TIME ZONE tz)::date, source, grade, {LEVEL}, SUM(sign)
        FROM ({rows}) r GROUP BY 1, 2, 3, 4 HAVING SUM(sign) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (day, source, grade, level) DO UPDATE SET leads = leads_funnelday.leads + excluded.leads;
        INSERT INTO leads_qualifiedday (day, source, leads)
        SELECT ({QUALIFIED} AT TIME ZONE tz)::date, source, SUM(sign)
        FROM ({rows}) r WHERE {QUALIFIED} IS NOT NULL
        GROUP BY 1, 2 HAVING SUM(sign) <> 0 ORDER BY 1, 2
        ON CONFLICT (day, source) DO UPDATE SET leads = leads_qualifiedday.leads + excluded.leads;
        INSERT INTO leads_wonday (day, source, leads, revenue)
        SELECT (customer_at AT TIME ZONE tz)::date, source, SUM(sign), SUM(sign * COALESCE(won_value, 0))
        FROM ({rows}) r WHERE customer_at IS NOT NULL
        GROUP BY 1, 2 HAVING SUM(sign) <> 0 OR SUM(sign * COALESCE(won_value, 0)) <> 0 ORDER BY 1, 2
        ON CONFLICT (day, source) DO UPDATE
        SET leads = leads_wonday.leads + excluded.leads, revenue = leads_wonday.revenue + excluded.revenue;"""


NEW = "SELECT *, 1 AS sign FROM new_funnel"
OLD = "SELECT *, -1 AS sign FROM old_funnel"

# The durations the percentiles are of: (name, start, end); indexed on the end, the start included.
DURATIONS = [
    ("mql", "mql_at", "sal_at"),
    ("sal", "sal_at", "sql_at"),
    ("sql", "sql_at", "opportunity_at"),
    ("opportunity", "opportunity_at", "customer_at"),
    ("cycle", "first_touch_at", "customer_at"),
]

FORWARDS = [
    """
    CREATE TABLE IF NOT EXISTS leads_reportstate (
        name varchar(40) PRIMARY KEY,
        value text NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS leads_funnelday (
        day date NOT NULL,
        source varchar(20) NOT NULL,
        grade varchar(1) NOT NULL,
        level smallint NOT NULL,
        leads integer NOT NULL,
        PRIMARY KEY (day, source, grade, level)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS leads_qualifiedday (
        day date NOT NULL,
        source varchar(20) NOT NULL,
        leads integer NOT NULL,
        PRIMARY KEY (day, source)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS leads_wonday (
        day date NOT NULL,
        source varchar(20) NOT NULL,
        leads integer NOT NULL,
        revenue numeric(16, 2) NOT NULL,
        PRIMARY KEY (day, source)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS leads_engagedday (
        lead_id bigint NOT NULL,
        day date NOT NULL,
        prev_day date NOT NULL,
        created_at timestamp with time zone NOT NULL,
        source varchar(20) NOT NULL,
        early boolean NOT NULL,
        PRIMARY KEY (lead_id, day)
    )
    """,
    "CREATE INDEX IF NOT EXISTS leads_engagedday_early_idx ON leads_engagedday (day) WHERE early",
    """
    CREATE TABLE IF NOT EXISTS leads_engagedcell (
        day date NOT NULL,
        prev_day date NOT NULL,
        source varchar(20) NOT NULL,
        leads integer NOT NULL,
        PRIMARY KEY (day, prev_day, source)
    )
    """,
    # The cubes follow every change of the funnel rows (a refresh's upsert fires the INSERT and
    # the UPDATE trigger). Lock first, then read what the cubes are built for: a rebuild (which
    # takes the same lock) is then wholly before or wholly after.
    f"""
    CREATE OR REPLACE FUNCTION leads_funnel_cubes() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        tz text;
    BEGIN
        PERFORM pg_advisory_xact_lock({LOCK});
        SELECT value INTO tz FROM leads_reportstate WHERE name = 'funnel_cubes';
        IF tz IS NULL THEN
            RETURN NULL;
        END IF;
        IF TG_OP = 'INSERT' THEN {_cube_delta(NEW)}
        ELSIF TG_OP = 'UPDATE' THEN {_cube_delta(NEW + " UNION ALL " + OLD)}
        ELSE {_cube_delta(OLD)}
        END IF;
        RETURN NULL;
    END
    $$
    """,
    # Funnel rows deleted (their lead was): their engaged days and counts go with them (a cell
    # left at 0 counts nothing; the next refresh that touches it removes it).
    f"""
    CREATE OR REPLACE FUNCTION leads_engaged_forget() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock({LOCK});
        WITH gone AS (
            DELETE FROM leads_engagedday d USING old_funnel o WHERE d.lead_id = o.lead_id
            RETURNING d.day, d.prev_day, d.source
        ), delta AS (
            SELECT day, prev_day, source, count(*) AS n FROM gone GROUP BY day, prev_day, source
        )
        UPDATE leads_engagedcell c SET leads = c.leads - delta.n FROM delta
        WHERE c.day = delta.day AND c.prev_day = delta.prev_day AND c.source = delta.source;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION leads_funnel_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE leads_funnelday, leads_qualifiedday, leads_wonday, leads_engagedday, leads_engagedcell;
        DELETE FROM leads_reportstate;
        RETURN NULL;
    END
    $$
    """,
    "DROP TRIGGER IF EXISTS leads_leadfunnel_cubes_insert ON leads_leadfunnel",
    """
    CREATE TRIGGER leads_leadfunnel_cubes_insert AFTER INSERT ON leads_leadfunnel
    REFERENCING NEW TABLE AS new_funnel FOR EACH STATEMENT EXECUTE FUNCTION leads_funnel_cubes()
    """,
    "DROP TRIGGER IF EXISTS leads_leadfunnel_cubes_update ON leads_leadfunnel",
    """
    CREATE TRIGGER leads_leadfunnel_cubes_update AFTER UPDATE ON leads_leadfunnel
    REFERENCING OLD TABLE AS old_funnel NEW TABLE AS new_funnel
    FOR EACH STATEMENT EXECUTE FUNCTION leads_funnel_cubes()
    """,
    "DROP TRIGGER IF EXISTS leads_leadfunnel_cubes_delete ON leads_leadfunnel",
    """
    CREATE TRIGGER leads_leadfunnel_cubes_delete AFTER DELETE ON leads_leadfunnel
    REFERENCING OLD TABLE AS old_funnel FOR EACH STATEMENT EXECUTE FUNCTION leads_funnel_cubes()
    """,
    "DROP TRIGGER IF EXISTS leads_leadfunnel_engaged_forget ON leads_leadfunnel",
    """
    CREATE TRIGGER leads_leadfunnel_engaged_forget AFTER DELETE ON leads_leadfunnel
    REFERENCING OLD TABLE AS old_funnel FOR EACH STATEMENT EXECUTE FUNCTION leads_engaged_forget()
    """,
    "DROP TRIGGER IF EXISTS leads_leadfunnel_truncated ON leads_leadfunnel",
    """
    CREATE TRIGGER leads_leadfunnel_truncated AFTER TRUNCATE ON leads_leadfunnel
    FOR EACH STATEMENT EXECUTE FUNCTION leads_funnel_truncated()
    """,
    *(
        f"CREATE INDEX IF NOT EXISTS funnel_{name}_left_idx ON leads_leadfunnel ({end}) INCLUDE ({start}) "
        f"WHERE {start} IS NOT NULL"
        for name, start, end in DURATIONS
    ),
]

BACKWARDS = [
    *(f"DROP INDEX IF EXISTS funnel_{name}_left_idx" for name, _, _ in DURATIONS),
    "DROP TRIGGER IF EXISTS leads_leadfunnel_truncated ON leads_leadfunnel",
    "DROP TRIGGER IF EXISTS leads_leadfunnel_engaged_forget ON leads_leadfunnel",
    "DROP TRIGGER IF EXISTS leads_leadfunnel_cubes_delete ON leads_leadfunnel",
    "DROP TRIGGER IF EXISTS leads_leadfunnel_cubes_update ON leads_leadfunnel",
    "DROP TRIGGER IF EXISTS leads_leadfunnel_cubes_insert ON leads_leadfunnel",
    "DROP FUNCTION IF EXISTS leads_funnel_truncated()",
    "DROP FUNCTION IF EXISTS leads_engaged_forget()",
    "DROP FUNCTION IF EXISTS leads_funnel_cubes()",
    "DROP TABLE IF EXISTS leads_engagedcell",
    "DROP TABLE IF EXISTS leads_engagedday",
    "DROP TABLE IF EXISTS leads_wonday",
    "DROP TABLE IF EXISTS leads_qualifiedday",
    "DROP TABLE IF EXISTS leads_funnelday",
    "DROP TABLE IF EXISTS leads_reportstate",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in FORWARDS:
        schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in BACKWARDS:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("leads", "0010_history_import")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
