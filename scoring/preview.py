"""The preview of a draft: how it would grade the leads whose outcome is known, beside the
published rule set, before anyone publishes it.

Runs as a job over lead-id chunks; each chunk scores the draft in the database (the same
``ScoreQuery`` the real scores come from) and adds a few grouped counts to ``job.result``, so a
resumed job carries on where it stopped. The published side uses the stored scores.
"""

from collections import defaultdict

from django.db import connection, transaction
from django.utils import timezone

from leads.models import Lead, Stage

from .engine import ScoreQuery
from .features import closed_condition, recycled_cutoff
from .models import LeadScore, ScoringJob
from .services import drop_scores, lead_chunks, materialize_scores

WON = "won"
LOST = "lost"
OPEN = "open"
GRADES = ("A", "B", "C", "D")


def _outcome(recycled_before) -> tuple[str, str, list]:
    """SQL (on ``l``) for a lead's outcome (won, lost or open) and for "it has one", with their
    parameters: the leads with a known outcome of ``features.closed_condition``."""
    closed, params = closed_condition(recycled_before)
    won = f"l.stage = '{Stage.CUSTOMER.value}'"
    outcome = f"CASE WHEN {won} THEN '{WON}' WHEN {closed} THEN '{LOST}' ELSE '{OPEN}' END"
    return outcome, closed, params


def run_preview(job: ScoringJob) -> None:
    draft = job.rule_set
    query = ScoreQuery(draft, as_of=job.as_of)
    for lo, hi in lead_chunks(job.position):
        with transaction.atomic():
            current = ScoringJob.objects.select_for_update().filter(pk=job.pk).first()
            if current is None:
                return  # the draft was discarded, and its preview with it
            if current.status != ScoringJob.Status.RUNNING or current.position >= hi:
                continue
            counts = _chunk_counts(query, lo, hi)
            result = merge(current.result, counts)
            ScoringJob.objects.filter(pk=job.pk).update(
                position=hi,
                done=min(job.total, current.done + counts["leads"]),
                result=result,
                heartbeat_at=timezone.now(),
            )
    ScoringJob.objects.filter(pk=job.pk, status=ScoringJob.Status.RUNNING).update(
        status=ScoringJob.Status.DONE, done=job.total, finished_at=timezone.now(), heartbeat_at=timezone.now()
    )


def _chunk_counts(query: ScoreQuery, lo: int, hi: int) -> dict:
    draft_mql = int(query.rule_set.mql_threshold)
    lead_table, score_table = Lead._meta.db_table, LeadScore._meta.db_table
    # What publishing would do: a NEW lead at the draft's threshold becomes MQL; an MQL under
    # it would no longer qualify (nothing demotes it, but the marketer should know).
    new_mql = f"(l.stage = '{Stage.NEW.value}' AND n.total >= {draft_mql})"
    old_mql = f"(l.stage = '{Stage.MQL.value}' AND n.total < {draft_mql})"
    # The job's moment, not each chunk's: every chunk counts the same leads as decided.
    outcome_sql, closed, params = _outcome(recycled_cutoff(query.as_of))
    counts = {"leads": 0, "grades": [], "hist": [], "newly_mql": 0, "no_longer_mql": 0}
    with connection.cursor() as cursor:
        materialize_scores(cursor, query, lo, hi)
        cursor.execute(
            f"SELECT n.grade, o.grade, {outcome_sql} AS outcome, "  # noqa: S608
            f"CASE WHEN {new_mql} THEN 1 ELSE 0 END AS new_mql, "
            f"CASE WHEN {old_mql} THEN 1 ELSE 0 END AS old_mql, COUNT(*) "
            f"FROM scoring_new n JOIN {lead_table} l ON l.id = n.lead_id "
            f"LEFT JOIN {score_table} o ON o.lead_id = n.lead_id "
            "GROUP BY n.grade, o.grade, outcome, new_mql, old_mql",
            params,
        )
        for new_grade, old_grade, outcome, becomes_mql, drops_out, n in cursor.fetchall():
            counts["leads"] += n
            counts["grades"].append(["draft", new_grade, outcome, n])
            if old_grade is not None:
                counts["grades"].append(["published", old_grade, outcome, n])
            counts["newly_mql"] += n if becomes_mql else 0
            counts["no_longer_mql"] += n if drops_out else 0
        # The score distributions of the decided leads, for the ROC AUC.
        cursor.execute(
            f"SELECT 'draft', n.total, {outcome_sql} AS outcome, COUNT(*) "  # noqa: S608
            f"FROM scoring_new n JOIN {lead_table} l ON l.id = n.lead_id "
            f"WHERE {closed} GROUP BY n.total, outcome "
            f"UNION ALL SELECT 'published', o.total, {outcome_sql} AS outcome, COUNT(*) "
            f"FROM scoring_new n JOIN {lead_table} l ON l.id = n.lead_id "
            f"JOIN {score_table} o ON o.lead_id = n.lead_id "
            f"WHERE {closed} GROUP BY o.total, outcome",
            params * 4,
        )
        counts["hist"] = [list(row) for row in cursor.fetchall()]
        drop_scores(cursor)
    return counts


