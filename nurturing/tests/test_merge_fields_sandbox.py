"""A template reads its merge fields and nothing else: no Python object behind them, no call,
no include or import, no other data of the application. Saving such a template is refused
with a message beside the field, and rendering one (saved around the editor) refuses too. Nor
can a template take unbounded time or memory: text, loops and output have limits."""

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


# Templates that would take unbounded time or memory (each would run for minutes or fill the
# memory without the limits), and what stops them.
DOUBLED = '{% set a = "x" * 1000 %}'
TOO_LONG = "may be at most 100,000 characters long"
HOGS = {
    "~ doubling": (DOUBLED + "{% set a = a ~ a %}" * 18 + "{{ a }}", TOO_LONG),
    "+ doubling": (DOUBLED + "{% set a = a + a %}" * 18 + "{{ a }}", TOO_LONG),
    "set block doubling": (DOUBLED + "{% set a %}{{ a }}{{ a }}{% endset %}" * 18 + "{{ a }}", TOO_LONG),
    "* of a text": (DOUBLED + "{% set a = a * 1000 %}{{ a }}", "at most 1000 characters"),
    "* of a list": ('{% set a = ["x" * 1000] * 1000 %}{{ a ~ "" }}', TOO_LONG),
    "nested lists": ('{% set a = ["x" * 1000] %}' + "{% set a = [a, a] %}" * 30 + "{{ a == [a] }}", TOO_LONG),
    "squared numbers": ("{% set n = 3 %}" + "{% set n = n * n %}" * 40 + "{{ n }}", "too large a number"),
    "nested loops": (
        '{% for a in "x" * 1000 %}{% for b in "x" * 1000 %}{% for c in "x" * 1000 %}'
        '{% for d in "x" * 1000 %}.{% endfor %}{% endfor %}{% endfor %}{% endfor %}',
        "would repeat more than 10,000 times",
    ),
    "a busy loop": (
        '{% for a in "x" * 100 %}{% for b in "x" * 90 %}'
        + "{% if first_name == last_name %}{% endif %}" * 30
        + "{% endfor %}{% endfor %}",
        "would do too much",
    ),
    "huge output": ('{% for a in "x" * 1000 %}' + "y" * 1001 + "{% endfor %}", "longer than 1,000,000"),
    "huge merged output": (
        '{% for a in "x" * 1000 %}{{ "y" * 1000 }}{{ first_name }}{% endfor %}',
        "longer than 1,000,000",
    ),
}


@pytest.mark.parametrize("source, message", HOGS.values(), ids=HOGS)
def test_a_template_that_would_exhaust_the_server_is_refused_when_checked(source, message):
    with pytest.raises(rendering.TemplateError, match=message):
        rendering.check_template(source)


@pytest.mark.parametrize("source, message", HOGS.values(), ids=HOGS)
def test_saving_a_template_that_would_exhaust_the_server_is_refused_beside_the_field(
    page_as, marketer, source, message
):
    response = page_as(marketer).post(
        "/nurturing/templates/new/",
        {"name": "Hog", "subject": "Hi", "html_body": f"<p>{source}</p>", "text_body": source},
    )

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message in errors["html_body"][0]
    assert message in errors["text_body"][0]
    assert not EmailTemplate.objects.exists()


@pytest.mark.parametrize("source, message", HOGS.values(), ids=HOGS)
def test_a_template_saved_around_the_editor_stops_at_the_limits_when_rendered(source, message):
    template = EmailTemplate.objects.create(name="Hog", subject="Hi", html_body=f"<p>{source}</p>")
    context = rendering.merge_context(LeadFactory(), unsubscribe_url="#", preferences_url="#")

    with pytest.raises(rendering.TemplateError, match=message):
        rendering.render(template, context)
    with pytest.raises(rendering.TemplateError, match=message):
        rendering.render_string(source, context, autoescape=False)


def test_the_line_that_goes_past_a_limit_is_named():
    source = "Hi {{ first_name }},\n" + DOUBLED + "\n" + "{% set a = a ~ a %}" * 18

    with pytest.raises(rendering.TemplateError, match=f"^Line 3: a text built by this template {TOO_LONG}"):
        rendering.check_template(source)


def test_a_limit_only_some_leads_data_reaches_is_refused_when_rendered_for_them():
    source = (
        DOUBLED + '{% if custom.plan == "enterprise" %}{{ ' + " ~ ".join(["a"] * 101) + " }}{% endif %}"
        "{% for a in custom.notes %}{% for b in custom.notes %}.{% endfor %}{% endfor %}"
    )
    rendering.check_template(source)  # fine for the sample lead: saved
    render = rendering.render_string

    assert render(source, context_for(custom={"plan": "pro", "notes": "ab"}), autoescape=False) == "...."
    with pytest.raises(rendering.TemplateError, match=TOO_LONG):
        render(source, context_for(custom={"plan": "enterprise"}), autoescape=False)
    with pytest.raises(rendering.TemplateError, match="more than 10,000 times"):
        render(source, context_for(custom={"notes": "n" * 1000}), autoescape=False)


def test_ordinary_templates_keep_working_within_the_limits(page_as, marketer):
    html_body = (
        '<p>Hi {{ first_name ~ " " ~ last_name }},</p>\n<ul>{% for item in ["Reports", "Alerts"] %}'
        '<li>{{ item ~ " for " ~ (company_name or "your team") }}</li>{% endfor %}</ul>\n'
        '<p>Plan: {{ custom.plan or "free" }} ({{ custom["seats"]|default("a few") }} seats), '
        '{{ score + 5 }} points</p>\n<p>{{ "-" * 40 }}</p>'
    )
    lead = LeadFactory(first_name="Ann", last_name="Lee", company_name="", custom={"plan": "pro"})
    template = EmailTemplate(name="t", subject='{{ first_name ~ ", " ~ "hello" }}', html_body=html_body)

    rendered = rendering.render(template, rendering.merge_context(lead, unsubscribe_url="#"))

    assert rendered.subject == "Ann, hello"
    assert rendered.html == (
        "<p>Hi Ann Lee,</p>\n<ul><li>Reports for your team</li><li>Alerts for your team</li></ul>\n"
        f"<p>Plan: pro (a few seats), 5 points</p>\n<p>{'-' * 40}</p>"
    )
    response = page_as(marketer).post(
        "/nurturing/templates/new/", {"name": "Fine", "subject": "Hi", "html_body": html_body}
    )
    assert response.status_code == 302
    assert EmailTemplate.objects.get().name == "Fine"


def context_for(**lead_fields) -> dict:
    return rendering.merge_context(LeadFactory.build(**lead_fields), unsubscribe_url="#", preferences_url="#")
