"""Every KPI of the dashboard (``leads.reports``) on a small data set built by hand, against
answers worked out by hand (the arithmetic is in the comments), never recomputed with the code
under test. Run on PostgreSQL (percentiles in SQL) and on SQLite (percentiles in Python): both
must give the same answers.

The data set (every time UTC, 2025; stage changes at 10:00):

=====  =======  ==============  =======  ==========  =====  ==============================  =====
lead   created  source          country  industry    owner  history                         grade
=====  =======  ==============  =======  ==========  =====  ==============================  =====
L1     03-01    paid_search     DE       software    ann    mql 2, sal 3, sql 5, opp 8,     A
                                                            customer 9 (won 1,000)
L2     03-02    paid_search     DE       finance     ann    mql 3, sal 5, sql 8, opp 12,    A
                                                            customer 24 (won 2,000)
L3     03-03    event           FR       software    bob    mql 4, sal 7, sql 11, opp 16,   B
                                                            lost 20                         (A in April)
L4     03-04    event           FR       software    bob    mql 5, sal 9, disqualified 10   B
L5     03-05    organic_search  DE       healthcare  ann    mql 6                           C
L6     03-06    organic_search  US       software    —      (new)                           —
L7     03-07    referral        US       software    bob    forced new → sql on 03-10       —
L8     03-08    referral        FR       finance     —      (new)                           —
P1     02-10    partner         DE       software    ann    mql 02-11, sal 02-12,           B
                                                            sql 02-14, opp 02-20,
                                                            customer 03-10 (won 500)
P2     02-20    event           FR       retail      bob    mql 02-21                       D
A1     04-02    direct          US       software    —      (new)                           —
=====  =======  ==============  =======  ==========  =====  ==============================  =====

Teams: North = {ann}, South = {bob}, Vacant = {}. Campaigns: Spring (L1, L2, L3), Webinar
(L2, L5, P1), Autumn (nobody). Forms: Guide (L1, L4, L6), Demo (L2, twice).
"""

import datetime
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from leadapp import roles
from leads import reports
from leads.models import (
    Activity,
    ActivityKind,
    Handoff,
    Industry,
    LastActivity,
    Lead,
    LeadFunnel,
    MarketingCost,
    Opportunity,
    SlaBreach,
    Source,
    Stage,
    StageChange,
    Submission,
    Team,
)
from leads.reports import Filters, Period
from nurturing.models import Campaign, Enrollment, Message

from .factories import CaptureFormFactory, LeadFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def at(month: int, day: int, hour: int = 10, year: int = 2025) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, tzinfo=UTC)


MARCH = Period(at(3, 1, 0), at(4, 1, 0))  # 2025-03-01 – 2025-03-31
FEBRUARY = Period(at(2, 1, 0), at(3, 1, 0))
APRIL = Period(at(4, 1, 0), at(5, 1, 0))
EMPTY = Period(at(1, 1, 0, year=2001), at(2, 1, 0, year=2001))
EVERYTHING = Filters()


@pytest.fixture(autouse=True)
def utc():
    """Periods and months are cut in the site's time zone: UTC here, whatever TIME_ZONE says."""
    with timezone.override(UTC):
        yield


@dataclass
class Data:
    ann: object
    bob: object
    north: Team
    south: Team
    vacant: Team
    spring: Campaign
    webinar: Campaign
    autumn: Campaign
    guide: object
    demo: object
    leads: dict


def make_lead(key, created, source, country, industry, owner, stage=Stage.NEW) -> Lead:
    lead = LeadFactory(
        email=f"{key.lower()}@example.com",
        first_name=key,
        source=source,
        country=country,
        industry=industry,
        owner=owner,
        stage=stage,
    )
    Lead.objects.filter(pk=lead.pk).update(created_at=created)
    return lead


def history(lead: Lead, *steps: tuple[str, datetime.datetime], forced: bool = False) -> None:
    """StageChange rows from NEW through ``steps`` (stage, when)."""
    before = Stage.NEW
    for stage, when in steps:
        StageChange.objects.create(
            lead=lead, from_stage=before, to_stage=stage, changed_at=when, forced=forced
        )
        before = stage


def handoff(lead, owner, team, grade, assigned, accept_due, accepted, touch_due, touched):
    return Handoff.objects.create(
        lead=lead,
        owner=owner,
        team=team,
        grade=grade,
        status=Handoff.Status.ACCEPTED if accepted else Handoff.Status.ASSIGNED,
        handed_at=assigned,
        assigned_at=assigned,
        accept_due_at=accept_due,
        accepted_at=accepted,
        touch_due_at=touch_due,
        first_touch_at=touched,
    )


def won(lead, value, when):
    Opportunity.objects.create(
        lead=lead,
        amount=value,
        expected_close_date=when.date(),
        status=Opportunity.Status.WON,
        opened_at=when - datetime.timedelta(days=1),
        won_value=value,
        won_date=when.date(),
        closed_at=when,
    )


