import pytest

from leads.models import Lead, PendingFollowUp

pytestmark = pytest.mark.django_db


def test_the_admin_finds_a_lead_by_any_part_of_its_name_or_company(page_as, admin_user):
    Lead.objects.create(
        email="ada@engines.example", first_name="Ada", last_name="Lovelace", company_name="Analytical"
    )
    Lead.objects.create(email="charles@babbage.example", first_name="Charles", last_name="Babbage")
    page = page_as(admin_user).get("/admin/leads/lead/", {"q": "lytic"}).content.decode()
    assert "ada@engines.example" in page
    assert "charles@babbage.example" not in page


def test_the_admin_lists_pending_follow_ups_read_only(page_as, admin_user):
    PendingFollowUp.objects.create(
        lead_ids=[1, 2, 3], kinds={"page_view": 3}, source="api", new_activities_after=0
    )
    client = page_as(admin_user)
    listing = client.get("/admin/leads/pendingfollowup/")
    assert listing.status_code == 200
    assert "page_view" in listing.content.decode()
    assert client.get("/admin/leads/pendingfollowup/add/").status_code == 403
