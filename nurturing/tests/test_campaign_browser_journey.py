"""In a real browser: a marketer builds a campaign with htmx (the step form follows the chosen
kind and, for a branch, the chosen condition): two e-mails, a wait and a branch on whether the
first e-mail was opened. Then starts it, enrolls the leads of a filter from the lead list and
sees the lead in the campaign's enrollments."""

import re

import pytest
from playwright.sync_api import expect

from conftest import log_in
from leads.tests.factories import LeadFactory
from nurturing.models import BranchOn, Campaign, Enrollment, Step

from .factories import template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_step(page) -> None:
    htmx_settled(page)  # the steps section was just drawn again
    page.get_by_text("Add a step").click()


def htmx_settled(page) -> None:
    """Wait until htmx has no request in flight and has settled what it swapped in: it binds
    the hx-* attributes of new content only then (20 ms after the swap), so a change made in
    a freshly drawn field before that would send no request."""
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def test_a_marketer_builds_starts_and_fills_a_campaign(page, marketer, tmp_path):
    template(name="Hello")
    template(name="Follow-up")
    mql = LeadFactory(email="mql@example.com", stage="mql", first_name="Ada", last_name="Lovelace")
    LeadFactory(email="new@example.com", stage="new")
    page.on("dialog", lambda dialog: dialog.accept())

    log_in(page, "marketer")
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_test_id("new-campaign").click()
    page.get_by_label("Name").fill("Welcome")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.locator("#campaign-name")).to_have_text("Welcome")
    steps = page.locator("#campaign-steps")

    # 1. The first e-mail.
    add_step(page)
    page.locator("#id_new-step-template").select_option(label="Hello")
    page.get_by_role("button", name="Add step").click()
    expect(steps).to_contain_text("Step added: Send “Hello”.")

    # 2. A wait.
    add_step(page)
    page.locator("#id_new-step-kind").select_option("wait")
    # htmx draws the form again with the fields of a wait step only.
    expect(page.locator("#id_new-step-wait_days")).to_be_visible()
    expect(page.locator("#id_new-step-template")).to_have_count(0)
    page.locator("#id_new-step-wait_days").fill("2")
    page.get_by_label("Mon").check()
    page.get_by_role("button", name="Add step").click()
    expect(steps).to_contain_text("Wait 2 d 0 h, then until M 0:00–24:00")

    # 3. The second e-mail.
    add_step(page)
    page.locator("#id_new-step-template").select_option(label="Follow-up")
    page.get_by_role("button", name="Add step").click()
    expect(steps).to_contain_text("Step added: Send “Follow-up”.")

    # 4. A branch: did the lead open the first e-mail? Yes: the second e-mail.
    add_step(page)
    page.locator("#id_new-step-kind").select_option("branch")
    # htmx asks for the branch's fields: first the condition, then what the condition needs.
    condition = page.get_by_label("Condition")
    expect(condition).to_be_visible()
    expect(page.locator("#id_new-step-template")).to_have_count(0)
    htmx_settled(page)
    condition.select_option(label="Opened an earlier e-mail of this campaign")
    ref_step = page.locator("#id_new-step-ref_step")
    expect(ref_step).to_be_visible()
    htmx_settled(page)
    # Only the e-mail steps can be asked about.
    expect(ref_step.locator("option")).to_have_text(["---------", "1. Send “Hello”", "3. Send “Follow-up”"])
    ref_step.select_option(label="1. Send “Hello”")
    page.locator("#id_new-step-yes_step").select_option(label="3. Send “Follow-up”")
    page.get_by_role("button", name="Add step").click()
    expect(steps).to_contain_text("Step added: If opened “Hello”.")
    htmx_settled(page)

    # The branch goes before the second e-mail: its "yes" target follows the step, not its number.
    page.get_by_role("button", name="Move step 4 up").click()
    expect(steps).to_contain_text("Step moved.")
    descriptions = page.get_by_test_id("step-description")
    expected = [
        "Send “Hello”",
        "Wait 2 d 0 h, then until M 0:00–24:00",
        "If opened “Hello”",
        "Send “Follow-up”",
    ]
    expect(descriptions).to_have_text(expected)
    expect(page.get_by_test_id("step-targets")).to_have_text(
        re.compile(r"yes → step 4\s+· no → the next step")
    )

    page.get_by_role("button", name="Start").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Active")

    page.get_by_role("link", name="Leads").click()
    page.get_by_label("Stage").select_option("mql")
    expect(page).to_have_url(re.compile(r"stage=mql"))
    page.get_by_text("Enroll all matching in a campaign…").click()
    expect(page.get_by_test_id("enroll-bulk-form")).to_contain_text("1 lead matches the filters.")
    page.get_by_label("Campaign").select_option(label="Welcome")
    page.get_by_role("button", name="Enroll all matching").click()
    expect(page.get_by_text("1 lead enrolled in “Welcome”")).to_be_visible()

    page.get_by_role("link", name="Ada Lovelace").click()
    lead_campaigns = page.get_by_test_id("lead-campaigns")
    expect(lead_campaigns).to_contain_text("Welcome")
    expect(lead_campaigns).to_contain_text("active")

    # The campaign's page, from the lead's: the steps as built, and the lead among its enrollments.
    lead_campaigns.get_by_role("link", name="Welcome").click()
    expect(page.locator("#campaign-name")).to_have_text("Welcome")
    expect(page.get_by_test_id("step-description")).to_have_text(expected)
    expect(page.get_by_test_id("count-active")).to_have_text("1 active")
    enrollments = page.get_by_test_id("latest-enrollments").locator("tbody tr")
    expect(enrollments).to_have_count(1)
    expect(enrollments.first.get_by_role("link", name="mql@example.com")).to_be_visible()
    expect(enrollments.first).to_contain_text("Active")

    screenshot = tmp_path / "campaign.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.is_file() and screenshot.stat().st_size > 0
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    welcome = Campaign.objects.get(name="Welcome")
    assert welcome.status == Campaign.Status.ACTIVE
    assert list(Enrollment.objects.values_list("lead", flat=True)) == [mql.pk]
    hello, wait, branch, follow_up = welcome.steps.order_by("position", "pk")
    assert [step.kind for step in (hello, wait, branch, follow_up)] == [
        Step.Kind.SEND_EMAIL,
        Step.Kind.WAIT,
        Step.Kind.BRANCH,
        Step.Kind.SEND_EMAIL,
    ]
    assert (branch.branch_on, branch.ref_step, branch.yes_step, branch.no_step) == (
        BranchOn.OPENED,
        hello,
        follow_up,
        None,
    )