@pytest.fixture
def data(make_user) -> Data:
    ann = make_user("ann", roles.SALES, first_name="Ann", last_name="Smith")
    bob = make_user("bob", roles.SALES, first_name="Bob", last_name="Jones")
    north = Team.objects.create(name="North")
    north.members.set([ann])
    south = Team.objects.create(name="South")
    south.members.set([bob])
    vacant = Team.objects.create(name="Vacant")

    S, I = Source, Industry  # noqa: E741
    L1 = make_lead("L1", at(3, 1, 9), S.PAID_SEARCH, "DE", I.SOFTWARE, ann, Stage.CUSTOMER)
    L2 = make_lead("L2", at(3, 2, 9), S.PAID_SEARCH, "DE", I.FINANCE, ann, Stage.CUSTOMER)
    L3 = make_lead("L3", at(3, 3, 9), S.EVENT, "FR", I.SOFTWARE, bob, Stage.LOST)
    L4 = make_lead("L4", at(3, 4, 9), S.EVENT, "FR", I.SOFTWARE, bob, Stage.DISQUALIFIED)
    L5 = make_lead("L5", at(3, 5, 9), S.ORGANIC_SEARCH, "DE", I.HEALTHCARE, ann, Stage.MQL)
    L6 = make_lead("L6", at(3, 6, 9), S.ORGANIC_SEARCH, "US", I.SOFTWARE, None)
    L7 = make_lead("L7", at(3, 7, 9), S.REFERRAL, "US", I.SOFTWARE, bob, Stage.SQL)
    L8 = make_lead("L8", at(3, 8, 9), S.REFERRAL, "FR", I.FINANCE, None)
    P1 = make_lead("P1", at(2, 10, 9), S.PARTNER, "DE", I.SOFTWARE, ann, Stage.CUSTOMER)
    P2 = make_lead("P2", at(2, 20, 9), S.EVENT, "FR", I.RETAIL, bob, Stage.MQL)
    A1 = make_lead("A1", at(4, 2, 9), S.DIRECT, "US", I.SOFTWARE, None)

    M, A, Q, O, C = Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER  # noqa: E741
    history(L1, (M, at(3, 2)), (A, at(3, 3)), (Q, at(3, 5)), (O, at(3, 8)), (C, at(3, 9)))
    history(L2, (M, at(3, 3)), (A, at(3, 5)), (Q, at(3, 8)), (O, at(3, 12)), (C, at(3, 24)))
    history(L3, (M, at(3, 4)), (A, at(3, 7)), (Q, at(3, 11)), (O, at(3, 16)), (Stage.LOST, at(3, 20)))
    history(L4, (M, at(3, 5)), (A, at(3, 9)), (Stage.DISQUALIFIED, at(3, 10)))
    history(L5, (M, at(3, 6)))
    history(L7, (Q, at(3, 10)), forced=True)  # forced past MQL and SAL: it still reached them
    history(P1, (M, at(2, 11)), (A, at(2, 12)), (Q, at(2, 14)), (O, at(2, 20)), (C, at(3, 10)))
    history(P2, (M, at(2, 21)))

    won(L1, Decimal("1000"), at(3, 9))
    won(L2, Decimal("2000"), at(3, 24))
    won(P1, Decimal("500"), at(3, 10))
    Opportunity.objects.create(
        lead=L3,
        amount=Decimal("800"),
        expected_close_date=datetime.date(2025, 4, 30),
        status=Opportunity.Status.LOST,
        opened_at=at(3, 16),
        closed_at=at(3, 20),
    )

    # Handoffs (H1–H5 assigned in March). Hours to the first touch: H1 6, H2 28, H3 8, H4 34.
    # lead, owner, team, grade, assigned, accept due, accepted, touch due, first touch
    h = {
        # on time on both counts
        "H1": (L1, ann, north, "A", at(3, 2, 4), at(3, 2, 8), at(3, 2, 6), at(3, 2, 12), at(3, 2, 10)),
        # accepted late and touched late
        "H2": (L2, ann, north, "A", at(3, 3, 6), at(3, 3, 10), at(3, 3, 11), at(3, 3, 14), at(3, 4, 10)),
        # accepted and touched exactly at the deadlines: on time
        "H3": (L3, bob, south, "B", at(3, 4, 2), at(3, 4, 6), at(3, 4, 6), at(3, 4, 10), at(3, 4, 10)),
        # touched late
        "H4": (L4, bob, south, "B", at(3, 5, 0), at(3, 5, 4), at(3, 5, 3), at(3, 5, 8), at(3, 6, 10)),
        # never accepted nor touched; no team (a rule that names a person)
        "H5": (L5, ann, None, "C", at(3, 6, 10), at(3, 6, 14), None, at(3, 6, 18), None),
        # February: P1's on time (24 h to the touch); P2's neither accepted nor touched
        "HP1": (P1, ann, north, "B", at(2, 11), at(2, 11, 14), at(2, 11, 12), at(2, 12, 10), at(2, 12, 10)),
        "HP2": (P2, bob, south, "D", at(2, 21), at(2, 21, 14), None, at(2, 21, 18), None),
    }
    h = {key: handoff(*spec) for key, spec in h.items()}
    Handoff.objects.filter(pk__in=[h["H3"].pk, h["HP2"].pk]).update(status=Handoff.Status.CLOSED)
    # L3 handed off again in April: its grade at the *first* handoff stays B.
    handoff(L3, bob, south, "A", at(4, 2), at(4, 2, 14), None, at(4, 2, 18), None)
    # P2 back in the pool in March (no owner): nobody's SLA figure.
    Handoff.objects.create(
        lead=P2, team=south, grade="D", status=Handoff.Status.POOL, handed_at=at(3, 7), assigned_at=at(3, 7)
    )
    # Breaches: H2 accept and touch, H4 touch, H5 accept; HP2's touch, recorded on 1 March.
    for key, kind, due, recorded in [
        ("H2", SlaBreach.Kind.ACCEPT, at(3, 3, 10), at(3, 3, 10)),
        ("H2", SlaBreach.Kind.TOUCH, at(3, 3, 14), at(3, 3, 14)),
        ("H4", SlaBreach.Kind.TOUCH, at(3, 5, 8), at(3, 5, 8)),
        ("H5", SlaBreach.Kind.ACCEPT, at(3, 6, 14), at(3, 6, 14)),
        ("HP2", SlaBreach.Kind.TOUCH, at(2, 21, 18), at(3, 1, 8)),
    ]:
        SlaBreach.objects.create(
            handoff=h[key], kind=kind, owner=h[key].owner, team=h[key].team, due_at=due, recorded_at=recorded
        )

    spring = Campaign.objects.create(name="Spring", status=Campaign.Status.ACTIVE)
    webinar = Campaign.objects.create(name="Webinar", status=Campaign.Status.ACTIVE)
    autumn = Campaign.objects.create(name="Autumn")
    for campaign, leads in ((spring, [L1, L2, L3]), (webinar, [L2, L5, P1])):
        for lead in leads:
            Enrollment.objects.create(campaign=campaign, lead=lead)

    guide = CaptureFormFactory(name="Guide")
    demo = CaptureFormFactory(name="Demo")
    for form, lead in ((guide, L1), (guide, L4), (guide, L6), (demo, L2), (demo, L2)):
        Submission.objects.create(form=form, lead=lead, payload={"email": lead.email})

    def activity(lead, kind, when):
        Activity.objects.create(lead=lead, kind=kind, occurred_at=when)

    K = ActivityKind
    activity(L1, K.PAGE_VIEW, at(3, 2))
    activity(L1, K.PAGE_VIEW, at(3, 3))  # the same lead twice: one active lead
    activity(L2, K.FORM_SUBMITTED, at(3, 2))
    activity(L3, K.EMAIL_OPEN, at(3, 10))
    activity(L5, K.DOWNLOAD, at(3, 15))
    activity(P1, K.WEBINAR_ATTENDED, at(3, 5))
    activity(L4, K.CALL, at(3, 10))  # sales' doing, not the lead's: not engagement
    activity(L6, K.NOTE, at(3, 10))  # neither
    activity(P2, K.PAGE_VIEW, at(2, 25))  # February
    activity(L8, K.PAGE_VIEW, at(4, 2))  # April
    activity(A1, K.DOWNLOAD, at(4, 3))  # April

    def message(key, lead, campaign, sent, opened=None, clicked=None, kind=Message.Kind.MARKETING):
        Message.objects.create(
            key=key,
            kind=kind,
            lead=lead,
            campaign=campaign,
            to_email=lead.email,
            status=Message.Status.SENT if sent else Message.Status.QUEUED,
            sent_at=sent,
            opened_at=opened,
            clicked_at=clicked,
        )

    message("m1", L1, spring, at(3, 10), opened=at(3, 10, 12), clicked=at(3, 11))
    message("m2", L2, webinar, at(3, 10), opened=at(3, 12))
    message("m3", L3, spring, at(3, 11), clicked=at(3, 12))  # a click without a tracked open
    message("m4", L5, webinar, at(3, 12))
    message("m5", L1, None, at(3, 12), opened=at(3, 12, 11), kind=Message.Kind.NOTIFICATION)
    message("m6", P1, webinar, at(2, 27), opened=at(2, 28))  # February
    message("m7", L6, spring, None)  # queued, not sent

    def cost(month, amount, source="", campaign=None):
        MarketingCost.objects.create(month=month, source=source, campaign=campaign, amount=Decimal(amount))

    cost(datetime.date(2025, 3, 1), "1500", S.PAID_SEARCH)
    cost(datetime.date(2025, 3, 1), "400", S.EVENT)
    cost(datetime.date(2025, 3, 1), "0", S.REFERRAL)
    cost(datetime.date(2025, 3, 1), "1000", campaign=spring)
    cost(datetime.date(2025, 3, 1), "300", campaign=autumn)
    cost(datetime.date(2025, 2, 1), "999", S.PAID_SEARCH)
    cost(datetime.date(2025, 1, 1), "1", S.PAID_SEARCH)
    cost(datetime.date(2025, 4, 1), "50", S.EVENT)

    assert reports.refresh_funnel() == 11
    leads = dict(L1=L1, L2=L2, L3=L3, L4=L4, L5=L5, L6=L6, L7=L7, L8=L8, P1=P1, P2=P2, A1=A1)
    return Data(ann, bob, north, south, vacant, spring, webinar, autumn, guide, demo, leads)


