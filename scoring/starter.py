"""The rule set a fresh install starts with: a typical B2B fit profile and engagement
weights, tuned so that the demo data spreads over all grades. Plain data, so that the data
migration that installs it can use the historical models."""

FIT_GROUPS = [
    (
        "Job title",
        30,
        [
            ("job_title", "one_of", "ceo, cmo, cro, cto, coo, cfo, cio, co-founder", 30),
            ("job_title", "contains", "chief, founder", 30),
            ("job_title", "contains", "vp, vice president", 25),
            ("job_title", "contains", "director, head of", 20),
            ("job_title", "contains", "manager", 10),
            ("job_title", "contains", "student, intern, mba candidate", -30),
        ],
    ),
    (
        "Company size",
        20,
        [
            ("company_size", "one_of", "201-500, 501-1000, 1001-5000", 20),
            ("company_size", "one_of", "51-200, 5001+", 12),
            ("company_size", "equals", "1-10", -10),
        ],
    ),
    (
        "Industry",
        None,
        [
            ("industry", "one_of", "software, finance", 10),
            ("industry", "one_of", "healthcare, consulting, telecom", 5),
            ("industry", "one_of", "education, government", -10),
        ],
    ),
    (
        "E-mail and contact",
        None,
        [
            (
                "email",
                "ends_with",
                "@gmail.com, @yahoo.com, @outlook.com, @hotmail.com, @gmx.de, @web.de, @yahoo.co.in",
                -10,
            ),
            ("phone", "is_set", "", 5),
            ("source", "one_of", "referral, partner, event", 5),
        ],
    ),
]

# name, kind, property, operator, value, points, max occurrences, max points, window days
ENGAGEMENT_RULES = [
    ("Demo requested", "demo_requested", "", "equals", "", 40, 1, None, 180),
    ("Trial started", "trial_started", "", "equals", "", 30, 1, None, None),
    ("Pricing page", "page_view", "url", "contains", "/pricing", 8, 3, None, None),
    ("Page views", "page_view", "", "equals", "", 1, None, 10, None),
    ("Content download", "download", "", "equals", "", 8, None, 24, None),
    ("Webinar registration", "webinar_registered", "", "equals", "", 5, 2, None, None),
    ("Webinar attended", "webinar_attended", "", "equals", "", 12, 2, None, None),
    ("Form submitted", "form_submitted", "", "equals", "", 10, 2, None, None),
    ("E-mail click", "email_click", "", "equals", "", 3, None, 12, None),
    ("E-mail open", "email_open", "", "equals", "", 1, None, 5, 90),
    ("Unsubscribed", "unsubscribed", "", "equals", "", -20, 1, None, None),
    ("E-mail bounced", "email_bounce", "", "equals", "", -10, 1, None, None),
]

SETTINGS = dict(
    name="Starter scoring",
    warm_threshold=15,
    hot_threshold=40,
    grade_a_threshold=45,
    grade_b_threshold=25,
    grade_c_threshold=10,
    mql_threshold=75,
    half_life_days=60,
    inactivity_days=90,
    inactivity_points=-5,
)


# Activities that are a hand-raise: the lead asks for sales, and becomes an MQL at once.
HAND_RAISES = {"demo_requested"}


def _has_field(model, name: str) -> bool:
    return any(field.name == name for field in model._meta.get_fields())


def install(RuleSet, FitGroup, FitRule, EngagementRule, *, status="published", version=1):
    """Create the starter rule set with the given model classes (real or historical)."""
    rule_set = RuleSet.objects.create(status=status, version=version, **SETTINGS)
    for position, (name, max_points, rules) in enumerate(FIT_GROUPS):
        group = FitGroup.objects.create(
            rule_set=rule_set, name=name, max_points=max_points, position=position
        )
        for rule_position, (field, operator, value, points) in enumerate(rules):
            FitRule.objects.create(
                group=group,
                field=field,
                operator=operator,
                value=value,
                points=points,
                position=rule_position,
            )
    for position, (name, kind, prop, operator, value, points, max_occ, max_points, window) in enumerate(
        ENGAGEMENT_RULES
    ):
        EngagementRule.objects.create(
            rule_set=rule_set,
            name=name,
            activity_kind=kind,
            property_name=prop,
            operator=operator,
            value=value,
            points=points,
            max_occurrences=max_occ,
            max_points=max_points,
            window_days=window,
            position=position,
            # (historical models of migrations before the field have no hand_raise)
            **({"hand_raise": kind in HAND_RAISES} if _has_field(EngagementRule, "hand_raise") else {}),
        )
    return rule_set