def merge(result: dict, counts: dict) -> dict:
    """Add one chunk's counts to the running totals kept in ``job.result``."""
    result = {
        "leads": result.get("leads", 0),
        "grades": result.get("grades", {}),
        "hist": result.get("hist", {}),
        "newly_mql": result.get("newly_mql", 0),
        "no_longer_mql": result.get("no_longer_mql", 0),
    }
    result["leads"] += counts["leads"]
    result["newly_mql"] += counts["newly_mql"]
    result["no_longer_mql"] += counts["no_longer_mql"]
    for side, grade, outcome, n in counts["grades"]:
        key = f"{side}:{grade}:{outcome}"
        result["grades"][key] = result["grades"].get(key, 0) + n
    for side, total, outcome, n in counts["hist"]:
        key = f"{side}:{total}:{outcome}"
        result["hist"][key] = result["hist"].get(key, 0) + n
    return result


def roc_auc(positives: dict[int, int], negatives: dict[int, int]) -> float | None:
    """The ROC AUC of a score from its histograms: the chance that a random converted lead
    scores above a random lost one (ties count half). None without both kinds of leads."""
    n_pos, n_neg = sum(positives.values()), sum(negatives.values())
    if not n_pos or not n_neg:
        return None
    below, wins = 0, 0.0
    for score in sorted(set(positives) | set(negatives)):
        pos, neg = positives.get(score, 0), negatives.get(score, 0)
        wins += pos * (below + neg / 2)
        below += neg
    return wins / (n_pos * n_neg)


def summary(result: dict) -> dict:
    """What the preview page shows, per side (draft, published): leads per grade, converted
    and lost per grade with the conversion rate, the ROC AUC; and the MQL movements."""
    sides = {}
    for side in ("draft", "published"):
        grades = []
        for grade in GRADES:
            leads = won = lost = 0
            for outcome in (WON, LOST, OPEN):
                n = result.get("grades", {}).get(f"{side}:{grade}:{outcome}", 0)
                leads += n
                won += n if outcome == WON else 0
                lost += n if outcome == LOST else 0
            decided = won + lost
            grades.append(
                {
                    "grade": grade,
                    "leads": leads,
                    "won": won,
                    "lost": lost,
                    "rate": won / decided if decided else None,
                }
            )
        histograms = defaultdict(dict)
        for key, n in result.get("hist", {}).items():
            key_side, total, outcome = key.split(":")
            if key_side == side:
                histograms[outcome][int(total)] = n
        sides[side] = {
            "grades": grades,
            "leads": sum(g["leads"] for g in grades),
            "auc": roc_auc(histograms[WON], histograms[LOST]),
        }
    return {
        **sides,
        "leads": result.get("leads", 0),
        "newly_mql": result.get("newly_mql", 0),
        "no_longer_mql": result.get("no_longer_mql", 0),
    }