def counts(period: Period, filters: Filters = EVERYTHING) -> list[int]:
    leads, steps = reports.funnel(period, filters)
    return [leads] + [step.count for step in steps]


def table(rows) -> dict:
    return {row.label: (row.leads, row.customers, row.rate) for row in rows}


# --- The funnel ----------------------------------------------------------------------------------


def test_the_funnel_counts_the_cohort_and_how_far_each_got(data):
    leads, steps = reports.funnel(MARCH, EVERYTHING)
    # Created in March: L1–L8. MQL or later: L1 L2 L3 L4 L5 L7 (forced past MQL) = 6;
    # SAL or later: L1 L2 L3 L4 L7 = 5; SQL or later: L1 L2 L3 L7 = 4; opportunity: L1 L2 L3;
    # customer: L1 L2. P1 (created in February, won in March) is not in March's cohort.
    assert leads == 8
    assert [(s.label, s.count) for s in steps] == [
        ("MQL", 6),
        ("SAL", 5),
        ("SQL", 4),
        ("Opportunity", 3),
        ("Customer", 2),
    ]
    # 6/8, 5/6, 4/5, 3/4, 2/3
    assert [s.rate_from_previous for s in steps] == [0.75, 5 / 6, 0.8, 0.75, 2 / 3]


@pytest.mark.parametrize(
    ("dimension", "expected"),
    [
        (
            "source",
            {
                "Paid search": (2, 2, 1.0),  # L1 L2, both won
                "Event / webinar": (2, 0, 0.0),  # L3 L4
                "Organic search": (2, 0, 0.0),  # L5 L6
                "Referral": (2, 0, 0.0),  # L7 L8
            },
        ),
        (
            "country",
            {
                "Germany": (3, 2, 2 / 3),  # L1 L2 L5
                "France": (3, 0, 0.0),  # L3 L4 L8
                "United States of America": (2, 0, 0.0),  # L6 L7
            },
        ),
        (
            "industry",
            {
                "Software / SaaS": (5, 1, 0.2),  # L1 L3 L4 L6 L7; L1 won
                "Financial services": (2, 1, 0.5),  # L2 L8; L2 won
                "Healthcare": (1, 0, 0.0),  # L5
            },
        ),
        (
            "owner",
            {
                "Ann Smith": (3, 2, 2 / 3),  # L1 L2 L5
                "Bob Jones": (3, 0, 0.0),  # L3 L4 L7
                "Unassigned": (2, 0, 0.0),  # L6 L8
            },
        ),
        (
            "team",
            {
                "North": (3, 2, 2 / 3),  # Ann's leads
                "South": (3, 0, 0.0),  # Bob's
                "Vacant": (0, 0, None),  # nobody in it: 0/0 is no rate, not 0 %
            },
        ),
        (
            "campaign",
            {
                "Spring": (3, 2, 2 / 3),  # L1 L2 L3
                "Webinar": (2, 1, 0.5),  # L2 L5 (P1 is February's)
            },
        ),
        (
            "form",
            {
                "Guide": (3, 1, 1 / 3),  # L1 L4 L6
                "Demo": (1, 1, 1.0),  # L2, who submitted it twice, counts once
            },
        ),
        (
            "grade",
            {
                "A": (2, 2, 1.0),  # L1 L2
                "B": (2, 0, 0.0),  # L3 (its later handoff graded A does not count) and L4
                "C": (1, 0, 0.0),  # L5
                "Not handed off": (3, 0, 0.0),  # L6 L7 L8
            },
        ),
    ],
)
def test_conversion_by_each_dimension(data, dimension, expected):
    rows = reports.conversion_by(dimension, MARCH, EVERYTHING)
    assert table(rows) == expected
    if dimension == "team":
        assert [row.label for row in rows] == ["North", "South", "Vacant"]  # every team, by name
    else:
        assert [row.leads for row in rows] == sorted(
            (row.leads for row in rows), reverse=True
        )  # biggest first


def test_conversion_keys_name_the_value_picked(data):
    by_owner = {row.label: row.key for row in reports.conversion_by("owner", MARCH, EVERYTHING)}
    assert by_owner == {"Ann Smith": str(data.ann.pk), "Bob Jones": str(data.bob.pk), "Unassigned": ""}
    by_source = {row.label: row.key for row in reports.conversion_by("source", MARCH, EVERYTHING)}
    assert by_source["Paid search"] == "paid_search"


@pytest.mark.parametrize(
    ("name", "make_filters", "expected"),
    [
        # [leads, MQL, SAL, SQL, opportunity, customer]
        ("source", lambda d: Filters(source="paid_search"), [2, 2, 2, 2, 2, 2]),  # L1 L2
        ("country", lambda d: Filters(country="FR"), [3, 2, 2, 1, 1, 0]),  # L3 L4 L8
        ("industry", lambda d: Filters(industry="software"), [5, 4, 4, 3, 2, 1]),  # L1 L3 L4 L6 L7
        ("owner", lambda d: Filters(owner=d.bob.pk), [3, 3, 3, 2, 1, 0]),  # L3 L4 L7
        ("team", lambda d: Filters(team=d.north.pk), [3, 3, 2, 2, 2, 2]),  # L1 L2 L5
        ("campaign", lambda d: Filters(campaign=d.webinar.pk), [2, 2, 1, 1, 1, 1]),  # L2 L5
        ("form", lambda d: Filters(form=d.guide.pk), [3, 2, 2, 1, 1, 1]),  # L1 L4 L6
        ("two at once", lambda d: Filters(country="DE", industry="software"), [1, 1, 1, 1, 1, 1]),  # L1
        ("nothing matches", lambda d: Filters(team=d.vacant.pk), [0, 0, 0, 0, 0, 0]),
    ],
)
def test_each_filter_narrows_the_funnel(data, name, make_filters, expected):
    assert counts(MARCH, make_filters(data)) == expected


