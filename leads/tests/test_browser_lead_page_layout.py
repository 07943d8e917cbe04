"""In a real browser: the lead page's side card (stage, its history, the time in each stage)
stays inside its card at the widths people use, a laptop's and a phone's."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import log_in
from leads.models import Stage, StageChange
from leads.tests.factories import LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 390])
def test_the_time_in_each_stage_fits_its_card(page, sdr, width):
    lead = LeadFactory(email="grace@example.com", stage=Stage.OPPORTUNITY)
    start = timezone.now() - timedelta(days=400)
    StageChange.objects.filter(lead=lead).delete()
    path = ["", Stage.NEW, Stage.MQL, Stage.SQL, Stage.SAL, Stage.OPPORTUNITY]
    for n, (before, after) in enumerate(zip(path, path[1:], strict=False)):
        StageChange.objects.create(
            lead=lead, from_stage=before, to_stage=after, changed_at=start + timedelta(days=37 * n, hours=5)
        )

    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, "sdr")
    page.goto(f"/leads/{lead.pk}/")
    table = page.locator("table.stage-durations")
    assert table.locator("tbody tr").count() == 5
    # The table's right edge is inside its card's (1 px of rounding allowed).
    overflow = table.evaluate(
        "t => t.getBoundingClientRect().right - t.closest('article').getBoundingClientRect().right"
    )
    assert overflow <= 1, f"the table sticks out of its card by {overflow:.0f} px"
