"""The step builder on the campaign page: add, edit, move and remove steps, with a form that
shows only the fields of the chosen kind."""

import re

import pytest

from leads.models import Lead
from leads.tests.factories import LeadFactory
from nurturing import services
from nurturing.models import BranchOn, Campaign, Enrollment, Step

from .factories import campaign, send, steps_of, template, wait

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def field_names(html: str, prefix: str) -> set[str]:
    return set(re.findall(rf'name="{prefix}-(\w+)"', html))


def add(client, made: Campaign, **data):
    return client.post(
        f"/nurturing/campaigns/{made.pk}/steps/add/",
        {f"new-step-{key}": value for key, value in data.items()},
        headers=HTMX,
    )


def descriptions(html: str) -> list[str]:
    return re.findall(r'<strong data-testid="step-description">([^<]*)</strong>', html)


def options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select {name}"
    return [text.strip() for text in re.findall(r"<option[^>]*>([^<]*)</option>", select.group(1))]


def draft(**fields) -> Campaign:
    return campaign(status=Campaign.Status.DRAFT, **fields)


# --- the form follows the kind ----------------------------------------------------------------------


def test_the_add_form_starts_with_the_fields_of_an_email_step(page_as, marketer):
    made = draft()

    html = page_as(marketer).get(f"/nurturing/campaigns/{made.pk}/").content.decode()

    form = re.search(r'data-testid="add-step-form".*?</form>', html, re.S).group(0)
    assert field_names(form, "new-step") == {"kind", "template"}
    assert f'hx-get="/nurturing/campaigns/{made.pk}/steps/fields/"' in form


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("send_email", {"kind", "template"}),
        ("wait", {"kind", "wait_days", "wait_hours", "wait_weekdays", "wait_from_hour", "wait_to_hour"}),
        ("branch", {"kind", "branch_on", "yes_step", "no_step"}),
        ("set_field", {"kind", "field", "value"}),
        ("notify_owner", {"kind", "note"}),
        ("move", {"kind", "target"}),
        ("end", {"kind"}),
    ],
)
def test_changing_the_kind_shows_only_the_fields_of_that_kind(page_as, marketer, kind, fields):
    made = draft()

    response = page_as(marketer).get(
        f"/nurturing/campaigns/{made.pk}/steps/fields/", {"new-step-kind": kind}, headers=HTMX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith('<div class="step-fields">')
    assert field_names(html, "new-step") == fields
    assert re.search(rf'<option value="{kind}" selected>', html)


@pytest.mark.parametrize(
    ("branch_on", "condition_fields"),
    [
        ("score", {"value"}),
        ("grade", {"value"}),
        ("attribute", {"field", "operator", "value", "value_max"}),
        ("opened", {"ref_step"}),
        ("clicked", {"ref_step"}),
        ("activity", {"activity_kind"}),
    ],
)
def test_a_branch_shows_the_fields_of_its_condition(page_as, marketer, branch_on, condition_fields):
    made = draft()

    html = (
        page_as(marketer)
        .get(
            f"/nurturing/campaigns/{made.pk}/steps/fields/",
            {"new-step-kind": "branch", "new-step-branch_on": branch_on},
            headers=HTMX,
        )
        .content.decode()
    )

    assert field_names(html, "new-step") == {"kind", "branch_on", "yes_step", "no_step", *condition_fields}


def test_what_was_typed_stays_when_the_form_is_drawn_again(page_as, marketer):
    made = draft()

    html = (
        page_as(marketer)
        .get(
            f"/nurturing/campaigns/{made.pk}/steps/fields/",
            {"new-step-kind": "wait", "new-step-wait_days": "3", "new-step-wait_weekdays": ["0", "4"]},
            headers=HTMX,
        )
        .content.decode()
    )

    assert re.search(r'name="new-step-wait_days" value="3"', html)
    assert re.search(r'value="0"[^>]*checked', html) and re.search(r'value="4"[^>]*checked', html)
    assert not re.search(r'value="1"[^>]*checked', html)


def test_the_opened_condition_offers_only_earlier_email_steps_of_this_campaign(page_as, marketer):
    made = draft(steps=[send(template(name="Hello")), wait(wait_days=1), send(template(name="Reminder"))])
    campaign(name="Other", steps=[send(template(name="Elsewhere"))])

    html = (
        page_as(marketer)
        .get(
            f"/nurturing/campaigns/{made.pk}/steps/fields/",
            {"new-step-kind": "branch", "new-step-branch_on": "opened"},
            headers=HTMX,
        )
        .content.decode()
    )

    assert options(html, "new-step-ref_step")[1:] == ["1. Send “Hello”", "3. Send “Reminder”"]
    assert options(html, "new-step-yes_step") == [
        "The next step",
        "1. Send “Hello”",
        "2. Wait 1 d 0 h",
        "3. Send “Reminder”",
    ]


def test_editing_a_branch_offers_only_the_email_steps_before_it(page_as, marketer):
    made = draft(steps=[send(template(name="Hello")), wait(wait_days=1), send(template(name="Later"))])
    fork = Step.objects.create(campaign=made, position=25, kind=Step.Kind.BRANCH, branch_on=BranchOn.OPENED)
    fork.ref_step = steps_of(made)[0]
    fork.save()

    html = (
        page_as(marketer)
        .get(f"/nurturing/campaigns/{made.pk}/steps/{fork.pk}/edit/", headers=HTMX)
        .content.decode()
    )

    assert options(html, f"step-{fork.pk}-ref_step")[1:] == ["1. Send “Hello”"]
    assert "3. If opened “Hello”" not in options(html, f"step-{fork.pk}-yes_step")  # not itself


# --- adding --------------------------------------------------------------------------------------------


def test_a_marketer_adds_steps_of_each_kind_in_order(page_as, marketer):
    made = draft()
    other = campaign(name="Sales follow-up", steps=[send()])
    hello = template(name="Hello")
    client = page_as(marketer)

    add(client, made, kind="send_email", template=hello.pk)
    add(
        client,
        made,
        kind="wait",
        wait_days="2",
        wait_hours="4",
        wait_weekdays=["0", "1", "2", "3", "4"],
        wait_from_hour="9",
        wait_to_hour="17",
    )
    first = steps_of(made)[0]
    add(client, made, kind="branch", branch_on="clicked", ref_step=first.pk, yes_step="", no_step="")
    add(client, made, kind="set_field", field="stage", value="mql")
    add(client, made, kind="notify_owner", note="Call them")
    add(client, made, kind="move", target=other.pk)
    response = add(client, made, kind="end")

    assert response.status_code == 200
    assert descriptions(response.content.decode()) == [
        "Send “Hello”",
        "Wait 2 d 4 h, then until MTWTF 9:00–17:00",
        "If clicked “Hello”",
        "Set stage to “mql”",
        "Notify the lead&#x27;s owner",
        "Move to “Sales follow-up”",
        "End",
    ]
    wait_step = steps_of(made)[1]
    assert (wait_step.wait_weekdays, wait_step.wait_from_hour, wait_step.wait_to_hour) == ("01234", 9, 17)
    assert [s.position for s in steps_of(made)] == [1, 2, 3, 4, 5, 6, 7]


def test_a_step_with_missing_fields_is_not_added_and_says_why(page_as, marketer):
    made = draft()

    response = add(page_as(marketer), made, kind="send_email", template="")

    assert response.status_code == 400
    html = response.content.decode()
    assert html.strip().startswith('<section id="campaign-steps"')
    assert "This field is required." in html
    assert "<details open>" in html
    assert not made.steps.exists()


def test_the_models_rules_show_beside_the_fields(page_as, marketer):
    made = draft()
    client = page_as(marketer)

    hours = add(client, made, kind="wait", wait_days="0", wait_hours="0", wait_from_hour="30")
    stage = add(client, made, kind="set_field", field="stage", value="bogus")
    move = add(client, made, kind="move", target=made.pk)

    assert "An hour from 0 to 23." in hours.content.decode()
    assert "A stage: new, mql" in stage.content.decode()
    assert "Select a valid choice." in move.content.decode()  # a campaign never moves leads to itself
    assert not made.steps.exists()


def test_a_branch_goes_to_chosen_steps_and_says_where(page_as, marketer):
    made = draft(steps=[send(template(name="Hello")), send(template(name="Yes")), send(template(name="No"))])
    hello, yes, no = steps_of(made)
    client = page_as(marketer)

    response = add(client, made, kind="branch", branch_on="score", value="50", yes_step=yes.pk, no_step="")

    fork = made.steps.get(kind=Step.Kind.BRANCH)
    assert (fork.yes_step, fork.no_step, fork.value) == (yes, None, "50")
    assert "yes → step 2" in response.content.decode()
    assert "no → the next step" in response.content.decode()
    assert "If score ≥ 50" in descriptions(response.content.decode())


def test_changing_the_kind_drops_the_other_kinds_values(page_as, marketer):
    made = draft(steps=[send()])
    client = page_as(marketer)

    add(client, made, kind="branch", branch_on="grade", value="A", field="industry")

    fork = made.steps.get(kind=Step.Kind.BRANCH)
    assert (fork.value, fork.field) == ("A", "")


# --- editing, moving, removing ------------------------------------------------------------------------


def test_a_marketer_edits_a_step_in_place(page_as, marketer):
    made = draft(steps=[wait(wait_days=1)])
    step = steps_of(made)[0]
    client = page_as(marketer)

    form = client.get(f"/nurturing/campaigns/{made.pk}/steps/{step.pk}/edit/", headers=HTMX).content.decode()
    saved = client.post(
        f"/nurturing/campaigns/{made.pk}/steps/{step.pk}/edit/",
        {f"step-{step.pk}-wait_days": "5", f"step-{step.pk}-wait_hours": "0", f"step-{step.pk}-kind": "end"},
        headers=HTMX,
    )

    assert 'data-testid="edit-step-form"' in form
    assert re.search(rf'name="step-{step.pk}-kind"[^>]*disabled', form)
    assert "Step saved: Wait 5 d 0 h." in saved.content.decode()
    step.refresh_from_db()
    assert (step.kind, step.wait_days) == ("wait", 5)


def test_a_step_moves_up_and_down(page_as, marketer):
    made = draft(steps=[send(template(name="A")), send(template(name="B")), send(template(name="C"))])
    a, b, c = steps_of(made)
    client = page_as(marketer)

    client.post(f"/nurturing/campaigns/{made.pk}/steps/{c.pk}/move/", {"direction": "up"}, headers=HTMX)
    response = client.post(
        f"/nurturing/campaigns/{made.pk}/steps/{a.pk}/move/", {"direction": "down"}, headers=HTMX
    )

    assert descriptions(response.content.decode()) == ["Send “C”", "Send “A”", "Send “B”"]
    assert steps_of(made) == [c, a, b]


def test_moving_the_first_step_up_changes_nothing(page_as, marketer):
    made = draft(steps=[send(template(name="A")), send(template(name="B"))])
    a, b = steps_of(made)

    page_as(marketer).post(f"/nurturing/campaigns/{made.pk}/steps/{a.pk}/move/", {"direction": "up"})

    assert steps_of(made) == [a, b]


def test_removing_a_step_of_a_draft_deletes_it(page_as, marketer):
    made = draft(steps=[send(template(name="A")), wait(wait_days=1)])
    a, pause = steps_of(made)

    response = page_as(marketer).post(
        f"/nurturing/campaigns/{made.pk}/steps/{pause.pk}/delete/", headers=HTMX
    )

    assert "Step removed: Wait 1 d 0 h." in response.content.decode()
    assert descriptions(response.content.decode()) == ["Send “A”"]
    assert not Step.objects.filter(pk=pause.pk).exists()


def test_removing_a_step_of_a_live_campaign_only_hides_it(page_as, marketer):
    made = campaign(steps=[wait(wait_days=1), send(template(name="B"))])
    pause, email = steps_of(made)
    lead = LeadFactory()
    services.enroll(made, Lead.objects.filter(pk=lead.pk))

    response = page_as(marketer).post(
        f"/nurturing/campaigns/{made.pk}/steps/{pause.pk}/delete/", headers=HTMX
    )

    assert descriptions(response.content.decode()) == ["Send “B”"]
    pause.refresh_from_db()
    assert pause.removed
    assert Enrollment.objects.get().step == pause  # the lead still knows where it is


def test_an_archived_campaigns_steps_cannot_be_changed(page_as, marketer):
    made = campaign(status=Campaign.Status.ARCHIVED, steps=[send()])
    step = steps_of(made)[0]
    client = page_as(marketer)

    page = client.get(f"/nurturing/campaigns/{made.pk}/").content.decode()
    response = client.post(f"/nurturing/campaigns/{made.pk}/steps/{step.pk}/delete/", headers=HTMX)

    assert 'data-testid="add-step-form"' not in page
    assert response.status_code == 400
    assert "An archived campaign cannot be changed." in response.content.decode()
    assert Step.objects.filter(pk=step.pk, removed=False).exists()


def test_without_htmx_the_builder_goes_back_to_the_page(page_as, marketer):
    made = draft()
    hello = template(name="Hello")

    response = page_as(marketer).post(
        f"/nurturing/campaigns/{made.pk}/steps/add/",
        {"new-step-kind": "send_email", "new-step-template": hello.pk},
        follow=True,
    )

    assert response.redirect_chain == [(f"/nurturing/campaigns/{made.pk}/#campaign-steps", 302)]
    html = response.content.decode()
    assert "Step added: Send “Hello”." in html
    assert descriptions(html) == ["Send “Hello”"]