def test_the_other_figures_follow_the_filters_too(data):
    # Guide's leads L1 L4 L6: only L1 is in a campaign (Spring), and won.
    assert table(reports.conversion_by("campaign", MARCH, Filters(form=data.guide.pk))) == {
        "Spring": (1, 1, 1.0)
    }
    # Spring's leads L1 L2 L3: L1 sent Guide, L2 sent Demo (twice); both won.
    assert table(reports.conversion_by("form", MARCH, Filters(campaign=data.spring.pk))) == {
        "Guide": (1, 1, 1.0),
        "Demo": (1, 1, 1.0),
    }
    # Within North's leads, South has none.
    assert table(reports.conversion_by("team", MARCH, Filters(team=data.north.pk))) == {
        "North": (3, 2, 2 / 3),
        "South": (0, 0, None),
        "Vacant": (0, 0, None),
    }
    # Webinar's customers won in March: L2 (20 d) and P1 (26 d): median 23, p90 20 + 0.9 × 6 = 25.4.
    cycle = reports.sales_cycle(MARCH, Filters(campaign=data.webinar.pk))
    assert (cycle.won, cycle.median_days) == (2, 23.0)
    assert cycle.p90_days == pytest.approx(25.4)
    # Revenue of Webinar's customers: L2 2,000 (paid search; also in Spring) and P1 500 (partner).
    sources, campaigns = reports.roi(MARCH, Filters(campaign=data.webinar.pk))
    assert {r.label: (r.revenue, r.won) for r in sources if r.won} == {
        "Paid search": (Decimal("2000"), 1),
        "Partner": (Decimal("500"), 1),
    }
    assert {r.label: (r.revenue, r.won) for r in campaigns if r.won} == {
        "Spring": (Decimal("2000"), 1),
        "Webinar": (Decimal("2500"), 2),
    }
    # South's leads' handoffs (Bob's H3 H4), by team.
    assert sla_table(reports.sla(MARCH, Filters(team=data.south.pk), by="team")) == {
        "South": (2, 2, 2, 1, 2, 1, pytest.approx(21.0))
    }


# --- Velocity -------------------------------------------------------------------------------------


def test_velocity_is_the_median_and_90th_percentile_of_the_time_in_each_stage(data):
    rows = {row.stage: row for row in reports.velocity(MARCH, EVERYTHING)}
    # Left MQL (reached SAL) in March: L1 1 d, L2 2 d, L3 3 d, L4 4 d (P1 left in February;
    # L7 skipped SAL). Median (2+3)/2 = 2.5; p90 at position 3 × 0.9 = 2.7: 3 + 0.7 × (4 − 3) = 3.7.
    assert (rows["mql"].leads, rows["mql"].median_days, rows["mql"].p90_days) == (4, 2.5, pytest.approx(3.7))
    # Left SAL in March: L1 2, L2 3, L3 4 (L7 reached SQL in March but never had a SAL date).
    # Median 3; p90 at 2 × 0.9 = 1.8: 3 + 0.8 × 1 = 3.8.
    assert (rows["sal"].leads, rows["sal"].median_days, rows["sal"].p90_days) == (3, 3.0, pytest.approx(3.8))
    # Left SQL: L1 3, L2 4, L3 5 → median 4, p90 4 + 0.8 × 1 = 4.8.
    assert (rows["sql"].leads, rows["sql"].median_days, rows["sql"].p90_days) == (3, 4.0, pytest.approx(4.8))
    # Left opportunity (won) in March: L1 1 (8 → 9), L2 12 (12 → 24), P1 18 (20 Feb → 10 Mar).
    # Median 12; p90 12 + 0.8 × (18 − 12) = 16.8.
    opportunity = rows["opportunity"]
    assert (opportunity.leads, opportunity.median_days) == (3, 12.0)
    assert opportunity.p90_days == pytest.approx(16.8)
    assert [row.label for row in reports.velocity(MARCH, EVERYTHING)] == ["MQL", "SAL", "SQL", "Opportunity"]


def test_velocity_follows_the_filters(data):
    rows = {row.stage: row for row in reports.velocity(MARCH, Filters(owner=data.bob.pk))}
    # Bob's leads that left MQL in March: L3 3 d, L4 4 d → median 3.5, p90 3 + 0.9 × 1 = 3.9.
    assert (rows["mql"].leads, rows["mql"].median_days) == (2, 3.5)
    assert rows["mql"].p90_days == pytest.approx(3.9)
    # None of Bob's leads was won: no time in the opportunity stage to measure.
    assert (rows["opportunity"].leads, rows["opportunity"].median_days, rows["opportunity"].p90_days) == (
        0,
        None,
        None,
    )


# --- New MQLs per month and the lead velocity rate ------------------------------------------------


