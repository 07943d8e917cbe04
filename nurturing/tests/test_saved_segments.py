"""Saved segments: the lead list's filters saved under a name, and listed on the lead list as
quick links."""

import re
from html import unescape

import pytest

from leads.models import SavedSegment
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def save(client, name: str, query: str, **kwargs):
    return client.post("/leads/segments/", {"name": name, "query": query}, **kwargs)


def test_the_save_form_carries_the_filters_without_page_and_sort(page_as, marketer):
    html = page_as(marketer).get("/leads/?stage=mql&country=DE&sort=name&page=2").content.decode()

    form = re.search(
        r'<form method="post" action="/leads/segments/" data-testid="save-segment-form">.*?</form>',
        html,
        re.S,
    )
    assert form, "no segment form on the lead list"
    assert '<input type="hidden" name="query" value="stage=mql&amp;country=DE">' in form.group(0)


def test_a_marketer_saves_the_filters_as_a_segment(page_as, marketer):
    LeadFactory(email="mql-de@example.com", stage="mql", country="DE")
    LeadFactory(email="new-de@example.com", stage="new", country="DE")

    response = save(page_as(marketer), "German MQLs", "stage=mql&country=DE&sort=name&page=3", follow=True)

    segment = SavedSegment.objects.get()
    assert (segment.name, segment.query, segment.created_by) == (
        "German MQLs",
        "stage=mql&country=DE",
        marketer,
    )
    assert response.redirect_chain == [("/leads/?stage=mql&country=DE", 302)]
    html = response.content.decode()
    assert "Segment “German MQLs” saved." in html
    assert "mql-de@example.com" in html and "new-de@example.com" not in html
    assert [lead.email for lead in segment.leads()] == ["mql-de@example.com"]


def test_segments_are_quick_links_on_the_lead_list(page_as, sdr):
    SavedSegment.objects.create(name="Customers", query="stage=customer")
    SavedSegment.objects.create(name="German MQLs", query="stage=mql&country=DE")

    html = page_as(sdr).get("/leads/").content.decode()

    nav = re.search(r'<nav class="segments"[^>]*>(.*?)</nav>', html, re.S).group(1)
    links = [(unescape(href), name) for href, name in re.findall(r'<a href="([^"]*)">([^<]*)</a>', nav)]
    assert links == [("/leads/?stage=customer", "Customers"), ("/leads/?stage=mql&country=DE", "German MQLs")]


def test_htmx_results_leave_the_segment_links_out(page_as, sdr):
    SavedSegment.objects.create(name="Customers", query="stage=customer")

    html = page_as(sdr).get("/leads/", headers=HTMX).content.decode()

    assert "Customers" not in html


def test_invalid_filters_are_not_saved(page_as, marketer):
    response = save(page_as(marketer), "Broken", "stage=bogus", follow=True)

    assert "The segment was not saved: These filters are not valid." in response.content.decode()
    assert not SavedSegment.objects.exists()


def test_a_parameter_that_is_no_filter_is_not_saved(page_as, marketer):
    response = save(page_as(marketer), "Odd", "stage=mql&colour=red", follow=True)

    assert "Not a filter of the lead list: colour." in response.content.decode()
    assert not SavedSegment.objects.exists()


def test_segment_names_are_unique(page_as, marketer):
    SavedSegment.objects.create(name="Customers", query="stage=customer")

    response = save(page_as(marketer), "Customers", "stage=mql", follow=True)

    assert "A segment with this name exists already." in response.content.decode()
    assert SavedSegment.objects.get().query == "stage=customer"


def test_a_segment_needs_a_name(page_as, marketer):
    response = save(page_as(marketer), "", "stage=mql", follow=True)

    assert "The segment was not saved: This field is required." in response.content.decode()
    assert not SavedSegment.objects.exists()


def test_sales_see_segments_but_may_not_save_one(page_as, sdr):
    html = page_as(sdr).get("/leads/?stage=mql").content.decode()

    assert 'data-testid="save-segment-form"' not in html
    assert save(page_as(sdr), "Mine", "stage=mql").status_code == 403
    assert not SavedSegment.objects.exists()


def test_blank_filters_are_left_out_and_no_filter_offers_no_segment(page_as, marketer):
    client = page_as(marketer)

    blank = client.get("/leads/?q=&stage=&sort=newest").content.decode()
    some = client.get("/leads/?q=&stage=mql&country=").content.decode()

    assert 'data-testid="save-segment-form"' not in blank
    assert '<input type="hidden" name="query" value="stage=mql">' in some


