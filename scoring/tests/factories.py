"""Rule sets for tests: ``published_rule_set(fit=[...], engagement=[...], **settings)``
replaces whatever is published (the starter rule set, in a fresh database) with exactly the
rules a test names.

    published_rule_set(
        fit=[fit_group("Title", rules=[fit_rule("job_title", "contains", "director", 20)], max_points=30)],
        engagement=[engagement_rule("Pricing", "page_view", 10, property_name="url", value="/pricing")],
        half_life_days=None,
    )
"""

from django.db.models import Max

from scoring.models import EngagementRule, FitGroup, FitRule, RuleSet

NO_DECAY = dict(half_life_days=None, inactivity_days=None, inactivity_points=0)


def fit_rule(field, operator, value, points, value_max=""):
    return dict(field=field, operator=operator, value=value, value_max=value_max, points=points)


def fit_group(name, rules, max_points=None):
    return dict(name=name, rules=rules, max_points=max_points)


def engagement_rule(name, kind, points, **options):
    return dict(name=name, activity_kind=kind, points=points, **options)


def rule_set(*, status=RuleSet.Status.DRAFT, fit=(), engagement=(), **settings) -> RuleSet:
    rs = RuleSet.objects.create(status=status, **{**NO_DECAY, **settings})
    for position, group in enumerate(fit):
        g = FitGroup.objects.create(
            rule_set=rs, name=group["name"], max_points=group["max_points"], position=position
        )
        for rule_position, rule in enumerate(group["rules"]):
            FitRule.objects.create(group=g, position=rule_position, **rule)
    for position, rule in enumerate(engagement):
        EngagementRule.objects.create(rule_set=rs, position=position, **rule)
    return rs


def published_rule_set(**kwargs) -> RuleSet:
    RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).update(status=RuleSet.Status.ARCHIVED)
    # Max, not ordering: PostgreSQL sorts a draft's NULL version first in descending order.
    version = (RuleSet.objects.aggregate(v=Max("version"))["v"] or 0) + 1
    rs = rule_set(status=RuleSet.Status.PUBLISHED, **kwargs)
    RuleSet.objects.filter(pk=rs.pk).update(version=version)
    rs.version = version
    return rs