def test_new_mqls_per_month_and_the_lead_velocity_rate(data):
    months = reports.mql_months(MARCH, EVERYTHING)
    # 13 months, March 2024 – March 2025. February: P1 P2 = 2. March: L1–L5 = 5, and L7, forced
    # past MQL to SQL on 03-10, qualified then: 6.
    assert [m for m, _ in months] == [
        datetime.date(2024 + (2 + i) // 12, (2 + i) % 12 + 1, 1) for i in range(13)
    ]
    assert months[0] == (datetime.date(2024, 3, 1), 0)
    assert months[-2:] == [(datetime.date(2025, 2, 1), 2), (datetime.date(2025, 3, 1), 6)]
    assert sum(n for _, n in months) == 8
    # (6 − 2) / 2
    assert reports.lead_velocity_rate(months) == 2.0
    # April: no new MQL after March's 6: (0 − 6) / 6 = −100 %.
    assert reports.lead_velocity_rate(reports.mql_months(APRIL, EVERYTHING)) == -1.0
    # Filtered by source: paid search had 0 new MQLs in February and 2 (L1 L2) in March.
    paid = reports.mql_months(MARCH, Filters(source="paid_search"))
    assert paid[-2:] == [(datetime.date(2025, 2, 1), 0), (datetime.date(2025, 3, 1), 2)]


def test_the_lead_velocity_rate_after_a_month_without_mqls_is_none_not_infinite(data):
    # February's 2 MQLs after January's 0: (2 − 0) / 0 has no value.
    months = reports.mql_months(FEBRUARY, EVERYTHING)
    assert months[-2:] == [(datetime.date(2025, 1, 1), 0), (datetime.date(2025, 2, 1), 2)]
    assert reports.lead_velocity_rate(months) is None
    assert reports.lead_velocity_rate([]) is None


# --- Engagement ----------------------------------------------------------------------------------


def test_engagement_and_email_rates(data):
    e = reports.engagement(MARCH, EVERYTHING)
    # Leads that existed at the end of March: L1–L8, P1, P2 = 10 (A1 came in April).
    # Active in March: L1 (two views), L2, L3, L5, P1 = 5 (L4's call and L6's note are sales'
    # doing; P2's view was in February, L8's in April). 5/10.
    assert (e.leads, e.active, e.rate) == (10, 5, 0.5)
    # Campaign e-mails sent in March: m1 m2 m3 m4 = 4 (not the notification m5, February's m6
    # or the queued m7). Opened: m1, m2, m3 (clicked, so opened) = 3 → 3/4; clicked: m1 m3 → 2/4.
    assert (e.sent, e.opened, e.clicked) == (4, 3, 2)
    assert (e.open_rate, e.click_rate) == (0.75, 0.5)


def test_engagement_follows_the_filters(data):
    e = reports.engagement(MARCH, Filters(source="paid_search"))
    # Paid search: L1 L2, both active; their e-mails m1 (opened, clicked) and m2 (opened).
    assert (e.leads, e.active, e.sent, e.opened, e.clicked) == (2, 2, 2, 2, 1)
    assert (e.rate, e.open_rate, e.click_rate) == (1.0, 1.0, 0.5)
    spring = reports.engagement(MARCH, Filters(campaign=data.spring.pk))
    # Spring's leads L1 L2 L3 (all active); Spring's e-mails in March: m1 m3, both opened and clicked.
    assert (spring.leads, spring.active, spring.sent, spring.opened, spring.clicked) == (3, 3, 2, 2, 2)


# --- Sales cycle ---------------------------------------------------------------------------------


def test_sales_cycle_from_first_touch_to_won(data):
    cycle = reports.sales_cycle(MARCH, EVERYTHING)
    # Won in March: L1 (touched 2 Mar 10:00, won 9 Mar 10:00: 7 d), L2 (4 Mar → 24 Mar: 20 d),
    # P1 (12 Feb → 10 Mar: 16 + 10 = 26 d). Median 20; p90 20 + 0.8 × (26 − 20) = 24.8.
    assert (cycle.won, cycle.median_days) == (3, 20.0)
    assert cycle.p90_days == pytest.approx(24.8)
    # 7 days exactly is in "7–14", not in "0–7".
    assert cycle.buckets == [
        ("0–7 days", 0),
        ("7–14 days", 1),
        ("14–30 days", 2),
        ("30–60 days", 0),
        ("60–90 days", 0),
        ("90+ days", 0),
    ]


# --- ROI -----------------------------------------------------------------------------------------


def roi_table(rows) -> dict:
    return {row.label: (row.cost, row.revenue, row.won, row.roi) for row in rows}


def test_roi_by_source_and_by_campaign(data):
    sources, campaigns = reports.roi(MARCH, EVERYTHING)
    # Won in March: L1 1,000 and L2 2,000 (paid search), P1 500 (partner). March's costs only.
    assert roi_table(sources) == {
        "Event / webinar": (Decimal("400"), Decimal("0"), 0, -1.0),  # spent, nothing won: −100 %
        "Paid search": (Decimal("1500"), Decimal("3000"), 2, 1.0),  # (3,000 − 1,500) / 1,500
        "Partner": (Decimal("0"), Decimal("500"), 1, None),  # revenue without a cost: no ROI
        "Referral": (Decimal("0"), Decimal("0"), 0, None),  # a cost of 0: no ROI, not a crash
    }
    assert [row.label for row in sources] == ["Event / webinar", "Paid search", "Partner", "Referral"]
    # A won lead's revenue counts in full for each campaign it was in: Spring L1 + L2 = 3,000,
    # Webinar L2 + P1 = 2,500.
    assert roi_table(campaigns) == {
        "Autumn": (Decimal("300"), Decimal("0"), 0, -1.0),
        "Spring": (Decimal("1000"), Decimal("3000"), 2, 2.0),  # (3,000 − 1,000) / 1,000
        "Webinar": (Decimal("0"), Decimal("2500"), 2, None),
    }
    assert [row.key for row in campaigns] == [str(c.pk) for c in (data.autumn, data.spring, data.webinar)]


def test_roi_counts_the_costs_of_every_month_the_period_touches(data):
    # 29 Jan – 28 Feb touches January (1) and February (999): 1,000 spent, nothing won.
    sources, campaigns = reports.roi(MARCH.previous(), EVERYTHING)
    assert roi_table(sources) == {"Paid search": (Decimal("1000"), Decimal("0"), 0, -1.0)}
    assert campaigns == []
    # April: event's 50, nothing won.
    sources, _ = reports.roi(APRIL, EVERYTHING)
    assert roi_table(sources) == {"Event / webinar": (Decimal("50"), Decimal("0"), 0, -1.0)}


def test_a_lead_enrolled_twice_in_a_campaign_counts_its_revenue_once(data):
    # L2 went through Spring before and is in it again (the campaign allows re-enrollment).
    Enrollment.objects.filter(campaign=data.spring, lead=data.leads["L2"]).update(
        status=Enrollment.Status.COMPLETED, finished_at=at(3, 1)
    )
    Enrollment.objects.create(campaign=data.spring, lead=data.leads["L2"])
    _, campaigns = reports.roi(MARCH, EVERYTHING)
    spring = roi_table(campaigns)["Spring"]
    # Still L1 1,000 + L2 2,000, two customers: ROI (3,000 − 1,000) / 1,000 = 200 %.
    assert spring == (Decimal("1000"), Decimal("3000"), 2, 2.0)


def test_roi_under_a_source_filter_does_not_misstate_the_other_sources(data):
    sources, _ = reports.roi(MARCH, Filters(source="partner"))
    rows = roi_table(sources)
    # P1, the partner's customer: 500 without a cost.
    assert rows["Partner"] == (Decimal("0"), Decimal("500"), 1, None)
    # Paid search is either left out (it is filtered out) or shown as it is: 1,500 spent,
    # 3,000 won, +100 %; never 1,500 spent for nothing.
    assert "Paid search" not in rows or rows["Paid search"] == (Decimal("1500"), Decimal("3000"), 2, 1.0)


# --- SLA -----------------------------------------------------------------------------------------


def sla_table(rows) -> dict:
    return {
        row.label: (
            row.handoffs,
            row.accepted_on_time,
            row.accepted,
            row.touched_on_time,
            row.touched,
            row.breaches,
            row.median_hours_to_touch,
        )
        for row in rows
    }


def test_sla_by_sdr_and_by_team(data):
    owners = reports.sla(MARCH, EVERYTHING, by="owner")
    # Ann: H1 (on time, 6 h), H2 (accepted and touched late, 28 h, 2 breaches), H5 (never
    # accepted, 1 breach): 3 handoffs, 1 accepted on time of 2, 1 touched on time of 2,
    # 3 breaches, median hours (6 + 28) / 2 = 17.
    # Bob: H3 (accepted and touched exactly at the deadline: on time, 8 h), H4 (touched late,
    # 34 h, 1 breach): median (8 + 34) / 2 = 21. The pool handoff of P2 is nobody's.
    assert sla_table(owners) == {
        "Ann Smith": (3, 1, 2, 1, 2, 3, pytest.approx(17.0)),
        "Bob Jones": (2, 2, 2, 1, 2, 1, pytest.approx(21.0)),
    }
    assert [row.label for row in owners] == ["Ann Smith", "Bob Jones"]
    assert [row.key for row in owners] == [str(data.ann.pk), str(data.bob.pk)]
    ann = owners[0]
    assert (ann.accept_rate, ann.touch_rate) == (1 / 3, 1 / 3)
    assert (owners[1].accept_rate, owners[1].touch_rate) == (1.0, 0.5)

    teams = reports.sla(MARCH, EVERYTHING, by="team")
    # North: H1 H2 (H5 has no team); South: H3 H4.
    assert sla_table(teams) == {
        "North": (2, 1, 2, 1, 2, 2, pytest.approx(17.0)),
        "South": (2, 2, 2, 1, 2, 1, pytest.approx(21.0)),
    }
    assert [(row.accept_rate, row.touch_rate) for row in teams] == [(0.5, 0.5), (1.0, 0.5)]


def test_sla_follows_the_filters(data):
    # Leads from an event: L3 (H3) and L4 (H4), both Bob's.
    owners = reports.sla(MARCH, Filters(source="event"), by="owner")
    assert sla_table(owners) == {"Bob Jones": (2, 2, 2, 1, 2, 1, pytest.approx(21.0))}
    # Leads in the Webinar campaign with a March handoff: L2 (H2) and L5 (H5), both Ann's.
    owners = reports.sla(MARCH, Filters(campaign=data.webinar.pk), by="owner")
    assert sla_table(owners) == {"Ann Smith": (2, 0, 1, 0, 1, 3, pytest.approx(28.0))}


def test_breaches_recorded_in_a_period(data):
    # Recorded in March: H2's two, H4's, H5's and the February handoff's on 1 March.
    assert reports.breaches_in(MARCH) == 5
    assert reports.breaches_in(FEBRUARY) == 0


# --- The comparison period -----------------------------------------------------------------------


def test_the_comparison_period_is_the_same_length_just_before(data):
    assert Period.of_days(datetime.date(2025, 3, 1), datetime.date(2025, 3, 31)) == MARCH
    previous = MARCH.previous()
    # 31 days before 1 March: 29 January – 28 February.
    assert (previous.first_day, previous.last_day) == (datetime.date(2025, 1, 29), datetime.date(2025, 2, 28))
    assert previous.months() == [datetime.date(2025, 1, 1), datetime.date(2025, 2, 1)]
    # Created then: P1 (MQL, SAL, SQL, opportunity, customer in March: "ever") and P2 (MQL).
    leads, steps = reports.funnel(previous, EVERYTHING)
    assert [leads] + [s.count for s in steps] == [2, 2, 1, 1, 1, 1]
    assert [s.rate_from_previous for s in steps] == [1.0, 0.5, 1.0, 1.0, 1.0]
    assert table(reports.conversion_by("source", previous, EVERYTHING)) == {
        "Partner": (1, 1, 1.0),
        "Event / webinar": (1, 0, 0.0),
    }
    velocity = {
        row.stage: (row.leads, row.median_days, row.p90_days)
        for row in reports.velocity(previous, EVERYTHING)
    }
    # P1 alone: MQL 1 d, SAL 2 d, SQL 6 d; nobody was won before March.
    assert velocity == {
        "mql": (1, 1.0, 1.0),
        "sal": (1, 2.0, 2.0),
        "sql": (1, 6.0, 6.0),
        "opportunity": (0, None, None),
    }
    e = reports.engagement(previous, EVERYTHING)
    # P1 and P2 existed on 1 March; P2 viewed a page on 25 Feb: 1/2. m6 sent, opened, not clicked.
    assert (e.leads, e.active, e.rate, e.sent, e.open_rate, e.click_rate) == (2, 1, 0.5, 1, 1.0, 0.0)
    cycle = reports.sales_cycle(previous, EVERYTHING)
    assert (cycle.won, cycle.median_days, cycle.p90_days) == (0, None, None)
    # February's handoffs: P1's (Ann, on time, 24 h) and P2's (Bob, never accepted or touched:
    # no median). P2's breach was recorded on 1 March but belongs to its handoff.
    assert sla_table(reports.sla(previous, EVERYTHING, by="owner")) == {
        "Ann Smith": (1, 1, 1, 1, 1, 0, pytest.approx(24.0)),
        "Bob Jones": (1, 0, 0, 0, 0, 1, None),
    }


# --- Nothing to count ----------------------------------------------------------------------------


def test_an_empty_period_is_all_zeros_and_no_rates(data):
    leads, steps = reports.funnel(EMPTY, EVERYTHING)
    assert leads == 0
    assert [(s.count, s.rate_from_previous) for s in steps] == [(0, None)] * 5
    for dimension in ("source", "country", "industry", "owner", "campaign", "form", "grade"):
        assert reports.conversion_by(dimension, EMPTY, EVERYTHING) == [], dimension
    assert table(reports.conversion_by("team", EMPTY, EVERYTHING)) == {
        "North": (0, 0, None),
        "South": (0, 0, None),
        "Vacant": (0, 0, None),
    }
    assert [(v.leads, v.median_days, v.p90_days) for v in reports.velocity(EMPTY, EVERYTHING)] == [
        (0, None, None)
    ] * 4
    months = reports.mql_months(EMPTY, EVERYTHING)
    assert len(months) == 13 and all(n == 0 for _, n in months)
    assert reports.lead_velocity_rate(months) is None
    e = reports.engagement(EMPTY, EVERYTHING)
    assert (e.leads, e.active, e.sent, e.opened, e.clicked) == (0, 0, 0, 0, 0)
    assert (e.rate, e.open_rate, e.click_rate) == (None, None, None)
    cycle = reports.sales_cycle(EMPTY, EVERYTHING)
    assert (cycle.won, cycle.median_days, cycle.p90_days) == (0, None, None)
    assert [n for _, n in cycle.buckets] == [0] * 6
    assert reports.roi(EMPTY, EVERYTHING) == ([], [])
    assert reports.sla(EMPTY, EVERYTHING, by="owner") == []
    assert reports.sla(EMPTY, EVERYTHING, by="team") == []
    assert reports.breaches_in(EMPTY) == 0


def test_an_empty_database_gives_no_rates_rather_than_errors():
    period = Period(at(3, 1, 0), at(4, 1, 0))
    assert reports.refresh_funnel() == 0
    assert counts(period) == [0, 0, 0, 0, 0, 0]
    e = reports.engagement(period, EVERYTHING)
    assert (e.rate, e.open_rate, e.click_rate) == (None, None, None)
    assert reports.conversion_by("team", period, EVERYTHING) == []


def test_division_by_zero_gives_none(data):
    # April: 11 leads existed, L8 and A1 were active (2/11), but no campaign e-mail was sent:
    # the open and click rates have no denominator.
    e = reports.engagement(APRIL, EVERYTHING)
    assert (e.leads, e.active, e.rate) == (11, 2, 2 / 11)
    assert (e.sent, e.open_rate, e.click_rate) == (0, None, None)
    # April's cohort (A1) reached no stage: MQL 0/1 = 0 %, and every later step 0/0 = none.
    leads, steps = reports.funnel(APRIL, EVERYTHING)
    assert leads == 1
    assert [s.rate_from_previous for s in steps] == [0.0, None, None, None, None]
    # A cost of 0 (referral, March) gives no ROI rather than a division error.
    referral = next(row for row in reports.roi(MARCH, EVERYTHING)[0] if row.key == "referral")
    assert (referral.cost, referral.roi) == (Decimal("0"), None)
    # An SDR with handoffs but no first touch: no median hours (Bob in February).
    bob = next(row for row in reports.sla(FEBRUARY, EVERYTHING, by="owner") if row.label == "Bob Jones")
    assert (bob.handoffs, bob.median_hours_to_touch, bob.touch_rate) == (1, None, 0.0)
    assert reports.rate(0, 0) is None and reports.rate(3, 0) is None and reports.rate(0, 4) == 0.0


def test_engagement_counts_only_leads_that_existed_at_the_end_of_the_period(data):
    # A visitor read the pricing page on 30 March and filled in a form on 5 April: the
    # stitched page view keeps its time (leads.tracking.identify_visitor).
    late = make_lead("Late", at(4, 5), Source.DIRECT, "US", Industry.SOFTWARE, None)
    Activity.objects.create(lead=late, kind=ActivityKind.PAGE_VIEW, occurred_at=at(3, 30))
    reports.refresh_funnel([late.pk])
    e = reports.engagement(MARCH, EVERYTHING)
    # Still 10 leads at the end of March, 5 of them active.
    assert (e.leads, e.active, e.rate) == (10, 5, 0.5)


def test_the_funnel_rows_are_rebuilt_not_added_to(data):
    # Refreshing again, or one lead at a time, changes nothing; a new stage does show.
    assert reports.refresh_funnel() == 11
    assert reports.refresh_funnel([data.leads["L5"].pk]) == 1
    assert counts(MARCH) == [8, 6, 5, 4, 3, 2]
    history_l5 = StageChange(
        lead=data.leads["L5"], from_stage=Stage.MQL, to_stage=Stage.SAL, changed_at=at(3, 20)
    )
    history_l5.save()
    assert counts(MARCH) == [8, 6, 5, 4, 3, 2]  # not yet: the read model is refreshed by beat
    reports.refresh_funnel([data.leads["L5"].pk])
    assert counts(MARCH) == [8, 6, 6, 4, 3, 2]


# --- The dashboard's roll-ups (PostgreSQL; migration 0011) -----------------------------------------
#
# On PostgreSQL the dashboard reads daily cubes of the funnel rows and the engagement roll-up
# instead of the rows. Here a crowd of leads with pseudo-random histories and activities (some
# before the lead was created, some on the same day, some not engagement) is compared, over
# many periods and filters, with the straightforward computation: counting the activities and
# the funnel rows. On SQLite the roll-ups do not exist and the comparison checks the fallback.

postgres_only = pytest.mark.skipif(
    __import__("django.db").db.connection.vendor != "postgresql", reason="the roll-ups are PostgreSQL's"
)
DAY0 = datetime.date(2025, 1, 10)
SOURCES = [Source.PAID_SEARCH, Source.EVENT, Source.REFERRAL]


def day_period(first: datetime.date, days: int, tz=UTC) -> Period:
    start = datetime.datetime.combine(first, datetime.time(), tzinfo=tz)
    end = datetime.datetime.combine(first + datetime.timedelta(days=days), datetime.time(), tzinfo=tz)
    return Period(start, end)


def some_periods() -> list[Period]:
    return [
        day_period(DAY0 + datetime.timedelta(days=offset), length)
        for offset in range(0, 130, 11)
        for length in (1, 3, 10, 31, 90)
    ]


def make_crowd(rng, count: int, owner=None) -> list[Lead]:
    """Leads created over three months, with stage histories, won deals and activities."""
    stages = [Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER]
    kinds = [*reports.ENGAGED_KINDS, ActivityKind.CALL, ActivityKind.NOTE]
    leads = []
    for n in range(count):
        created = datetime.datetime.combine(
            DAY0 + datetime.timedelta(days=rng.randrange(20, 110)),
            datetime.time(rng.randrange(24)),
            tzinfo=UTC,
        )
        reached = rng.randrange(len(stages) + 1)
        lead = make_lead(
            f"C{n}-{rng.random():.6f}",
            created,
            rng.choice(SOURCES),
            rng.choice(["DE", "FR"]),
            Industry.SOFTWARE,
            owner,
            stages[reached - 1] if reached else Stage.NEW,
        )
        when = created
        steps = []
        for stage in stages[:reached]:
            when += datetime.timedelta(hours=rng.randrange(1, 24 * 20))
            steps.append((stage, when))
        history(lead, *steps, forced=rng.random() < 0.2)
        if reached == len(stages):
            won(lead, Decimal(rng.randrange(100, 5000)), when)
        for _ in range(rng.randrange(9)):
            occurred = created + datetime.timedelta(hours=rng.randrange(-24 * 12, 24 * 60))
            Activity.objects.create(lead=lead, kind=rng.choice(kinds), occurred_at=occurred)
        leads.append(lead)
    return leads


@pytest.fixture
def crowd():
    import random

    leads = make_crowd(random.Random(7), 40)
    reports.refresh_funnel()
    return leads


def straight_active(period: Period, source: str = "") -> int:
    activities = Activity.objects.filter(
        kind__in=reports.ENGAGED_KINDS,
        occurred_at__gte=period.start,
        occurred_at__lt=period.end,
        lead__created_at__lt=period.end,
    )
    if source:
        activities = activities.filter(lead__source=source)
    return activities.values("lead").distinct().count()


def straight_funnel(period: Period, source: str = "") -> dict:
    """(source, grade, level) → leads created in the period, from the funnel rows one by one."""
    out: dict = {}
    for row in LeadFunnel.objects.all():
        if not (period.start <= row.created_at < period.end) or (source and row.source != source):
            continue
        level = max(
            (i for i, s in enumerate(reports.FUNNEL, 1) if getattr(row, reports.MILESTONE[s])), default=0
        )
        out[(row.source, row.grade, level)] = out.get((row.source, row.grade, level), 0) + 1
    return out


def straight_won(period: Period, source: str = "") -> dict:
    out: dict = {}
    for row in LeadFunnel.objects.filter(customer_at__gte=period.start, customer_at__lt=period.end):
        if not source or row.source == source:
            revenue, n = out.get(row.source, (Decimal(0), 0))
            out[row.source] = (revenue + (row.won_value or 0), n + 1)
    return out


def straight_qualified(period: Period, source: str = "") -> int:
    n = 0
    for row in LeadFunnel.objects.all():
        at = next(
            (
                getattr(row, reports.MILESTONE[s])
                for s in reports.FUNNEL
                if getattr(row, reports.MILESTONE[s])
            ),
            None,
        )
        n += at is not None and period.start <= at < period.end and (not source or row.source == source)
    return n


def cube_funnel(period: Period, source: str = "") -> dict:
    groups = reports._cohort_groups_from_cube([period], Filters(source=source), "source")
    assert groups is not None, "the cube answers for a period cut at midnight"
    return {(key, grade, level): n for key, grade, level, n in groups[0]}


def assert_rollups_match(periods, sources=("", *SOURCES)) -> None:
    for period in periods:
        for source in sources:
            filters = Filters(source=source)
            where = (period.first_day, period.last_day, source)
            if connection_is_postgres():
                assert reports._active_from_rollup([period], filters) == [straight_active(period, source)], (
                    where
                )
                assert cube_funnel(period, source) == straight_funnel(period, source), where
                existed = LeadFunnel.objects.filter(created_at__lt=period.end)
                existed = existed.filter(source=source) if source else existed
                assert reports._existed_from_cube([period], filters) == [existed.count()], where
                won_rows = reports._won_by_source_from_cube(period, filters)
                assert won_rows == straight_won(period, source), where
            # What the dashboard shows, whichever way it computes it.
            assert reports.engagement(period, filters).active == straight_active(period, source), where
            leads, steps = reports.funnel(period, filters)
            expected = straight_funnel(period, source)
            assert leads == sum(expected.values()), where
            assert [s.count for s in steps] == [
                sum(n for (_, _, level), n in expected.items() if level >= i) for i in range(1, 6)
            ], where


def connection_is_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def test_the_rollups_give_what_counting_the_rows_gives(crowd):
    if connection_is_postgres():
        assert reports.engaged_rollup_ready() and reports.funnel_cubes_ready()
    assert_rollups_match(some_periods())
    # New MQLs per month: the months of 2025, from the cube (PostgreSQL) or the funnel rows.
    months = dict(reports.mql_months(day_period(datetime.date(2025, 12, 1), 31), EVERYTHING))
    for month, n in months.items():
        end = (month + datetime.timedelta(days=32)).replace(day=1)
        assert n == straight_qualified(day_period(month, (end - month).days)), month
    assert sum(months.values()) > 0


def test_a_period_not_cut_at_midnight_counts_the_rows(crowd):
    period = Period(at(3, 1, 10), at(4, 12, 15))
    assert reports._active_from_rollup([period], EVERYTHING) is None
    assert reports._cohort_groups_from_cube([period], EVERYTHING, "source") is None
    assert reports.engagement(period, EVERYTHING).active == straight_active(period)
    assert reports.funnel(period, EVERYTHING)[0] == sum(straight_funnel(period).values())


def test_other_filters_read_the_rows_or_join_the_engaged_days(crowd):
    period = day_period(DAY0 + datetime.timedelta(days=30), 45)
    germany = Filters(country="DE")
    assert reports._cube_days([period], germany) is None
    expected = Activity.objects.filter(
        kind__in=reports.ENGAGED_KINDS,
        occurred_at__gte=period.start,
        occurred_at__lt=period.end,
        lead__created_at__lt=period.end,
        lead__country="DE",
    )
    expected = expected.values("lead").distinct().count()
    assert reports.engagement(period, germany).active == expected
    if connection_is_postgres():
        assert reports._active_from_rollup([period], germany) == [expected]


@postgres_only
def test_a_refresh_brings_the_rollups_up_to_date_set_based(crowd):
    import random

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rng = random.Random(11)
    lead, other = crowd[0], crowd[1]
    lead.refresh_from_db()
    # An event on a day the lead did nothing else, a lead moved to another source, new leads.
    quiet_day = timezone.localtime(lead.created_at, UTC).date() + datetime.timedelta(days=70)
    quiet = day_period(quiet_day, 1)
    Activity.objects.create(
        lead=lead,
        kind=ActivityKind.DOWNLOAD,
        occurred_at=datetime.datetime.combine(quiet_day, datetime.time(23, 59), tzinfo=UTC),
    )
    Lead.objects.filter(pk=other.pk).update(source=Source.PARTNER)
    StageChange.objects.create(lead=other, from_stage=Stage.NEW, to_stage=Stage.MQL, changed_at=at(3, 30))
    new = make_crowd(rng, 3)
    # Not yet: beat refreshes them (as the funnel rows).
    assert reports._active_from_rollup([quiet], EVERYTHING) == [straight_active(quiet) - 1]
    assert reports._active_from_rollup([day_period(DAY0, 130)], Filters(source=Source.PARTNER)) == [0]

    with CaptureQueriesContext(connection) as few:
        reports.refresh_funnel([lead.pk, other.pk])
    with CaptureQueriesContext(connection) as many:
        reports.refresh_funnel([lead.pk, other.pk, *(n.pk for n in new), *(c.pk for c in crowd[5:30])])
    # Set-based: as many statements for 30 leads as for 2, none per lead.
    assert len(many.captured_queries) == len(few.captured_queries)
    assert_rollups_match(some_periods(), sources=("", Source.PARTNER, Source.PAID_SEARCH))


@postgres_only
def test_deleting_leads_takes_them_out_of_the_rollups_at_once(crowd):
    Lead.objects.filter(pk__in=[lead.pk for lead in crowd[:5]]).delete()
    assert_rollups_match(some_periods()[::3])


@postgres_only
def test_the_five_minute_refresh_finds_late_events_by_activity_id(crowd):
    from django.db.models import Max

    lead = crowd[2]
    now = timezone.now()
    newest = Activity.objects.aggregate(m=Max("pk"))["m"]
    reports._record_activity_mark(now - datetime.timedelta(minutes=20), newest)
    # Older than the lead's last activity: neither its last activity time nor updated_at moves.
    Lead.objects.filter(pk=lead.pk).update(updated_at=now - datetime.timedelta(days=1))
    LastActivity.objects.filter(lead=lead).update(at=now - datetime.timedelta(days=1))
    Activity.objects.create(lead=lead, kind=ActivityKind.TRIAL_STARTED, occurred_at=at(1, 20, 12))
    assert lead.pk in reports.changed_leads(now - datetime.timedelta(minutes=15))
    reports.refresh_changed(15)
    assert_rollups_match([day_period(datetime.date(2025, 1, 20), days) for days in (1, 30)])


@postgres_only
def test_the_rollups_wait_for_a_rebuild_after_the_time_zone_changes(crowd, settings):
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    settings.TIME_ZONE = "Europe/Berlin"
    assert not reports.engaged_rollup_ready() and not reports.funnel_cubes_ready()
    periods = [day_period(DAY0 + datetime.timedelta(days=offset), 17, berlin) for offset in range(0, 120, 13)]
    # Built for UTC: the dashboard counts the rows meanwhile, and gets the same answers.
    for period in periods:
        assert reports._active_from_rollup([period], EVERYTHING) is None
        assert reports.engagement(period, EVERYTHING).active == straight_active(period)
    reports.refresh_funnel()
    assert reports.engaged_rollup_ready() and reports.funnel_cubes_ready()
    assert_rollups_match(periods, sources=("", Source.EVENT))


@postgres_only
def test_truncating_the_funnel_rows_empties_the_rollups(crowd):
    # What flushing a test database does: the roll-ups must not outlive the funnel rows.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's deferred foreign-key checks
        cursor.execute("TRUNCATE leads_leadfunnel")
        for table in ("leads_funnelday", "leads_qualifiedday", "leads_wonday", "leads_engagedday"):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
            assert cursor.fetchone() == (0,), table
    assert not reports.engaged_rollup_ready() and not reports.funnel_cubes_ready()
    period = day_period(DAY0, 130)
    assert reports.engagement(period, EVERYTHING).active == straight_active(period)
