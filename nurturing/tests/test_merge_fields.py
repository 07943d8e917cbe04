"""What a lead reads: merge fields filled in, fallbacks for what a lead lacks, personalized
blocks only for the leads they fit, custom attributes, and lead data escaped in the HTML body
(never shown as markup) but written as it is in the subject and the plain text."""

import pytest

from leads.tests.factories import LeadFactory
from nurturing import rendering
from nurturing.models import EmailTemplate

pytestmark = pytest.mark.django_db


def render_for(lead, **fields) -> rendering.Rendered:
    template = EmailTemplate(**{"name": "t", "subject": "Hello", "html_body": "<p>x</p>", **fields})
    return rendering.render(template, rendering.merge_context(lead, unsubscribe_url="#", preferences_url="#"))


def test_a_fallback_stands_in_for_a_missing_first_name():
    anonymous, ann = LeadFactory(first_name=""), LeadFactory(first_name="Ann")
    body = '<p>Hi {{ first_name or "there" }},</p>'

    assert render_for(anonymous, html_body=body).html == "<p>Hi there,</p>"
    assert render_for(ann, html_body=body).html == "<p>Hi Ann,</p>"
    assert render_for(anonymous, subject='Hi {{ first_name or "there" }}').subject == "Hi there"


def test_a_personalized_block_is_shown_only_to_the_leads_it_fits():
    body = (
        '<p>Hello</p>{% if industry == "software" %}<p>How SaaS teams use us</p>'
        "{% else %}<p>What we do</p>{% endif %}"
    )
    saas, bank = LeadFactory(industry="software"), LeadFactory(industry="finance")

    assert render_for(saas, html_body=body).html == "<p>Hello</p><p>How SaaS teams use us</p>"
    assert render_for(bank, html_body=body).html == "<p>Hello</p><p>What we do</p>"


def test_a_lead_named_like_markup_is_escaped_in_the_html_but_not_in_the_subject_or_text():
    lead = LeadFactory(first_name="<script>alert(1)</script>", company_name='Smith & "Sons"')
    result = render_for(
        lead,
        subject="For {{ first_name }} at {{ company_name }}",
        html_body="<p>Hi {{ first_name }} at {{ company_name }}</p>",
        text_body="Hi {{ first_name }} at {{ company_name }}",
    )

    assert "<script>" not in result.html
    assert result.html == '<p>Hi &lt;script&gt;alert(1)&lt;/script&gt; at Smith &amp; "Sons"</p>'
    assert result.subject == 'For <script>alert(1)</script> at Smith & "Sons"'
    assert result.text == 'Hi <script>alert(1)</script> at Smith & "Sons"'


def test_lead_data_in_an_attribute_cannot_break_out_of_it():
    lead = LeadFactory(first_name='x" onmouseover="alert(1)')

    html = render_for(lead, html_body='<p title="{{ first_name }}">Hi</p>').html

    assert html == '<p title="x&quot; onmouseover=&quot;alert(1)">Hi</p>'


def test_custom_attributes_and_their_fallbacks():
    pro, free = LeadFactory(custom={"plan": "pro", "seats": 25}), LeadFactory(custom={})
    body = '<p>Plan: {{ custom.plan or "free" }}, seats: {{ custom["seats"]|default("a few") }}</p>'

    assert render_for(pro, html_body=body).html == "<p>Plan: pro, seats: 25</p>"
    assert render_for(free, html_body=body).html == "<p>Plan: free, seats: a few</p>"


def test_a_blank_plain_text_part_is_made_from_the_rendered_html():
    lead = LeadFactory(first_name="Ann")

    result = render_for(
        lead,
        html_body='<p>Hi {{ first_name }},</p><p>Read <a href="https://example.com/guide">the guide</a>.</p>',
    )

    assert result.text == "Hi Ann,\n\nRead the guide (https://example.com/guide).\n"


def test_the_unsubscribe_link_is_the_one_given_for_the_message():
    lead = LeadFactory()
    template = EmailTemplate(
        name="t", subject="s", html_body='<a href="{{ unsubscribe_url }}">Unsubscribe</a>'
    )
    context = rendering.merge_context(
        lead, unsubscribe_url="https://leadapp.example/e/u/abc/", preferences_url="#"
    )

    assert (
        rendering.render(template, context).html
        == '<a href="https://leadapp.example/e/u/abc/">Unsubscribe</a>'
    )


def test_a_block_left_out_of_the_plain_text_leaves_no_gap():
    text_body = 'Hi {{ first_name }},\n\n{% if industry == "software" %}\nSaaS tips\n{% endif %}\n\nBye\n'

    assert render_for(LeadFactory(first_name="Bob", industry="finance"), text_body=text_body).text == (
        "Hi Bob,\n\nBye\n"
    )
    assert render_for(LeadFactory(first_name="Ann", industry="software"), text_body=text_body).text == (
        "Hi Ann,\n\n\nSaaS tips\n\n\nBye\n".replace("\n\n\n", "\n\n")
    )
