"""The HTML of a template is cleaned when it is saved: what could run code goes, what an e-mail
needs stays, and the merge tags stay exactly as the marketer wrote them."""

import pytest

from nurturing import rendering
from nurturing.models import EmailTemplate
from nurturing.sanitize import MergeTagError, clean_html

pytestmark = pytest.mark.django_db


def save(client, html_body: str, **fields):
    data = {"name": "Welcome", "subject": "Hello", "preheader": "", "html_body": html_body, "text_body": ""}
    return client.post("/nurturing/templates/new/", {**data, **fields})


def test_scripts_event_handlers_and_javascript_links_are_removed_on_save(page_as, marketer):
    response = save(
        page_as(marketer),
        '<p onclick="steal()">Hi</p><script>steal()</script>'
        '<a href="javascript:steal()">Win</a><a href="JaVaScRiPt:steal()">Win again</a>'
        '<img src="data:image/png;base64,AAAA" onerror="steal()" alt="logo">',
    )

    assert response.status_code == 302
    saved = EmailTemplate.objects.get().html_body
    assert saved == '<p>Hi</p><a>Win</a><a>Win again</a><img alt="logo">'


def test_frames_objects_and_forms_are_removed_with_their_content():
    cleaned = clean_html(
        '<iframe src="https://evil.example"></iframe><object data="x.swf">flash</object>'
        '<form action="https://evil.example"><input name="password">Password</form><p>Kept</p>'
    )

    assert cleaned == "<p>Kept</p>"


def test_tables_inline_styles_and_email_attributes_are_kept():
    source = (
        '<table width="600" cellpadding="0" cellspacing="0" border="0" bgcolor="#ffffff" align="center">'
        '<tr><td valign="top" style="padding:16px;font-family:Arial"><h1 style="color:#333">Title</h1>'
        '<font face="Arial" color="#666666" size="2">Text</font><center><b>B</b> <i>I</i> <u>U</u></center>'
        '<ul><li>One</li></ul><hr><img src="https://example.com/logo.png" alt="Logo" width="120" height="40">'
        '<a href="https://example.com/?a=1&amp;b=2">Link</a> <a href="mailto:hi@example.com">Mail</a> '
        '<a href="tel:+4930123">Call</a> <a href="/pricing">Pricing</a></td></tr></table>'
    )

    cleaned = clean_html(source)

    assert cleaned == source.replace("<tr>", "<tbody><tr>").replace("</tr>", "</tr></tbody>")


def test_unsafe_inline_styles_are_removed():
    cleaned = clean_html(
        '<p style="width: expression(alert(1))">a</p><p style="background:url(javascript:alert(1))">b</p>'
        '<p style="color:red">c</p>'
    )

    assert cleaned == '<p>a</p><p>b</p><p style="color:red">c</p>'


def test_merge_tags_are_kept_exactly_in_text_attributes_and_around_blocks():
    source = (
        '<p>Hi {{ first_name or "there" }} & welcome</p>'
        "<p title=\"{{ first_name or 'friend' }}\">{% if score > 50 %}You are hot{% endif %}</p>"
        '{% if industry == "software" %}<table><tr><td>For SaaS</td></tr></table>{% endif %}'
        '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'
        '<p style="color: {% if grade == "A" %}green{% else %}gray{% endif %}">Grade</p>'
    )

    cleaned = clean_html(source)

    assert '{{ first_name or "there" }}' in cleaned
    assert "{{ first_name or 'friend' }}" in cleaned
    assert "{% if score > 50 %}You are hot{% endif %}" in cleaned
    assert '{% if industry == "software" %}<table>' in cleaned
    assert "</table>{% endif %}" in cleaned
    assert '<a href="{{ unsubscribe_url }}">' in cleaned
    assert 'style="color: {% if grade == "A" %}green{% else %}gray{% endif %}"' in cleaned
    rendering.check_template(cleaned)
    assert clean_html(cleaned) == cleaned  # saving again changes nothing


def test_a_loop_over_table_rows_stays_inside_the_table():
    cleaned = clean_html("<table>{% for key in custom %}<tr><td>{{ key }}</td></tr>{% endfor %}</table>")

    assert cleaned.startswith("<table>{% for key in custom %}")
    assert cleaned.endswith("{% endfor %}</tbody></table>")


def test_quotes_escaped_by_an_html_editor_inside_merge_tags_are_read_back():
    assert (
        clean_html("<p>Hi {{ first_name or &quot;there&quot; }}</p>")
        == '<p>Hi {{ first_name or "there" }}</p>'
    )


def test_html_comments_go_with_what_they_hide():
    assert clean_html("<!-- note {{ email }} --><p>x</p><!--[if mso]><table><![endif]-->") == "<p>x</p>"


def test_a_merge_tag_cannot_complete_a_javascript_link():
    assert clean_html('<a href="java{{ first_name }}script:alert(1)">x</a>') == "<a>x</a>"


def test_a_block_inside_a_tag_between_its_attributes_is_refused(page_as, marketer):
    response = save(page_as(marketer), '<td {% if industry == "software" %}bgcolor="red"{% endif %}>x</td>')

    assert response.status_code == 400
    assert "would be removed with the HTML around it" in response.context["form"].errors["html_body"][0]
    assert not EmailTemplate.objects.exists()


def test_a_block_the_browser_would_move_out_of_a_table_is_refused():
    with pytest.raises(MergeTagError, match="rearranged"):
        clean_html(
            '<table><tr><td>a</td></tr>{% if industry == "software" %}Only for SaaS{% endif %}</table>'
        )


def test_a_block_opened_in_an_attribute_must_end_there():
    with pytest.raises(MergeTagError, match="title attribute of <p>"):
        clean_html('<p title="{% if score > 5 %}hot">x{% endif %}</p>')


def test_what_is_rendered_is_cleaned_again_whatever_the_leads_data(make_user):
    template = EmailTemplate(name="t", subject="s", html_body='<a href="{{ custom.website }}">Our site</a>')
    context = {name: "" for name in rendering.MERGE_FIELDS}
    context["custom"] = rendering._Custom({"website": "javascript:alert(document.cookie)"})

    html = rendering.render(template, context).html

    assert html == "<a>Our site</a>"
