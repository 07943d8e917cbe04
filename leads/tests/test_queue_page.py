"""The SDR queue page: what it lists, in which order, and its one-click actions."""

import pytest
from django.urls import reverse

from leads import services
from leads.models import Handoff, Lead, RoutingRule, Stage, Team
from scoring.models import LeadScore, RuleSet

from .factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(sdr, make_user):
    colleague = make_user("colleague", "Sales")
    team = Team.objects.create(name="EMEA")
    team.members.set([sdr, colleague])
    return team


def _score(lead, grade, temperature, total=50):
    rule_set = RuleSet.objects.first() or RuleSet.objects.create(name="Test", status=RuleSet.Status.PUBLISHED)
    LeadScore.objects.update_or_create(
        lead=lead,
        defaults={
            "rule_set": rule_set,
            "fit": 0,
            "engagement": 0,
            "total": total,
            "grade": grade,
            "temperature": temperature,
        },
    )


def _handed(lead, *, hand_raise=False):
    services.change_stages(
        [lead.pk], from_stage=lead.stage, to_stage=Stage.MQL, reason="Test", hand_raise=hand_raise
    )
    return Handoff.objects.get(lead=lead, closed_at__isnull=True)


def test_queue_orders_hot_hand_raisers_first_then_grade_within_temperature(page_as, sdr):
    leads = {}
    for name, grade, temperature, hand_raise in [
        ("a-warm", "A", 2, False),
        ("b-hot", "B", 3, False),
        ("c-hot-raiser", "C", 3, True),
        ("a-hot", "A", 3, False),
        ("d-cold", "D", 1, False),
    ]:
        lead = LeadFactory(first_name=name, last_name="Lead")
        _score(lead, grade, temperature)
        leads[name] = _handed(lead, hand_raise=hand_raise)

    html = page_as(sdr).get(reverse("leads:queue")).content.decode()

    order = sorted(leads, key=lambda name: html.index(f"{name} Lead"))
    assert order == ["c-hot-raiser", "a-hot", "b-hot", "a-warm", "d-cold"]


def test_an_sdr_sees_own_and_pool_leads_not_a_colleagues(page_as, sdr, make_user):
    colleague = make_user("colleague", "Sales")
    mine, theirs, pooled = (LeadFactory(first_name=n, last_name="Lead") for n in ("mine", "theirs", "pooled"))
    RoutingRule.objects.create(name="Mine", user=sdr, countries=["DE"])
    RoutingRule.objects.create(name="Theirs", user=colleague, countries=["FR"])
    Lead.objects.filter(pk=mine.pk).update(country="DE")
    Lead.objects.filter(pk=theirs.pk).update(country="FR")
    Lead.objects.filter(pk=pooled.pk).update(country="US")
    for lead in (mine, theirs, pooled):
        lead.refresh_from_db()
        _handed(lead)

    html = page_as(sdr).get(reverse("leads:queue")).content.decode()

    assert "mine Lead" in html and "pooled Lead" in html
    assert "theirs Lead" not in html
    pool_only = page_as(sdr).get(reverse("leads:queue") + "?scope=pool").content.decode()
    assert "pooled Lead" in pool_only and "mine Lead" not in pool_only


def test_a_manager_sees_every_sdrs_leads_and_can_narrow_to_one(page_as, sdr, manager, make_user):
    colleague = make_user("colleague", "Sales")
    RoutingRule.objects.create(name="Theirs", user=colleague)
    lead = LeadFactory(first_name="theirs", last_name="Lead")
    _handed(lead)

    assert "theirs Lead" in page_as(manager).get(reverse("leads:queue")).content.decode()
    narrowed = page_as(manager).get(reverse("leads:queue") + f"?owner={sdr.pk}").content.decode()
    assert "theirs Lead" not in narrowed


def test_accept_from_the_queue_makes_the_lead_sal_and_answers_with_the_fresh_table(page_as, sdr):
    lead = LeadFactory(email="pool@example.com")
    handoff = _handed(lead)

    response = page_as(sdr).post(
        reverse("leads:queue-accept", args=[handoff.pk]),
        {"scope": "", "q": ""},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="queue-live",
    )

    assert response.status_code == 200
    assert "Accepted" in response.content.decode()
    lead.refresh_from_db()
    handoff.refresh_from_db()
    assert (lead.stage, lead.owner, handoff.status) == (Stage.SAL, sdr, Handoff.Status.ACCEPTED)


