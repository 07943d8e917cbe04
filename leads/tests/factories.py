import factory
from django.utils import timezone

from leads.models import Activity, ActivityKind, Lead


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    company_name = factory.Faker("company")
    job_title = factory.Faker("job")


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    kind = ActivityKind.PAGE_VIEW
    occurred_at = factory.LazyFunction(timezone.now)
    properties = factory.LazyFunction(lambda: {"url": "/pricing"})
