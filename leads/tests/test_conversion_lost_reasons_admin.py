"""The lost reasons are a list the admin keeps in the Django admin."""

import pytest

from leads.models import LostReason

pytestmark = pytest.mark.django_db


def test_an_admin_sees_the_lost_reasons_and_adds_one(page_as, admin_user):
    client = page_as(admin_user)

    listing = client.get("/admin/leads/lostreason/")
    assert listing.status_code == 200
    assert "Chose a competitor" in listing.content.decode()

    added = {"name": "Price", "active": "on", "position": "70"}
    response = client.post("/admin/leads/lostreason/add/", added)
    assert response.status_code == 302
    assert LostReason.objects.get(name="Price").active


def test_sales_cannot_edit_the_lost_reasons(page_as, sdr):
    response = page_as(sdr).get("/admin/leads/lostreason/")

    assert response.status_code in (302, 403)
    assert not LostReason.objects.filter(name="Price").exists()
