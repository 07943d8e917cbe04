"""Read-side queries about scores that pages, the API and reports share."""

from dataclasses import dataclass, field

from django.db.models import Count
from django.utils import timezone

from leads.models import Lead

from .engine import LeadSet, ScoreQuery
from .models import Grade, LeadScore, RuleSet, ScoreChange, Temperature


@dataclass
class Line:
    label: str
    points: float
    detail: str = ""


@dataclass
class Explanation:
    """A lead's score rule by rule, exactly as it was computed (same rule set, same moment)."""

    score: LeadScore | None
    rule_set: RuleSet
    as_of: object
    fit: int
    engagement: int
    total: int
    grade: str
    temperature: int
    fit_groups: list[tuple[str, float, str, list[Line]]] = field(default_factory=list)
    engagement_lines: list[Line] = field(default_factory=list)

    @property
    def temperature_label(self) -> str:
        return Temperature(self.temperature).label


def lead_score(lead: Lead) -> LeadScore | None:
    return LeadScore.objects.filter(lead=lead).select_related("rule_set").first()


def explain(
    lead: Lead, *, rule_set: RuleSet | None = None, score: LeadScore | None = None
) -> Explanation | None:
    """The breakdown of ``lead``'s stored score (``score``, read when not given) or, with
    ``rule_set``, of what that rule set would give now. None when there is no rule set to
    explain with."""
    score = score or lead_score(lead)
    if rule_set is None:
        rule_set = (
            score.rule_set
            if score and score.rule_set
            else RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).first()
        )
        as_of = score.scored_at if score and score.scored_at else timezone.now()
    else:
        as_of = timezone.now()
    if rule_set is None:
        return None
    query = ScoreQuery(rule_set, as_of=as_of)
    row = query.rows(LeadSet(ids=(lead.pk,)), breakdown=True)[lead.pk]
    explanation = Explanation(
        score=score,
        rule_set=rule_set,
        as_of=as_of,
        fit=row["fit"],
        engagement=row["engagement"],
        total=row["total"],
        grade=row["grade"],
        temperature=row["temperature"],
    )
    for group in query.groups:
        rules = list(group.rules.all())
        if not rules:
            continue
        lines = [Line(f"{rule.field_label} {rule.describe()}", row[f"f{rule.pk}"]) for rule in rules]
        matched = sum(line.points for line in lines)
        total = row[f"g{group.pk}"]
        note = f"capped at {group.max_points}" if total != matched else ""
        explanation.fit_groups.append((group.name, total, note, [line for line in lines if line.points]))
    for rule in query.engagement_rules:
        points = float(row[f"e{rule.pk}"] or 0)
        count = row[f"c{rule.pk}"]
        if count or points:
            detail = f"{count} × {rule.points:+d}"
            if rule.decays and rule_set.half_life_days:
                detail += f", decayed (half-life {rule_set.half_life_days} days)"
            # Capped when the occurrences were worth more than the cap (before decay).
            if (
                rule.max_points is not None
                and count * abs(rule.points) > rule.max_points <= abs(points) + 0.05
            ):
                detail += f", capped at {rule.max_points}"
            explanation.engagement_lines.append(Line(rule.name, round(points, 1), detail))
    if row["inactivity"]:
        explanation.engagement_lines.append(
            Line("Inactivity", row["inactivity"], f"no activity for {rule_set.inactivity_days} days")
        )
    return explanation


def score_history(lead: Lead, *, limit: int = 200) -> list[ScoreChange]:
    """The newest changes of the lead's score first."""
    return list(ScoreChange.objects.filter(lead=lead).order_by("-changed_at", "-id")[:limit])


def grade_grid() -> dict:
    """Leads per fit grade and temperature under the current scores (the A-hot grid): each row
    a grade with its (temperature, leads) cells, hottest first, and its total."""
    counts = {
        (row["grade"], row["temperature"]): row["n"]
        for row in LeadScore.objects.values("grade", "temperature").annotate(n=Count("*")).order_by()
    }
    temperatures = sorted(Temperature, reverse=True)
    rows = []
    for grade in Grade.values:
        cells = [(t.label, counts.get((grade, t.value), 0)) for t in temperatures]
        rows.append({"grade": grade, "cells": cells, "total": sum(n for _, n in cells)})
    return {"temperatures": [t.label for t in temperatures], "rows": rows, "total": sum(counts.values())}
