"""Demo e-mail templates and a welcome campaign (active, started by hand), so that a first
run shows a working campaign: enroll a few leads from the lead list and watch the outbox."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from nurturing.models import BranchOn, Campaign, EmailTemplate, Step

WELCOME = """<h1>Welcome, {{ first_name or "there" }}!</h1>
<p>Thanks for your interest. Here is the guide most teams start with:</p>
<p><a href="https://example.com/guide">The lead nurturing guide</a></p>
{% if industry == "software" %}<p>Running a SaaS business? See how teams like yours
<a href="https://example.com/saas">grow pipeline</a>.</p>{% endif %}
<p>Best,<br>{{ owner_name or "The team" }}</p>"""

FOLLOW_UP = """<p>Hi {{ first_name or "there" }},</p>
<p>Did the guide help? Teams at {{ company_name or "companies like yours" }} usually ask us
for a short demo next.</p>
<p><a href="https://example.com/demo">Book a 20-minute demo</a></p>"""

NUDGE = """<p>Hi {{ first_name or "there" }},</p>
<p>In case you missed it: <a href="https://example.com/guide">the lead nurturing guide</a>.</p>"""


class Command(BaseCommand):
    help = "Add demo e-mail templates and a welcome campaign (only when there are no templates yet)."

    def handle(self, *args, **options) -> None:
        if EmailTemplate.objects.exists():
            self.stdout.write("E-mail templates already there: no demo campaign added.")
            return
        with transaction.atomic():
            welcome = EmailTemplate.objects.create(
                name="Welcome",
                subject='Welcome, {{ first_name or "there" }}',
                preheader="Your guide",
                html_body=WELCOME,
            )
            follow_up = EmailTemplate.objects.create(
                name="Demo offer",
                subject='A demo for {{ company_name or "your team" }}?',
                html_body=FOLLOW_UP,
            )
            nudge = EmailTemplate.objects.create(
                name="Guide reminder", subject="The guide, again", html_body=NUDGE
            )
            campaign = Campaign.objects.create(
                name="Welcome series",
                description="A welcome e-mail; then a demo offer if it was opened, else a reminder.",
                status=Campaign.Status.ACTIVE,
                activated_at=timezone.now(),
                goal_activity="demo_requested",
            )
            send = Step.objects.create(
                campaign=campaign, position=10, kind=Step.Kind.SEND_EMAIL, template=welcome
            )
            Step.objects.create(campaign=campaign, position=20, kind=Step.Kind.WAIT, wait_days=2)
            fork = Step.objects.create(
                campaign=campaign,
                position=30,
                kind=Step.Kind.BRANCH,
                branch_on=BranchOn.OPENED,
                ref_step=send,
            )
            Step.objects.create(campaign=campaign, position=40, kind=Step.Kind.SEND_EMAIL, template=nudge)
            Step.objects.create(campaign=campaign, position=50, kind=Step.Kind.END)
            offer = Step.objects.create(
                campaign=campaign, position=60, kind=Step.Kind.SEND_EMAIL, template=follow_up
            )
            fork.yes_step = offer
            fork.save(update_fields=["yes_step"])
        self.stdout.write(self.style.SUCCESS("Demo campaign added: “Welcome series” (3 templates)."))