def test_claiming_a_lead_a_colleague_took_first_says_who(page_as, sdr, make_user):
    colleague = make_user("quick", "Sales", first_name="Quinn", last_name="Quick")
    handoff = _handed(LeadFactory())
    page_as(colleague).post(reverse("leads:queue-claim", args=[handoff.pk]))

    # The SDR's page still showed it in the pool; the colleague's lead is no longer theirs to see.
    response = page_as(sdr).post(reverse("leads:queue-claim", args=[handoff.pk]), follow=True)

    assert response.status_code == 404 or "Quinn Quick claimed this lead first" in response.content.decode()
    handoff.refresh_from_db()
    assert handoff.owner == colleague


def test_log_a_call_with_a_next_step_from_the_panel(page_as, sdr):
    lead = LeadFactory()
    handoff = _handed(lead)
    client = page_as(sdr)
    client.post(reverse("leads:queue-accept", args=[handoff.pk]))

    response = client.post(
        reverse("leads:queue-touch", args=[handoff.pk]),
        {
            "kind": "call",
            "outcome": "connected",
            "notes": "Wants pricing",
            "next_step": "Send pricing",
            "next_step_due": "2099-01-05T10:00",
        },
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="handoff-panel",
        HTTP_HX_CURRENT_URL="http://testserver/leads/queue/",
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "queue-changed"
    assert "Call logged" in response.content.decode()
    handoff.refresh_from_db()
    assert handoff.first_touch_at is not None and handoff.due_at is None
    assert lead.activities.filter(kind="call", properties__outcome="connected").exists()
    assert lead.reminders.get().text == "Send pricing"


def test_a_touch_without_an_outcome_is_refused_beside_the_field_and_changes_nothing(page_as, sdr):
    lead = LeadFactory()
    handoff = _handed(lead)
    client = page_as(sdr)
    client.post(reverse("leads:queue-claim", args=[handoff.pk]))

    response = client.post(
        reverse("leads:queue-touch", args=[handoff.pk]),
        {"kind": "call", "outcome": ""},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not lead.activities.filter(kind="call").exists()


def test_reject_needs_a_reason_and_recycles_the_lead(page_as, sdr):
    lead = LeadFactory()
    handoff = _handed(lead)
    client = page_as(sdr)

    refused = client.post(reverse("leads:queue-reject", args=[handoff.pk]), {"reason": " "})
    assert refused.status_code == 400
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL

    client.post(reverse("leads:queue-reject", args=[handoff.pk]), {"reason": "No budget"})
    lead.refresh_from_db()
    handoff.refresh_from_db()
    assert lead.stage == Stage.RECYCLED
    assert handoff.status == Handoff.Status.CLOSED
    assert lead.stage_changes.filter(to_stage=Stage.RECYCLED, reason__contains="No budget").exists()


def test_marketing_has_no_queue_and_sales_cannot_reassign(page_as, marketer, sdr):
    handoff = _handed(LeadFactory())
    assert page_as(marketer).get(reverse("leads:queue")).status_code == 403
    response = page_as(sdr).post(reverse("leads:queue-reassign", args=[handoff.pk]), {"to": ""})
    assert response.status_code == 403


def test_a_manager_reassigns_from_the_panel(page_as, manager, sdr):
    handoff = _handed(LeadFactory())
    response = page_as(manager).post(reverse("leads:queue-reassign", args=[handoff.pk]), {"to": sdr.pk})
    assert response.status_code == 302
    handoff.refresh_from_db()
    assert handoff.owner == sdr
    assert sdr.notifications.filter(kind="lead_assigned").exists()


def test_the_lead_page_shows_its_sales_panel(page_as, sdr):
    lead = LeadFactory()
    _handed(lead)
    response = page_as(sdr).get(reverse("leads:handoff-panel", args=[lead.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "In the pool" in response.content.decode()


def test_due_reminders_show_in_the_queue_and_can_be_done(page_as, sdr):
    lead = LeadFactory()
    handoff = _handed(lead)
    client = page_as(sdr)
    client.post(reverse("leads:queue-accept", args=[handoff.pk]))
    reminder = lead.reminders.create(owner=sdr, text="Call back", due_at="2000-01-01T10:00Z")

    assert "Call back" in client.get(reverse("leads:queue")).content.decode()
    client.post(reverse("leads:reminder-done", args=[reminder.pk]))
    assert "Call back" not in client.get(reverse("leads:queue")).content.decode()


def test_giving_the_lead_to_a_colleague_on_the_edit_page_moves_its_handoff(page_as, sdr, make_user):
    from leads.tests.factories import edit_form_data

    colleague = make_user("colleague", "Sales", email="colleague@example.com")
    lead = LeadFactory()
    handoff = _handed(lead)
    page_as(sdr).post(reverse("leads:queue-claim", args=[handoff.pk]))
    lead.refresh_from_db()

    response = page_as(sdr).post(
        reverse("leads:edit", args=[lead.pk]), edit_form_data(lead, owner=str(colleague.pk))
    )

    assert response.status_code == 302
    handoff.refresh_from_db()
    assert handoff.owner == colleague
    assert colleague.notifications.filter(kind="lead_assigned").exists()
    # Now a colleague's: the SDR no longer sees it in the queue.
    assert f'data-lead="{lead.pk}"' not in page_as(sdr).get(reverse("leads:queue")).content.decode()


def test_accepting_the_open_row_refreshes_the_side_panel_too(page_as, sdr):
    handoff = _handed(LeadFactory())

    response = page_as(sdr).post(
        reverse("leads:queue-accept", args=[handoff.pk]),
        {"open": str(handoff.pk)},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="queue-live",
    )

    html = response.content.decode()
    assert 'hx-swap-oob="innerHTML:#handoff-panel"' in html
    panel = html.split('hx-swap-oob="innerHTML:#handoff-panel"', 1)[1]
    assert "Accepted" in panel and 'data-testid="panel-accept"' not in panel


def test_the_queue_order_follows_the_score_in_real_time_and_after_publishing(page_as, sdr):
    from leads.services import record_activity
    from scoring import services as scoring
    from scoring.models import EngagementRule
    from scoring.tests.factories import engagement_rule, published_rule_set

    # Hot from 50 engagement points; a webinar is worth 50, a download 10.
    published_rule_set(
        engagement=[
            engagement_rule("Webinar", "webinar_attended", 50),
            engagement_rule("Download", "download", 10),
        ],
        mql_threshold=1000,
        hot_threshold=50,
        warm_threshold=20,
    )
    first, second = (
        LeadFactory(first_name="First", last_name="Lead"),
        LeadFactory(first_name="Second", last_name="Lead"),
    )
    _handed(first)
    _handed(second)
    client = page_as(sdr)

    def order():
        html = client.get(reverse("leads:queue")).content.decode()
        return sorted(["First", "Second"], key=lambda name: html.index(f"{name} Lead"))

    record_activity(second, kind="webinar_attended")  # real-time scoring: Second is hot now
    assert order() == ["Second", "First"]

    record_activity(first, kind="download")
    draft = scoring.start_draft()
    EngagementRule.objects.filter(rule_set=draft, name="Download").update(points=90)
    job = scoring.publish(draft, enqueue=False)
    scoring.run_job(job.pk)  # the bulk rescore: First's download makes it hotter
    assert order() == ["First", "Second"]


def test_the_queue_shows_25_leads_a_page_and_counts_them_all(page_as, sdr):
    for n in range(27):
        _handed(LeadFactory(first_name=f"Lead{n:02d}"))
    client = page_as(sdr)

    first = client.get(reverse("leads:queue")).content.decode()
    second = client.get(reverse("leads:queue") + "?page=2").content.decode()

    assert first.count('data-testid="queue-row"') == 25
    assert second.count('data-testid="queue-row"') == 2
    assert "27 leads" in first and "Page 1 of 2" in first
