import factory
from django.utils import timezone

from leads.models import Activity, ActivityKind, CaptureForm, FieldKind, FormField, Lead


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


class CaptureFormFactory(factory.django.DjangoModelFactory):
    """A live form with its e-mail field (as the builder makes it), plus ``fields``:
    ``CaptureFormFactory(fields=[dict(name="company", label="Company", maps_to="company_name")])``."""

    class Meta:
        model = CaptureForm
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Form {n}")
    slug = factory.Sequence(lambda n: f"form-{n}")
    title = "Get the guide"
    status = CaptureForm.Status.LIVE

    @factory.post_generation
    def fields(self, create, extracted, **kwargs):
        FormField.objects.create(
            form=self, kind=FieldKind.EMAIL, name="email", label="E-mail", required=True, maps_to="email"
        )
        for position, spec in enumerate(extracted or [], start=1):
            FormField.objects.create(form=self, position=position, **{"label": spec["name"].title(), **spec})


def edit_form_data(lead: Lead, **changes) -> dict:
    """The lead edit page's form as the browser posts it: every field with its shown value,
    then the changes."""
    from leads.forms import LeadForm

    form = LeadForm(instance=lead)
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else str(value)
    return {**data, **changes}
