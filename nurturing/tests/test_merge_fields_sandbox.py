"""A template reads its merge fields and nothing else: no Python object behind them, no call,
no include or import, no other data of the application. Saving such a template is refused
with a message beside the field, and rendering one (saved around the editor) refuses too."""

import pytest

from leads.tests.factories import LeadFactory
from nurturing import rendering
from nurturing.models import EmailTemplate

pytestmark = pytest.mark.django_db

ESCAPES = {
    "{{ custom.__class__ }}": "only custom attributes have parts",
    "{{ custom.__class__.__mro__ }}": "only custom attributes have parts",
    '{{ custom["__class__"] }}': "only custom attributes have parts",
    "{{ ''.__class__ }}": "only custom attributes have parts",
    "{{ email.upper() }}": "cannot call functions",
    "{{ custom.items() }}": "cannot call functions",
    "{% include 'x' %}": "cannot include, import",
    "{% import 'x' as x %}": "cannot include, import",
    "{% from 'x' import y %}": "cannot include, import",
    "{% extends 'base.html' %}": "cannot include, import",
    "{% macro m() %}{% endmacro %}": "cannot include, import",
    "{{ lead }}": "Unknown merge field: lead",
    "{{ settings }}": "Unknown merge field: settings",
    "{{ config }}": "Unknown merge field: config",
    "{{ request }}": "Unknown merge field: request",
    "{{ range(10) }}": "Unknown merge field: range",
    "{{ cycler }}": "Unknown merge field: cycler",
    "{{ self }}": "Unknown merge field: self",
    "{{ first_name|attr('__class__') }}": "unknown filter “attr”",
    "{{ first_name|safe }}": "unknown filter “safe”",
    '{{ "%s"|format(email) }}': "unknown filter “format”",
    "{% autoescape false %}{{ first_name }}{% endautoescape %}": "cannot turn escaping off",
    "{% raw %}{{ x }}{% endraw %}": "cannot use {% raw %}",
    "{{ 9 ** 9 ** 9 }}": "cannot compute powers",
}


@pytest.mark.parametrize("source, message", ESCAPES.items())
def test_saving_a_template_that_reaches_past_its_merge_fields_is_refused(page_as, marketer, source, message):
    response = page_as(marketer).post(
        "/nurturing/templates/new/",
        {"name": "Sneaky", "subject": "Hi", "html_body": f"<p>{source}</p>", "text_body": source},
    )

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message in errors["html_body"][0]
    assert message in errors["text_body"][0]
    assert 'id="id_html_body_error"' in response.content.decode()
    assert not EmailTemplate.objects.exists()


@pytest.mark.parametrize("source", ESCAPES)
def test_a_template_saved_around_the_editor_cannot_render_what_it_reaches_for(source):
    lead = LeadFactory(custom={"plan": "pro"})
    template = EmailTemplate.objects.create(name="Sneaky", subject="Hi", html_body=f"<p>{source}</p>")
    context = rendering.merge_context(lead, unsubscribe_url="#", preferences_url="#")

    with pytest.raises(rendering.TemplateError) as refused:
        rendering.render(template, context)

    assert "class '" not in str(refused.value)


def test_a_subject_that_calls_a_method_is_refused_beside_the_subject(page_as, marketer):
    response = page_as(marketer).post(
        "/nurturing/templates/new/",
        {"name": "Sneaky", "subject": "{{ email.upper() }}", "html_body": "<p>x</p>"},
    )

    assert response.status_code == 400
    assert "cannot call functions" in response.context["form"].errors["subject"][0]


def test_repeating_a_text_beyond_reason_is_refused_when_rendered():
    template = EmailTemplate(name="t", subject="s", html_body='<p>{{ "x" * 100000000 }}</p>')
    context = rendering.merge_context(LeadFactory.build(), unsubscribe_url="#", preferences_url="#")

    with pytest.raises(rendering.TemplateError, match="at most 1000 characters"):
        rendering.render(template, context)


def test_custom_attribute_lookups_only_ever_give_the_leads_own_values():
    lead = LeadFactory(custom={"plan": "pro", "seats": 12})
    template = EmailTemplate(
        name="t",
        subject="s",
        html_body="<p>{{ custom.plan }} {{ custom['seats'] }} [{{ custom.items }}] "
        "[{{ custom.missing }}]</p>",
    )
    context = rendering.merge_context(lead, unsubscribe_url="#", preferences_url="#")

    assert rendering.render(template, context).html == "<p>pro 12 [] []</p>"
