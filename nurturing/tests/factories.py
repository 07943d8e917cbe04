"""Campaigns for tests: ``campaign(steps=[send(template), wait(days=2), ...])`` builds an
active campaign whose steps are in the given order."""

from nurturing.models import Campaign, EmailTemplate, Step


def template(**fields) -> EmailTemplate:
    defaults = {
        "name": "Welcome",
        "subject": 'Welcome, {{ first_name or "there" }}',
        "html_body": (
            '<p>Hi {{ first_name or "there" }},</p><p><a href="https://example.com/guide">The guide</a></p>'
        ),
    }
    return EmailTemplate.objects.create(**{**defaults, **fields})


def campaign(*, steps=(), status=Campaign.Status.ACTIVE, **fields) -> Campaign:
    from django.utils import timezone

    fields.setdefault("name", "Nurture")
    if status != Campaign.Status.DRAFT:
        fields.setdefault("activated_at", timezone.now())
    made = Campaign.objects.create(status=status, **fields)
    for position, spec in enumerate(steps, start=1):
        Step.objects.create(campaign=made, position=position * 10, **spec)
    return made


def send(tpl: EmailTemplate | None = None) -> dict:
    return {"kind": Step.Kind.SEND_EMAIL, "template": tpl or template()}


def wait(**fields) -> dict:
    return {"kind": Step.Kind.WAIT, **fields}


def branch(branch_on: str, **fields) -> dict:
    return {"kind": Step.Kind.BRANCH, "branch_on": branch_on, **fields}


def steps_of(made: Campaign) -> list[Step]:
    return list(made.steps.order_by("position"))
