"""A UTF-8 file with a byte order mark (Excel's "CSV UTF-8") imports like one without."""

import pytest

from leads.models import Lead
from leads.tests.importing import run, uploaded

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("bom", ["\ufeff", ""], ids=["with BOM", "without BOM"])
def test_the_first_header_is_recognized_with_or_without_bom(page_as, marketer, bom):
    client = page_as(marketer)
    content = bom + "Email,First Name,Company\nzoe@example.com,Zoë,Café Müller\n"

    lead_import = uploaded(client, content)
    assert lead_import.headers == ["Email", "First Name", "Company"]
    assert lead_import.mapping["Email"] == "email"

    lead_import = run(client, lead_import)
    assert lead_import.created_count == 1
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.company_name) == ("zoe@example.com", "Zoë", "Café Müller")
    assert lead.created_via == "import"