# --- A segment whose filters stopped being valid ----------------------------------------------


@pytest.fixture
def alices_segment(make_user) -> SavedSegment:
    """``owner=alice``, then alice is deactivated: the owner filter no longer accepts her, and
    the filter set would silently drop it (and match every lead)."""
    alice = make_user("alice")
    LeadFactory(email="alices@example.com", owner=alice)
    LeadFactory(email="someone-elses@example.com")
    segment = SavedSegment.objects.create(name="Alice's leads", query="owner=alice")
    assert [lead.email for lead in segment.leads()] == ["alices@example.com"]
    assert segment.problem == ""
    alice.is_active = False
    alice.save()
    return SavedSegment.objects.get(pk=segment.pk)


def test_a_segment_whose_filter_became_invalid_matches_no_lead(alices_segment):
    assert list(alices_segment.leads()) == []
    assert alices_segment.problem == (
        "Its filters are no longer valid, so it matches no lead. Owner “alice”: Select a valid choice. "
        "That choice is not one of the available choices."
    )


def test_a_segment_with_a_removed_choice_says_which():
    LeadFactory(stage="mql")
    segment = SavedSegment.objects.create(name="Old stage", query="stage=mql&stage=nurture")

    assert list(segment.leads()) == []
    assert "Stage “mql, nurture”: Select a valid choice. nurture is not one of the available choices." in (
        segment.problem
    )


def test_a_segment_campaign_triggers_no_lead_when_its_segment_is_broken(alices_segment):
    from nurturing import services
    from nurturing.tests.factories import campaign

    made = campaign(trigger="segment", trigger_segment=alices_segment)

    assert list(services.trigger_leads(made)) == []


def test_the_lead_list_marks_a_broken_segment_and_says_why(page_as, sdr, alices_segment):
    SavedSegment.objects.create(name="Customers", query="stage=customer")

    html = page_as(sdr).get("/leads/").content.decode()

    nav = re.search(r'<nav class="segments"[^>]*>(.*?)</nav>', html, re.S).group(1)
    working = [(unescape(href), name) for href, name in re.findall(r'<a href="([^"]*)">([^<]*)</a>', nav)]
    assert working == [("/leads/?stage=customer", "Customers")]
    broken = re.search(r'<a href="/leads/\?owner=alice"[^>]*data-testid="broken-segment">([^<]*)</a>', nav)
    assert broken and unescape(broken.group(1)) == "Alice's leads"
    assert 'title="Its filters are no longer valid, so it matches no lead. Owner “alice”' in broken.group(0)
    problem = re.search(r'data-testid="segment-problem">([^<]*)<', nav).group(1)
    assert unescape(problem).startswith("⚠ broken. Its filters are no longer valid")
    assert "Owner “alice”: Select a valid choice." in unescape(problem)


def test_the_campaign_page_warns_that_its_trigger_segment_is_broken(
    page_as, marketer, manager, alices_segment
):
    from nurturing.tests.factories import campaign

    made = campaign(trigger="segment", trigger_segment=alices_segment)

    # In the page head; a manager (who may not edit) sees it in the settings' facts too.
    for user, shown in ((marketer, 1), (manager, 2)):
        html = unescape(page_as(user).get(f"/nurturing/campaigns/{made.pk}/").content.decode())
        triggers = re.findall(r'<span data-testid="campaign-trigger">(.*?)</span>', html, re.S)
        assert len(triggers) == shown
        for trigger in triggers:
            assert "Alice's leads</a>" in trigger
            assert (
                '<strong class="error" data-testid="trigger-problem">⚠ Broken segment. Its filters are no '
                "longer valid, so it matches no lead. Owner “alice”: Select a valid choice." in trigger
            )


def test_the_campaign_page_has_no_warning_while_its_segment_works(page_as, marketer):
    from nurturing.tests.factories import campaign

    segment = SavedSegment.objects.create(name="Customers", query="stage=customer")
    made = campaign(trigger="segment", trigger_segment=segment)

    html = page_as(marketer).get(f"/nurturing/campaigns/{made.pk}/").content.decode()

    assert 'data-testid="campaign-trigger"' in html and "Customers</a>" in html
    assert 'data-testid="trigger-problem"' not in html


def test_a_segment_with_a_parameter_that_is_no_filter_matches_nothing_and_says_why(marketer):
    LeadFactory(stage="mql")
    segment = SavedSegment.objects.create(name="Typo", query="stgae=mql")  # saved in the admin, say
    assert not segment.leads().exists()
    assert "“stgae” is not a lead filter." in segment.problem
