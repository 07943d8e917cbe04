import pytest
from leads.tests.factories import LeadFactory
from leads.forms import LeadForm

@pytest.mark.django_db
def test_probe(sdr, page_as):
    lead = LeadFactory(country="DE")
    f = LeadForm(instance=lead)
    print({k: f[k].value() for k in f.fields})
    c = page_as(sdr)
    r = c.get(f"/leads/{lead.pk}/edit/")
    import re
    print(re.findall(r'<textarea[^>]*>.*?</textarea>', r.content.decode(), re.S))
    data = {"email": lead.email, "first_name": "A", "source": "other", "stage": "new", "custom": "[1, 2]"}
    r = c.post(f"/leads/{lead.pk}/edit/", data)
    print(r.status_code); lead.refresh_from_db(); print(lead.custom)
    data["custom"] = ""
    try:
        r = c.post(f"/leads/{lead.pk}/edit/", data); print(r.status_code)
    except Exception as e:
        print("EXC", type(e), e)
