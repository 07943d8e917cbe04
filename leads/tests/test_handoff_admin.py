"""The handoff models in the Django admin: every list opens for an Admin, handoffs are read-only."""

import pytest

from leads import services
from leads.models import Handoff, Stage

from .factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/admin/leads/team/",
        "/admin/leads/routingrule/",
        "/admin/leads/handoff/",
        "/admin/leads/slabreach/",
        "/admin/leads/reminder/",
        "/admin/leadapp/notification/",
    ],
)
def test_every_handoff_list_opens_for_an_admin(page_as, admin_user, path):
    lead = LeadFactory(email="listed@example.com")
    services.change_stage(lead, to_stage=Stage.MQL, reason="Test")

    response = page_as(admin_user).get(path)

    assert response.status_code == 200


def test_a_handoff_cannot_be_edited_in_the_admin(page_as, admin_user):
    lead = LeadFactory()
    services.change_stage(lead, to_stage=Stage.MQL, reason="Test")
    handoff = Handoff.objects.get(lead=lead)
    client = page_as(admin_user)

    client.post(f"/admin/leads/handoff/{handoff.pk}/change/", {"status": "closed"})

    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.POOL
    assert client.get("/admin/leads/handoff/add/").status_code == 403
